"""A training run killed after its first epoch resumes from its checkpoint; broken backups are reported."""

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from model import callbacks, storage, train

import model_helpers

pytestmark = [pytest.mark.slow, pytest.mark.full]  # kills and resumes training: make test-all

EPOCHS = 3


def wait_for(path, process, timeout):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if process.poll() is not None:
            raise AssertionError(f"training exited with {process.returncode} before {path} appeared:\n"
                                 + process.stdout.read()[-4000:])
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"{path} did not appear within {timeout} s")
        time.sleep(0.1)


def test_killed_run_resumes_and_broken_backups_are_reported(pipeline_output, tmp_path, capsys):
    model_dir = str(tmp_path / "model")
    flags = model_helpers.train_flags(pipeline_output, model_dir, "lstm", epochs=EPOCHS) + ["--no_export"]
    process = subprocess.Popen([sys.executable, "-m", "model.train", *flags], cwd=model_helpers.REPO_DIR,
                               env=model_helpers.command_environment(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    backup_state = os.path.join(model_dir, storage.BACKUP_DIR, callbacks.BACKUP_CHECKPOINT_SUBDIR, "checkpoint")
    wait_for(backup_state, process, timeout=300)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    finished = [entry["epoch"] for entry in callbacks.read_history(model_dir)["epochs"]]
    assert finished and finished[-1] < EPOCHS
    backup_copy = str(tmp_path / "backup-copy")
    shutil.copytree(os.path.join(model_dir, storage.BACKUP_DIR), backup_copy)

    resumed = model_helpers.run_module("model.train", *flags, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-4000:] + resumed.stderr[-4000:]
    assert f"resuming {model_dir} after epoch" in resumed.stdout
    assert "Epoch 1/" not in resumed.stdout
    assert f"Epoch {EPOCHS}/{EPOCHS}" in resumed.stdout
    history = callbacks.read_history(model_dir)
    assert [entry["epoch"] for entry in history["epochs"]] == list(range(1, EPOCHS + 1))
    assert history["completed"]
    assert os.path.isfile(os.path.join(model_dir, storage.FINAL_WEIGHTS_FILE))

    # The same backup, corrupted: training refuses with a clear message instead of resuming.
    for name, damage in (("corrupted", "flip"), ("partial", "drop_index")):
        broken_dir = str(tmp_path / name)
        shutil.copytree(model_dir, broken_dir)
        storage.write_json(os.path.join(broken_dir, storage.HISTORY_FILE), {"epochs": [], "completed": False})
        backup_dir = os.path.join(broken_dir, storage.BACKUP_DIR)
        shutil.copytree(backup_copy, backup_dir)
        checkpoint_dir = os.path.join(backup_dir, callbacks.BACKUP_CHECKPOINT_SUBDIR)
        if damage == "flip":
            data_file = [file for file in os.listdir(checkpoint_dir) if ".data-" in file][0]
            with open(os.path.join(checkpoint_dir, data_file), "r+b") as handle:
                handle.seek(os.path.getsize(handle.name) // 2)
                handle.write(b"\xff" * 64)
        else:
            for file in os.listdir(checkpoint_dir):
                if file.endswith(".index"):
                    os.remove(os.path.join(checkpoint_dir, file))
        broken_flags = model_helpers.train_flags(pipeline_output, broken_dir, "lstm", epochs=EPOCHS)
        assert train.run(broken_flags + ["--no_export"]) == 2
        error = capsys.readouterr().err
        assert "backup checkpoint" in error and name in error and "Traceback" not in error
        assert f"delete {backup_dir}" in error
