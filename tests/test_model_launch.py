"""model.launch: local multi-worker runs (a real two-worker training) and the Vertex AI job spec."""

import glob
import json
import os
import sys
import textwrap
import time

import pytest

from model import callbacks, launch, storage, vertex

import model_helpers

TRAIN_ARGS = ["--data_dir", "gs://bucket/out", "--model_dir", "gs://bucket/model", "--epochs", "5"]


def test_vertex_dry_run_prints_the_job_without_submitting(capsys):
    status = launch.run(["--vertex", "--project", "my-project", "--region", "europe-west4",
                         "--image", "europe-docker.pkg.dev/p/r/videoqa:1", "--machine_type", "n1-standard-8",
                         "--accelerator", "NVIDIA_TESLA_T4:2", "--workers", "3", "--dry_run", "--", *TRAIN_ARGS])
    assert status == 0
    spec = json.loads(capsys.readouterr().out)
    assert spec["project"] == "my-project" and spec["location"] == "europe-west4"
    chief, workers = spec["job_spec"]["worker_pool_specs"]
    assert chief["replica_count"] == 1 and workers["replica_count"] == 2
    for pool in (chief, workers):
        assert pool["machine_spec"] == {"machine_type": "n1-standard-8",
                                        "accelerator_type": "NVIDIA_TESLA_T4", "accelerator_count": 2}
        assert pool["container_spec"]["image_uri"] == "europe-docker.pkg.dev/p/r/videoqa:1"
        assert pool["container_spec"]["command"] == ["python", "-m", "model.train"]
        assert pool["container_spec"]["args"] == TRAIN_ARGS
    assert "google.cloud.aiplatform" not in sys.modules


def test_vertex_single_machine_and_bad_flags(capsys):
    spec = vertex.job_spec("p", "r", "image", "n1-standard-4", "", 1, TRAIN_ARGS)
    assert len(spec["job_spec"]["worker_pool_specs"]) == 1
    assert "accelerator_type" not in spec["job_spec"]["worker_pool_specs"][0]["machine_spec"]
    assert launch.run(["--vertex", "--project", "p", "--region", "r", "--image", "i",
                       "--accelerator", "T4", "--dry_run", "--", *TRAIN_ARGS]) == 2
    assert "TYPE:COUNT" in capsys.readouterr().err
    assert launch.run(["--vertex", "--region", "r", "--image", "i", "--dry_run", "--", *TRAIN_ARGS]) == 2
    assert "--project is required" in capsys.readouterr().err


def test_local_cluster_configs_name_every_worker():
    configs = launch.local_tf_configs(3)
    addresses = configs[0]["cluster"]["worker"]
    assert len(set(addresses)) == 3 and all(address.startswith("localhost:") for address in addresses)
    assert [config["task"] for config in configs] == [{"type": "worker", "index": index} for index in range(3)]
    assert all(config["cluster"] == configs[0]["cluster"] for config in configs)


def test_a_failing_worker_is_reported_and_the_others_are_stopped(tmp_path, capsys):
    marker = tmp_path / "survivor-finished"
    worker = textwrap.dedent(f"""
        import json, os, sys, time
        index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
        if index == 0:
            time.sleep(0.5)
            sys.exit(3)
        time.sleep(60)
        open({str(marker)!r}, "w").close()
    """)
    started = time.monotonic()
    status = launch.run_local(2, [], poll_seconds=0.1, command=[sys.executable, "-c", worker])
    assert status == 3
    assert time.monotonic() - started < 30
    assert not marker.exists()
    captured = capsys.readouterr()
    assert "worker 0 exited with status 3" in captured.err


@pytest.mark.full  # two TensorFlow worker processes: make test-all
def test_two_worker_training_on_localhost_writes_one_model(pipeline_output, tmp_path):
    model_dir = str(tmp_path / "model")
    flags = model_helpers.train_flags(pipeline_output, model_dir, "lstm", epochs=2)
    result = model_helpers.run_module("model.launch", "--local_workers", "2", "--", *flags, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "all 2 workers finished" in result.stdout
    assert "MultiWorkerMirroredStrategy" in result.stdout or "CollectiveAllReduceStrategy" in result.stdout
    assert "with 2 replica(s)" in result.stdout
    assert result.stdout.count("exported ") == 1  # Only the chief exports.
    history = callbacks.read_history(model_dir)
    assert [entry["epoch"] for entry in history["epochs"]] == [1, 2] and history["completed"]
    for name in (storage.FINAL_WEIGHTS_FILE, storage.BEST_WEIGHTS_FILE, storage.CONFIG_FILE):
        assert os.path.isfile(os.path.join(model_dir, name))
    assert os.path.isfile(os.path.join(model_dir, storage.EXPORT_DIR, "saved_model.pb"))
    leftovers = [path for path in glob.glob(os.path.join(model_dir, "**", "*"), recursive=True)
                 + glob.glob(os.path.join(model_dir, ".*"))
                 if "workertemp" in path or storage.WORKER_TEMP_PREFIX in path or ".tmp-" in path]
    assert leftovers == []
    assert sorted(os.listdir(os.path.join(model_dir, storage.CHECKPOINTS_DIR))) == [
        "epoch-001.weights.h5", "epoch-002.weights.h5"]
