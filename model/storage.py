"""The model directory's layout and its file I/O.

Everything a training run writes lives under one `--model_dir` M:

  M/config.json            the run configuration (see `model.config`)
  M/history.json           per-epoch metrics, appended as training goes
  M/best.json              which epoch is the best so far, and its score
  M/best.weights.h5        weights of the best epoch on the validation split
  M/final.weights.h5       weights after the last epoch
  M/checkpoints/           one weights file per epoch
  M/backup/                BackupAndRestore's checkpoint (removed when training ends)
  M/logs/                  TensorBoard logs
  M/export/                the serving SavedModel (manifest.json in assets.extra/)
  M/eval/                  evaluation reports

Paths may be local, a /gcs/ mount or gs:// (through tf.io.gfile). Keras writes
HDF5 weights to local files only, so weights go through a local temporary file.
"""

import json
import os
import posixpath
import tempfile
import uuid

import tensorflow as tf

CONFIG_FILE = "config.json"
HISTORY_FILE = "history.json"
BEST_STATE_FILE = "best.json"
BEST_WEIGHTS_FILE = "best.weights.h5"
FINAL_WEIGHTS_FILE = "final.weights.h5"
CHECKPOINTS_DIR = "checkpoints"
EPOCH_WEIGHTS_PATTERN = "epoch-{epoch:03d}.weights.h5"
BACKUP_DIR = "backup"
LOGS_DIR = "logs"
EXPORT_DIR = "export"
EXPORT_EXTRA_DIR = "assets.extra"
EXPORT_MANIFEST_FILE = "manifest.json"
EXPORT_CONFIG_FILE = "config.json"
EVAL_DIR = "eval"
WORKER_TEMP_PREFIX = ".worker-temp-"


def join(directory, *parts):
    """Join with '/' for URLs (gs://...) and the OS separator for local paths."""
    if "://" in directory:
        return posixpath.join(directory, *parts)
    return os.path.join(directory, *parts)


def exists(path):
    return tf.io.gfile.exists(path)


def make_dirs(directory):
    tf.io.gfile.makedirs(directory)


def remove_tree(directory):
    if tf.io.gfile.exists(directory):
        tf.io.gfile.rmtree(directory)


def read_json(path):
    """The parsed JSON at `path`; ValueError naming the file if it is not JSON."""
    with tf.io.gfile.GFile(path, "r") as handle:
        content = handle.read()
    try:
        return json.loads(content)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); it may be truncated: delete it "
                         f"or use a new --model_dir") from None


def write_json(path, value):
    """Write `value` as indented JSON; readers never see a half-written file."""
    write_text(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


def write_text(path, text):
    temporary = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
    with tf.io.gfile.GFile(temporary, "w") as handle:
        handle.write(text)
    tf.io.gfile.rename(temporary, path, overwrite=True)


def save_weights(model, path):
    """model.save_weights as HDF5 at `path` (any filesystem), replaced atomically."""
    make_dirs(os.path.dirname(path) or ".")
    handle, local_path = tempfile.mkstemp(suffix=".weights.h5")
    os.close(handle)
    try:
        model.save_weights(local_path)
        temporary = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
        tf.io.gfile.copy(local_path, temporary, overwrite=True)
        tf.io.gfile.rename(temporary, path, overwrite=True)
    finally:
        os.remove(local_path)


def load_weights(model, path):
    """Load HDF5 weights into `model`; ValueError if the file is missing, partial or corrupt."""
    if not exists(path):
        raise ValueError(f"{path} not found: train a model into this --model_dir first "
                         f"(`python -m model.train --data_dir OUT --model_dir M`)")
    local_path, temporary = path, None
    if "://" in path:
        handle, temporary = tempfile.mkstemp(suffix=".weights.h5")
        os.close(handle)
        tf.io.gfile.copy(path, temporary, overwrite=True)
        local_path = temporary
    try:
        model.load_weights(local_path)
    except (OSError, KeyError, ValueError) as error:
        raise ValueError(
            f"{path} is corrupted, partial or from another model configuration ({error}); "
            f"re-run training to rewrite it, or use another --model_dir") from None
    finally:
        if temporary:
            os.remove(temporary)
