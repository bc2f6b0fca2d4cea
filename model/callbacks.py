"""Training callbacks and the backup checkpoint check.

  verify_backup       before training: is BackupAndRestore's checkpoint whole?
  Throughput          examples/s of each epoch's training steps, added to the logs
  HistoryRecorder     M/history.json, rewritten each epoch (resumes keep earlier epochs)
  BestWeights         M/best.weights.h5 + M/best.json when the monitored score improves;
                      the best score survives a resume because it is read from best.json

Only the chief writes M/history.json and M/best.*; other workers write the
best weights to a temporary directory that is removed (see BestWeights).
"""

import time

import tensorflow as tf
import tf_keras as keras

from model import storage
from model import strategy as strategy_lib

BACKUP_CHECKPOINT_SUBDIR = "chief"  # Where Keras's BackupAndRestore keeps its checkpoint.


class CheckpointError(ValueError):
    """A backup checkpoint that is partial or corrupted."""


def verify_backup(backup_dir):
    """Raise CheckpointError if BackupAndRestore's checkpoint in backup_dir is partial or corrupt.

    Returns the checkpoint prefix that will be restored, or None for a fresh start.
    """
    directory = storage.join(backup_dir, BACKUP_CHECKPOINT_SUBDIR)
    if not storage.exists(directory):
        return None
    state_file = storage.join(directory, "checkpoint")
    fix = (f"delete {backup_dir} to restart training from scratch (per-epoch weights stay in "
           f"{storage.CHECKPOINTS_DIR}/), or restore it from a copy")
    if not storage.exists(state_file):
        if tf.io.gfile.glob(storage.join(directory, "ckpt-*")):
            raise CheckpointError(f"the backup checkpoint in {directory} is partial: its "
                                  f"'checkpoint' state file is missing; {fix}")
        return None
    try:
        state = tf.train.get_checkpoint_state(directory)
    except (tf.errors.OpError, ValueError) as error:
        raise CheckpointError(f"the backup checkpoint state in {state_file} is corrupted "
                              f"({error}); {fix}") from None
    if state is None or not state.model_checkpoint_path:
        raise CheckpointError(f"the backup checkpoint state in {state_file} is corrupted "
                              f"(it names no checkpoint); {fix}")
    prefix = state.model_checkpoint_path
    if not storage.exists(prefix + ".index"):
        raise CheckpointError(f"the backup checkpoint {prefix} is partial: {prefix}.index is "
                              f"missing; {fix}")
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)  # Reading checks every tensor's CRC.
    except (tf.errors.OpError, ValueError, IndexError) as error:  # IndexError: a data file cut short.
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"the backup checkpoint {prefix} is corrupted or partial "
                              f"({message}); {fix}") from None
    return prefix


SAVED_EPOCH_KEY = "ckpt_saved_epoch/.ATTRIBUTES/VARIABLE_VALUE"


def completed_epochs(prefix):
    """Epochs finished when the backup checkpoint at `prefix` was written (0 if None)."""
    if prefix is None:
        return 0
    reader = tf.train.load_checkpoint(prefix)
    if not reader.has_tensor(SAVED_EPOCH_KEY):
        return 0
    return max(int(reader.get_tensor(SAVED_EPOCH_KEY)) + 1, 0)


class Throughput(keras.callbacks.Callback):
    """Adds `examples_per_second` (training steps only) and `epoch_seconds` to the epoch logs."""

    def __init__(self, global_batch_size):
        super().__init__()
        self.global_batch_size = global_batch_size
        self.epoch_start = None
        self.train_seconds = None
        self.steps = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.perf_counter()
        self.train_seconds = None
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps = batch + 1

    def on_test_begin(self, logs=None):
        if self.epoch_start is not None and self.train_seconds is None:
            self.train_seconds = time.perf_counter() - self.epoch_start

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        elapsed = time.perf_counter() - self.epoch_start
        train_seconds = self.train_seconds if self.train_seconds is not None else elapsed
        logs["examples_per_second"] = self.steps * self.global_batch_size / max(train_seconds, 1e-9)
        logs["epoch_seconds"] = elapsed


def _plain(logs):
    return {key: float(value) for key, value in (logs or {}).items()}


def read_history(model_dir):
    """The saved history dict ({'epochs': [...], 'completed': bool})."""
    path = storage.join(model_dir, storage.HISTORY_FILE)
    if not storage.exists(path):
        return {"epochs": [], "completed": False}
    return storage.read_json(path)


class HistoryRecorder(keras.callbacks.Callback):
    """Keeps M/history.json: one entry per finished epoch, 1-based, in order."""

    def __init__(self, model_dir, is_chief):
        super().__init__()
        self.model_dir = model_dir
        self.is_chief = is_chief

    def on_epoch_end(self, epoch, logs=None):
        if not self.is_chief:
            return
        history = read_history(self.model_dir)
        epochs = [entry for entry in history["epochs"] if entry["epoch"] < epoch + 1]
        epochs.append(dict(_plain(logs), epoch=epoch + 1))
        history.update(epochs=epochs, completed=False)
        storage.write_json(storage.join(self.model_dir, storage.HISTORY_FILE), history)


def mark_history_completed(model_dir):
    history = read_history(model_dir)
    history["completed"] = True
    storage.write_json(storage.join(model_dir, storage.HISTORY_FILE), history)


class BestWeights(keras.callbacks.Callback):
    """Saves the weights when `monitor` beats the best value so far (kept in M/best.json).

    `mode` "max" keeps the highest value (accuracy), "min" the lowest (MSE).

    Every worker saves (saving reads distributed variables, which all workers
    must do together); only the chief writes into model_dir, the others into a
    temporary directory removed at once. The best value is read from best.json
    when training starts, so a resumed run keeps the earlier best.
    """

    def __init__(self, model_dir, monitor, is_chief, task_index=0, mode="max"):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.model_dir = model_dir
        self.monitor = monitor
        self.mode = mode
        self.is_chief = is_chief
        self.task_index = task_index
        self.state_path = storage.join(model_dir, storage.BEST_STATE_FILE)
        self.best_value = None

    def on_train_begin(self, logs=None):
        self.best_value = None
        if storage.exists(self.state_path):
            state = storage.read_json(self.state_path)
            if state.get("monitor") == self.monitor:
                self.best_value = float(state["value"])

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or self.monitor not in logs:
            return
        value = float(logs[self.monitor])
        if self.best_value is not None and (value <= self.best_value if self.mode == "max"
                                            else value >= self.best_value):
            return
        self.best_value = value
        directory = strategy_lib.worker_write_dir(self.model_dir, self.is_chief, self.task_index)
        storage.save_weights(self.model, storage.join(directory, storage.BEST_WEIGHTS_FILE))
        if self.is_chief:
            storage.write_json(self.state_path, {"epoch": epoch + 1, "monitor": self.monitor,
                                                 "value": value})
        else:
            storage.remove_tree(directory)
