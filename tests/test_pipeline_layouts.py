"""MSVD-QA end to end, MSRVTT-QA and the generic JSONL/CSV form, hash splits, and the Dataflow dry run.

The other published layouts are tested in tests/test_layouts_*.py.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import shared_runs
from features import records, schema
from pipeline import annotations, paths, synthetic

# MSVD-QA as published: integer video_id, youtube_mapping.txt '<clip> vid<N>', YouTubeClips/<clip>.avi.
MSVD_CLIPS = {1: "-4wsuPCjDBc_5_15", 2: "zv2RIbUsnSw_159_169", 3: "ZbtpcGi2DWY_161_170"}
MSVD_QUESTIONS = {
    "train": [{"answer": "slice", "id": 0, "question": "what is a man doing?", "video_id": 1},
              {"answer": "man", "id": 1, "question": "who slices an onion?", "video_id": 1}],
    "val": [{"answer": "dance", "id": 2, "question": "what does a girl do?", "video_id": 2}],
    "test": [{"answer": "play", "id": 3, "question": "what is a cat doing?", "video_id": 3}],
}


def write_msvd_layout(root):
    clips_dir = os.path.join(root, "YouTubeClips")
    os.makedirs(clips_dir)
    rng = np.random.default_rng(5)
    for video_id, clip in MSVD_CLIPS.items():
        frames = rng.integers(0, 256, size=(20 + 5 * video_id, 48, 64, 3), dtype=np.uint8)
        synthetic.write_video(os.path.join(clips_dir, f"{clip}.avi"), frames, fps=15, codec="mpeg4")
    with open(os.path.join(root, "youtube_mapping.txt"), "w", encoding="utf-8") as mapping:
        for video_id, clip in MSVD_CLIPS.items():
            mapping.write(f"{clip} vid{video_id}\n")
    for split, rows in MSVD_QUESTIONS.items():
        with open(os.path.join(root, f"{split}_qa.json"), "w", encoding="utf-8") as qa_file:
            json.dump(rows, qa_file)
    return clips_dir


@pytest.mark.full  # two Beam worker processes, twice: make test-all
def test_msvd_qa_layout_on_the_multi_processing_direct_runner(tmp_path):
    """Two worker processes fill a feature cache; a second such run reuses every clip and writes the same
    records (tests/test_feature_cache_runs.py re-runs in one process)."""
    root = str(tmp_path / "msvd")
    clips_dir = write_msvd_layout(root)
    output_dir = str(tmp_path / "out")

    def run(output):
        return subprocess.run(
            [sys.executable, "-m", "pipeline.run", "--annotations", os.path.join(root, "*_qa.json"),
             "--video_dir", clips_dir, "--video_mapping", os.path.join(root, "youtube_mapping.txt"),
             "--output_dir", output, "--cnn_weights", "random", "--image_size", "75",
             "--frames_per_video", "4", "--feature_dtype", "uint8", "--feature_cache", str(tmp_path / "cache"),
             # A CNN batch smaller than one video: each video is embedded alone, in two calls.
             "--inference_batch_size", "3",
             "--direct_running_mode=multi_processing", "--direct_num_workers=2"],
            cwd=shared_runs.REPO_DIR, env=shared_runs.command_environment(), capture_output=True, text=True,
            timeout=600)

    completed = run(output_dir)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "input questions: 4 = written 4 + rejected 0" in completed.stdout
    assert f"videos embedded: {len(MSVD_CLIPS)}, reused from the feature cache: 0" in completed.stdout
    again = run(str(tmp_path / "again"))
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"videos embedded: 0, reused from the feature cache: {len(MSVD_CLIPS)}" in again.stdout
    assert shared_runs.read_serialized(str(tmp_path / "again")) == shared_runs.read_serialized(output_dir)
    written = shared_runs.read_parsed(output_dir)
    for split, rows in MSVD_QUESTIONS.items():
        parsed = written[split]
        assert sorted(example[schema.VIDEO_ID_KEY] for example in parsed) == sorted(
            {str(row["video_id"]) for row in rows})
        assert sorted(question for example in parsed for question in example[schema.QUESTION_KEY]) == sorted(
            row["question"] for row in rows)
        assert all(example[schema.NUM_FRAMES_KEY] == 4 for example in parsed)


def read_file(tmp_path, name, data, video_pattern="video{video_id}.mp4"):
    """Plan and read one annotation file as the pipeline does: (valid questions, errors)."""
    path = str(tmp_path / name)
    with open(path, "wb") as handle:
        handle.write(data)
    [source] = annotations.plan_sources([path], "auto", annotations.read_file_head)
    locate = paths.VideoLocator(str(tmp_path), video_pattern, None, layout=source.layout)
    config = annotations.ReadConfig(max_question_tokens=32)
    valid, errors, input_rows = annotations.read_source(source, lambda name: open(name, "rb").read(), config, locate)
    assert input_rows == len(valid) + len(errors)
    return source, valid, errors


def test_msrvtt_qa_rows_with_category_id_are_read_as_published(tmp_path):
    rows = [{"answer": "man", "category_id": 3, "id": 0, "question": "who is talking?", "video_id": 7010},
            {"answer": "car", "category_id": 9, "id": 1, "question": "what is shown?", "video_id": 7011}]
    source, valid, errors = read_file(tmp_path, "test_qa.json", json.dumps(rows).encode(), video_pattern=None)
    assert source.layout == "msrvtt_qa" and not errors
    assert [question.split for question in valid] == ["test", "test"]
    assert [question.question.question_type for question in valid] == ["who", "what"]
    assert valid[1].video_path == os.path.join(str(tmp_path), "video7011.mp4")


def test_jsonl_and_csv_with_split_and_type_fields_and_hash_splits(tmp_path):
    jsonl = "\n".join(json.dumps(row) for row in [
        {"question": "what grows?", "answer": "ball", "video_id": "a", "split": "val", "question_type": "change"},
        {"question": "what moves?", "answer": "car", "video_id": "b"},
    ]).encode()
    source, valid, errors = read_file(tmp_path, "my_questions.jsonl", jsonl)
    assert source.layout == "generic" and not errors
    assert (valid[0].split, valid[0].question.question_type) == ("val", "change")
    assert valid[1].split == annotations.split_from_hash("b") and not valid[1].split_is_explicit
    csv_data = "question,answer,video_id,split\nhow many cars?,two,c,train\n".encode()
    _, valid, errors = read_file(tmp_path, "questions.csv", csv_data)
    assert not errors and valid[0].split == "train" and valid[0].question.question_type == "how"
    tsv_data = "gif_name\tquestion\tanswer\tvideo_id\nx\twhat color?\tred\td\n".encode()
    _, valid, errors = read_file(tmp_path, "my_frameqa.tsv", tsv_data)
    assert not errors and valid[0].question.answer == "red" and valid[0].video_id == "d"


def test_hash_splits_are_stable_and_about_80_10_10():
    splits = [annotations.split_from_hash(str(video_id)) for video_id in range(5000)]
    assert splits == [annotations.split_from_hash(str(video_id)) for video_id in range(5000)]
    shares = {split: splits.count(split) / len(splits) for split in schema.SPLITS}
    assert abs(shares["train"] - 0.8) < 0.03 and abs(shares["val"] - 0.1) < 0.02


@pytest.mark.slow
def test_dataflow_dry_run_builds_the_job_offline(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "pipeline.run", "--annotations", "gs://my-bucket/msrvtt/*_qa.json",
         "--video_dir", "gs://my-bucket/msrvtt/videos", "--output_dir", "gs://my-bucket/features",
         "--runner=DataflowRunner", "--project=my-project", "--region=us-central1",
         "--temp_location=gs://my-bucket/tmp", "--setup_file=./setup.py", "--dry_run=True",
         # Every real Dataflow option passes the strict flag check (GPU workers, a worker image).
         "--sdk_container_image=us-docker.pkg.dev/my-project/videoqa/worker:1",
         "--dataflow_service_options=worker_accelerator=type:nvidia-l4;count:1;install-nvidia-driver",
         "--experiments=no_use_multiple_sdk_containers", "--machine_type=g2-standard-8", "--max_num_workers=20",
         "--cnn", "efficientnet_v2_b0", "--feature_cache", "gs://my-bucket/feature-cache"],
        cwd=shared_runs.REPO_DIR, env=shared_runs.command_environment(), capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "dry run: the job was built but not submitted" in completed.stderr
