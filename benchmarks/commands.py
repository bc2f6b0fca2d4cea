"""The project's real command lines, as a user would type them, for the benchmarks to run.

Every command runs with this interpreter, from the repository root, with the
repository on PYTHONPATH and TensorFlow's C++ logging quiet. Nothing here
runs anything: `benchmarks.procs.run_measured` does.
"""

import json
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CNN_WEIGHTS = "random"  # No internet here: ImageNet weights cannot be downloaded.


def child_env(extra=None):
    """Environment for child processes."""
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO_ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def module(name, *args):
    """`python -m name args...` with this interpreter."""
    return [sys.executable, "-m", name, *[str(arg) for arg in args]]


def synthetic(output_dir, num_videos, seed, seconds=None):
    command = module("pipeline.synthetic", "--output_dir", output_dir, "--num_videos", num_videos,
                     "--seed", seed)
    if seconds is not None:
        command += ["--seconds", str(seconds)]
    return command


def pipeline(annotations, video_dir, output_dir, image_size, frames_per_video, feature_dtype,
             inference_batch_size, workers=None, running_mode="multi_processing"):
    """`python -m pipeline.run` on the DirectRunner.

    workers=None: Beam's default in-process runner (one process);
    workers=N: --direct_running_mode=<running_mode> --direct_num_workers=N.
    """
    command = module(
        "pipeline.run", "--annotations", annotations, "--video_dir", video_dir,
        "--video_pattern", "video{video_id}.mp4", "--output_dir", output_dir,
        "--cnn_weights", CNN_WEIGHTS, "--image_size", image_size,
        "--frames_per_video", frames_per_video, "--feature_dtype", feature_dtype,
        "--inference_batch_size", inference_batch_size, "--overwrite")
    if workers is not None:
        command += [f"--direct_running_mode={running_mode}", f"--direct_num_workers={workers}"]
    return command


def train(data_dir, model_dir, epochs, batch_size, seed=0, export=False):
    command = module("model.train", "--data_dir", data_dir, "--model_dir", model_dir,
                     "--epochs", epochs, "--batch_size", batch_size, "--seed", seed, "--verbose", 2)
    if not export:
        command.append("--no_export")
    return command


def export(model_dir, data_dir):
    return module("model.export", "--model_dir", model_dir, "--data_dir", data_dir)


def predict(model_dir, video, questions):
    command = module("model.predict", "--model_dir", model_dir, "--video", video, "--json")
    for question in questions:
        command += ["--question", question]
    return command


def child(benchmark_module, json_out, *args):
    """`python -m benchmarks.<module> --json_out FILE args...`: one measurement in a fresh process."""
    return module(f"benchmarks.{benchmark_module}", "--json_out", json_out, *args)


def write_result(json_out, result):
    """What a child measurement (`child(...)`) hands back: its result dict as JSON."""
    with open(json_out, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=1)
    return result
