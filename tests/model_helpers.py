"""Shared by tests/test_model_*.py: small training runs made once per session, and commands.

`trained_model_dir(data_dir, tmp_path_factory, encoder)` trains a small model
in this process the first time any test asks for that (data dir, encoder)
and returns the same model dir afterwards (`shared_runs.build_once`), so
several test modules share it.
"""

import hashlib
import math

from features import schema
from shared_runs import REPO_DIR, build_once, command_environment, run_module  # noqa: F401 (shared)

BATCH_SIZE = 16
# Enough optimiser steps for the small model to learn the order questions of
# the training split, whatever the synthetic set's size.
MIN_TRAINING_STEPS = 135
MIN_EPOCHS = 15
SMALL_MODEL_FLAGS = ["--video_units", "64", "--question_units", "32", "--embedding_dim", "32",
                     "--hidden_units", "64", "--dropout", "0", "--learning_rate", "0.003",
                     "--batch_size", str(BATCH_SIZE), "--progress", "epoch"]


def epochs_for(data_dir):
    from model import data
    steps = data.count_examples(data_dir, schema.TRAIN_SPLIT, in_vocabulary_only=True) // BATCH_SIZE
    return max(MIN_EPOCHS, math.ceil(MIN_TRAINING_STEPS / max(steps, 1)))


def train_flags(data_dir, model_dir, encoder="lstm", epochs=None):
    return ["--data_dir", data_dir, "--model_dir", model_dir, "--video_encoder", encoder,
            "--epochs", str(epochs or epochs_for(data_dir)), *SMALL_MODEL_FLAGS]


def trained_model_dir(data_dir, tmp_path_factory, encoder="lstm", export=False, extra_flags=()):
    """A model dir trained (in this process) on data_dir's train split, once per session."""
    name = "model-" + hashlib.sha256(repr((data_dir, encoder, export, tuple(extra_flags))).encode()).hexdigest()[:12]

    def build(model_dir):
        from model import train
        flags = train_flags(data_dir, model_dir, encoder) + list(extra_flags) + ([] if export else ["--no_export"])
        status = train.run(flags)
        if status != 0:
            raise RuntimeError(f"training the {encoder} model on {data_dir} failed with status {status}")
        return {"model_dir": model_dir}

    return build_once(tmp_path_factory, name, build)["model_dir"]


# A few epochs on a few clips: enough to show a model trains, evaluates, exports and answers, not to learn.
QUICK_TRAIN_FLAGS = ("--epochs", "2", "--batch_size", "4", "--transformer_layers", "1", "--transformer_width", "32",
                     "--transformer_heads", "2")


def quick_model_dir(data_dir, tmp_path_factory, encoder, extra_flags=()):
    """A quickly trained and exported model on data_dir, once per session (same flags: same model)."""
    return trained_model_dir(data_dir, tmp_path_factory, encoder, export=True,
                             extra_flags=QUICK_TRAIN_FLAGS + tuple(extra_flags))


def quick_train_flags(data_dir, model_dir, encoder, extra_flags=()):
    """The command line `quick_model_dir` trains with (to train again into a copy of its dir)."""
    return train_flags(data_dir, model_dir, encoder) + [*QUICK_TRAIN_FLAGS, *extra_flags]


def exported_model(pipeline_output, tmp_path_factory):
    """The session's open-ended lstm model on conftest's pipeline run, trained once, with its export (top 4)."""
    return trained_model_dir(pipeline_output, tmp_path_factory, "lstm", export=True, extra_flags=("--top_k", "4"))


def saved_function_library(model_dir):
    """The function library of M/export/saved_model.pb (functions, registered gradients), read as a proto."""
    import os

    from tensorflow.core.protobuf import saved_model_pb2

    from model import storage
    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(model_dir, storage.EXPORT_DIR, "saved_model.pb"), "rb") as handle:
        saved.ParseFromString(handle.read())
    return saved.meta_graphs[0].graph_def.library
