"""Shared by tests/test_model_*.py: small training runs made once per session, and commands.

`trained_model_dir(data_dir, tmp_path_factory, encoder)` trains a small model
in this process the first time a test asks for that (data dir, encoder) and
returns the same model dir afterwards, so several test modules share it.
"""

import math
import os
import subprocess
import sys

from features import schema

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATCH_SIZE = 16
# Enough optimiser steps for the small model to learn the order questions of
# the training split, whatever the synthetic set's size.
MIN_TRAINING_STEPS = 135
MIN_EPOCHS = 15
SMALL_MODEL_FLAGS = ["--video_units", "64", "--question_units", "32", "--embedding_dim", "32",
                     "--hidden_units", "64", "--dropout", "0", "--learning_rate", "0.003",
                     "--batch_size", str(BATCH_SIZE), "--progress", "epoch"]

_trained = {}


def epochs_for(data_dir):
    from model import data
    steps = data.count_examples(data_dir, schema.TRAIN_SPLIT, in_vocabulary_only=True) // BATCH_SIZE
    return max(MIN_EPOCHS, math.ceil(MIN_TRAINING_STEPS / max(steps, 1)))


def train_flags(data_dir, model_dir, encoder="lstm", epochs=None):
    return ["--data_dir", data_dir, "--model_dir", model_dir, "--video_encoder", encoder,
            "--epochs", str(epochs or epochs_for(data_dir)), *SMALL_MODEL_FLAGS]


def trained_model_dir(data_dir, tmp_path_factory, encoder="lstm"):
    """A model dir trained (in this process, without export) on data_dir's train split."""
    key = (data_dir, encoder)
    if key not in _trained:
        from model import train
        model_dir = str(tmp_path_factory.mktemp(f"model_{encoder}"))
        status = train.run(train_flags(data_dir, model_dir, encoder) + ["--no_export"])
        if status != 0:
            raise RuntimeError(f"training the {encoder} model failed with status {status}")
        _trained[key] = model_dir
    return _trained[key]


def command_environment(**extra):
    environment = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    environment["PYTHONPATH"] = os.pathsep.join(
        [REPO_DIR] + [path for path in environment.get("PYTHONPATH", "").split(os.pathsep) if path])
    environment.pop("TF_CONFIG", None)
    environment.update(extra)
    return environment


def run_module(module, *args, timeout=600, **popen_kwargs):
    """`python -m module args` from the repository; CompletedProcess with text output."""
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO_DIR, env=command_environment(),
                          capture_output=True, text=True, timeout=timeout, **popen_kwargs)
