"""Session fixtures shared by the test modules: one synthetic data set, one real pipeline run.

  synthetic_dataset   `pipeline.synthetic` output (real H.264 clips + *_qa.json, MSRVTT-QA layout)
  pipeline_run        `python -m pipeline.run` over it plus the bad inputs of
                      BAD_ROWS (appended to copies of the annotation files in
                      `annotations/`), run as the user runs it: a subprocess,
                      DirectRunner, random CNN weights, small frames, with a
                      feature cache (tests/test_feature_cache_runs.py re-runs it)
  pipeline_output     its output dir

Each is made once per session, also across pytest-xdist workers
(`shared_runs.build_once`), the first time a test asks for it.
"""

import json
import os
import sys

import pytest

from shared_runs import REPO_DIR, build_once, completed_to_dict, run_command

# 60 clips = 30 reversal twin pairs: 24 train, 3 val, 3 test. Enough for the
# small model to learn the order questions; small enough for a few minutes.
SYNTHETIC_NUM_VIDEOS = 60
SYNTHETIC_SEED = 11
# Small frames keep the random-weights CNN fast on two CPU cores.
PIPELINE_FLAGS = ["--cnn_weights", "random", "--image_size", "96", "--frames_per_video", "16",
                  "--feature_dtype", "float16"]


# Rows added to the synthetic annotations for `pipeline_output`: {split: [rows]}.
# Video ids 900x name files written by `write_bad_videos`; FIRST_VIDEO becomes
# the first video of the row's split; `expected` is a fragment of the reason
# the pipeline must give (None: the row is accepted).
FIRST_VIDEO = "first video of the split"
VAL_ONLY_ANSWER = "magenta"
TEST_ONLY_ANSWER = "purple"
BAD_ROWS = {
    "val": [
        {"id": 90001, "video_id": FIRST_VIDEO, "question": "what color is the sky?", "answer": VAL_ONLY_ANSWER,
         "expected": None},
    ],
    "test": [
        {"id": 90002, "video_id": FIRST_VIDEO, "question": "what color is the grass?", "answer": TEST_ONLY_ANSWER,
         "expected": None},
        {"id": 90003, "video_id": 9001, "question": "what is missing?", "answer": "nothing",
         "expected": "file not found"},
        {"id": 90004, "video_id": 9002, "question": "what is empty?", "answer": "nothing",
         "expected": "empty (0 bytes)"},
        {"id": 90005, "video_id": 9003, "question": "what is cut short?", "answer": "nothing",
         "expected": "truncated"},
        {"id": 90006, "video_id": 9004, "question": "what is text?", "answer": "nothing",
         "expected": "not a readable video"},
        {"id": 90007, "video_id": FIRST_VIDEO, "answer": "nothing", "expected": "question"},
        {"id": 90008, "video_id": FIRST_VIDEO, "question": "   ", "answer": "nothing", "expected": "empty"},
    ],
}


def write_bad_videos(videos_dir, good_video):
    """Files for the BAD_ROWS video ids: (9001 is left missing) empty, truncated, text."""
    open(os.path.join(videos_dir, "video9002.mp4"), "wb").close()
    with open(good_video, "rb") as source:
        content = source.read()
    with open(os.path.join(videos_dir, "video9003.mp4"), "wb") as truncated:
        truncated.write(content[:len(content) // 2])
    with open(os.path.join(videos_dir, "video9004.mp4"), "w", encoding="utf-8") as text_file:
        text_file.write("this is not a video, only text with a video's name\n" * 20)


def add_bad_inputs(data_dir):
    """Copy the annotations to data_dir/annotations with BAD_ROWS appended; write the bad videos."""
    annotations_dir = os.path.join(data_dir, "annotations")
    os.makedirs(annotations_dir, exist_ok=True)
    for split in ("train", "val", "test"):
        with open(os.path.join(data_dir, f"{split}_qa.json"), encoding="utf-8") as qa_file:
            rows = json.load(qa_file)
        for bad_row in BAD_ROWS.get(split, []):
            row = {key: value for key, value in bad_row.items() if key != "expected"}
            if row["video_id"] == FIRST_VIDEO:
                row["video_id"] = rows[0]["video_id"]
            rows.append(row)
        with open(os.path.join(annotations_dir, f"{split}_qa.json"), "w", encoding="utf-8") as qa_file:
            json.dump(rows, qa_file)
    write_bad_videos(os.path.join(data_dir, "videos"), os.path.join(data_dir, "videos", "video0.mp4"))
    return annotations_dir


def pipeline_command(data_dir, output_dir, *extra_flags, annotations_dir=None):
    """`python -m pipeline.run` on a synthetic-layout data dir, as a command line."""
    return [sys.executable, "-m", "pipeline.run",
            "--annotations", os.path.join(annotations_dir or data_dir, "*_qa.json"),
            "--video_dir", os.path.join(data_dir, "videos"),
            "--video_pattern", "video{video_id}.mp4",
            "--output_dir", output_dir, *PIPELINE_FLAGS, *extra_flags]


# The order pytest-xdist hands the test files out in (`--dist loadfile --no-loadscope-reorder`, see
# the Makefile): the longest first, so that no long file starts last while the other worker idles, and
# the first two build different session-wide runs (the mapped and TGIF-QA runs with their models, and
# the synthetic run with its model) instead of one worker waiting on the lock of the other's. Files not
# listed follow, in collection order. From `pytest --durations` on the 2-core CI machine.
LONGEST_FIRST = (
    "test_encoders_end_to_end", "test_serve_api", "test_robustness_model", "test_user_mistakes",
    "test_model_export", "test_model_encoders", "test_tasks_end_to_end", "test_features_contract",
    "test_model_train", "test_feature_cache_runs", "test_cli", "test_pipeline_stages", "test_robustness_pipeline",
)


def pytest_collection_modifyitems(config, items):
    rank = {module: index for index, module in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))  # Stable: files keep their own order.


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory):
    def build(directory):
        from pipeline import synthetic
        synthetic.generate(directory, SYNTHETIC_NUM_VIDEOS, seed=SYNTHETIC_SEED)
        add_bad_inputs(directory)
        return {"data_dir": directory}

    return build_once(tmp_path_factory, "synthetic_dataset", build)["data_dir"]


@pytest.fixture(scope="session")
def pipeline_run(synthetic_dataset, tmp_path_factory):
    """{"output_dir", "cache_dir", "command", "returncode", "stdout", "stderr"} of the session's run."""
    def build(directory):
        output_dir, cache_dir = os.path.join(directory, "out"), os.path.join(directory, "feature_cache")
        command = pipeline_command(synthetic_dataset, output_dir, "--feature_cache", cache_dir,
                                   annotations_dir=os.path.join(synthetic_dataset, "annotations"))
        completed = run_command(command)
        if completed.returncode != 0:
            raise RuntimeError(f"pipeline.run failed ({completed.returncode}):\n{completed.stderr[-5000:]}")
        return dict(completed_to_dict(completed), output_dir=output_dir, cache_dir=cache_dir, command=command)

    return build_once(tmp_path_factory, "pipeline_run", build)


@pytest.fixture(scope="session")
def pipeline_output(pipeline_run):
    return pipeline_run["output_dir"]
