"""The TGIF-QA-layout runs shared by tests/test_tasks_end_to_end.py and tests/test_encoders_end_to_end.py.

`pipeline.synthetic --layout tgif_qa` writes real GIFs and the four task
files once per session (`tgif_dataset`); `task_run` runs `python -m
pipeline.run` once per task over the Transition (multiple choice) or Count
files (in the test process: `shared_runs.run_pipeline_in_process`). Small
frames and a small CNN: these runs show the tasks work end to end, not how
well they are learnt.
"""

import csv
import os

from features import schema

import shared_runs

TGIF_VIDEOS = 24
TGIF_SEED = 3
PIPELINE_FLAGS = ["--cnn", "mobilenet_v3_large", "--cnn_weights", "random", "--image_size", "32",
                  "--frames_per_video", "8"]
TASK_FILES = {schema.TASK_MULTIPLE_CHOICE: "transition", schema.TASK_COUNT: "count"}


def tgif_dataset(tmp_path_factory):
    def build(directory):
        from pipeline import synthetic
        synthetic.generate(directory, TGIF_VIDEOS, seed=TGIF_SEED, layout="tgif_qa")
        return {"data_dir": directory}

    return shared_runs.build_once(tmp_path_factory, "tgif_dataset", build)["data_dir"]


def task_run(tmp_path_factory, task):
    dataset = tgif_dataset(tmp_path_factory)

    def build(directory):
        output_dir = os.path.join(directory, "out")
        completed = shared_runs.run_pipeline_in_process([
            "--annotations", os.path.join(dataset, f"*_{TASK_FILES[task]}_question.csv"),
            "--video_dir", os.path.join(dataset, "videos"), "--output_dir", output_dir, *PIPELINE_FLAGS])
        if completed["returncode"] != 0:
            raise RuntimeError(f"pipeline.run ({task}) failed:\n{completed['stderr'][-4000:]}")
        return dict(completed, output_dir=output_dir)

    return shared_runs.build_once(tmp_path_factory, f"tgif_{task}_run", build)


def first_test_row(dataset, task):
    with open(os.path.join(dataset, f"Test_{TASK_FILES[task]}_question.csv"), encoding="utf-8",
              newline="") as handle:
        return next(csv.DictReader(handle, delimiter="\t"))
