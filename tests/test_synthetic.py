"""The synthetic data set: real decodable clips, reversal twins, MSRVTT-QA layout, determinism."""

import json
import os
import subprocess
import sys

import av
import numpy as np
import pytest

from features import sampling, schema, video
from pipeline import synthetic

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QA_KEYS = ["question", "answer", "video_id", "id", "question_type"]
NUM_VIDEOS = 12  # 6 pairs: 4 train, 1 val, 1 test.
FLIPPED = {forward: backward for forward, backward in synthetic.scenes.EVENT_ANSWERS.values()}
FLIPPED.update({backward: forward for forward, backward in FLIPPED.items()})


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    output_dir = str(tmp_path_factory.mktemp("synthetic"))
    summary = synthetic.generate(output_dir, NUM_VIDEOS, seed=7)
    return output_dir, summary


def load_questions(output_dir):
    """{split: rows} from the three annotation files."""
    questions = {}
    for split in schema.SPLITS:
        with open(os.path.join(output_dir, f"{split}_qa.json"), encoding="utf-8") as qa_file:
            questions[split] = json.load(qa_file)
    return questions


def video_path(output_dir, video_id):
    return os.path.join(output_dir, "videos", f"video{video_id}.mp4")


def all_frames(path):
    """Every frame of a clip, decoded by the project's decoder (48 frames at 96x96)."""
    decoded = video.decode_video(path, sampling.SamplingConfig(48), 96)
    assert decoded.num_frames == decoded.total_frames == 48
    return decoded.frames.astype(np.int16)


def test_videos_exist_and_decode(dataset):
    output_dir, summary = dataset
    for video_id in range(NUM_VIDEOS):
        path = video_path(output_dir, video_id)
        decoded = video.decode_video(path, sampling.SamplingConfig(16), 96)
        assert decoded.frames.shape == (16, 96, 96, 3)
        assert decoded.frames.dtype == np.uint8
        assert (decoded.width, decoded.height, decoded.total_frames) == (160, 120, 48)
        assert decoded.duration == pytest.approx(2.0, abs=1e-3)
        with av.open(path) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert stream.codec_context.pix_fmt == "yuv420p"
    assert summary["frames_per_video"] == 48


def test_twins_are_reversals(dataset):
    output_dir, _ = dataset
    for pair in range(NUM_VIDEOS // 2):
        first = all_frames(video_path(output_dir, 2 * pair))
        second = all_frames(video_path(output_dir, 2 * pair + 1))
        # Worst frame's mean absolute difference, in 0..255 levels.
        reversed_difference = np.abs(second - first[::-1]).mean(axis=(1, 2, 3)).max()
        forward_difference = np.abs(second - first).mean(axis=(1, 2, 3)).max()
        assert reversed_difference < 3.0, (pair, reversed_difference)
        # The clip really changes over time, so the check above means something.
        assert forward_difference > 2 * reversed_difference, (pair, forward_difference)


def test_annotation_layout(dataset):
    output_dir, summary = dataset
    questions = load_questions(output_dir)
    rows = [row for split_rows in questions.values() for row in split_rows]
    assert len(rows) == 3 * NUM_VIDEOS
    for row in rows:
        assert list(row) == QA_KEYS
        assert isinstance(row["video_id"], int) and isinstance(row["id"], int)
        assert isinstance(row["question"], str) and row["question"].endswith("?")
        assert isinstance(row["answer"], str) and row["answer"]
        assert os.path.exists(video_path(output_dir, row["video_id"]))
    assert len({row["id"] for row in rows}) == len(rows)
    assert sorted({row["video_id"] for row in rows}) == list(range(NUM_VIDEOS))
    for video_id in range(NUM_VIDEOS):
        types = sorted(row["question_type"] for row in rows if row["video_id"] == video_id)
        order_types = [kind for kind in types if kind in synthetic.ORDER_QUESTION_TYPES]
        assert len(order_types) == 1
        assert types == sorted(order_types + list(synthetic.SINGLE_FRAME_QUESTION_TYPES))
    assert all(questions[split] for split in schema.SPLITS)
    assert summary["videos_per_split"] == {split: len(questions[split]) // 3 for split in schema.SPLITS}
    assert sum(summary["questions_per_type"].values()) == len(rows)
    with open(os.path.join(output_dir, synthetic.QUESTION_GROUPS_FILE), encoding="utf-8") as groups_file:
        groups = json.load(groups_file)
    assert set(groups["order"]) | set(groups["single_frame"]) == {row["question_type"] for row in rows}
    assert not set(groups["order"]) & set(groups["single_frame"])


def test_twins_share_split_and_flip_order_answers(dataset):
    output_dir, _ = dataset
    questions = load_questions(output_dir)
    split_of, by_video = {}, {}
    for split, rows in questions.items():
        for row in rows:
            split_of[row["video_id"]] = split
            by_video.setdefault(row["video_id"], {})[row["question_type"]] = row
    for pair in range(NUM_VIDEOS // 2):
        first, second = by_video[2 * pair], by_video[2 * pair + 1]
        assert split_of[2 * pair] == split_of[2 * pair + 1]
        assert first.keys() == second.keys()
        for question_type, row in first.items():
            assert row["question"] == second[question_type]["question"]
            if question_type in synthetic.ORDER_QUESTION_TYPES:
                assert second[question_type]["answer"] == FLIPPED[row["answer"]]
            else:
                assert second[question_type]["answer"] == row["answer"]


@pytest.mark.parametrize("num_videos, pairs_per_split", [
    (6, (1, 1, 1)), (24, (10, 1, 1)), (40, (16, 2, 2)), (200, (80, 10, 10))])
def test_every_split_gets_a_pair(num_videos, pairs_per_split):
    plans = synthetic.plan_pairs(num_videos // 2, seed=0)
    splits = [plan["split"] for plan in plans]
    assert tuple(splits.count(split) for split in schema.SPLITS) == pairs_per_split
    for split in schema.SPLITS:  # Event kinds are balanced within each split.
        kinds = [plan["kind"] for plan in plans if plan["split"] == split]
        counts = [kinds.count(kind) for kind in synthetic.ORDER_QUESTION_TYPES]
        assert max(counts) - min(counts) <= 1


def test_same_seed_same_data(tmp_path):
    first, second, other = (str(tmp_path / name) for name in ("a", "b", "c"))
    for output_dir, seed in ((first, 3), (second, 3), (other, 4)):
        synthetic.generate(output_dir, 12, seed, seconds=0.5)
    for split in schema.SPLITS:
        with open(os.path.join(first, f"{split}_qa.json"), "rb") as a_file, \
                open(os.path.join(second, f"{split}_qa.json"), "rb") as b_file:
            assert a_file.read() == b_file.read()
    for video_id in range(12):
        frames = [video.decode_video(video_path(output_dir, video_id), sampling.SamplingConfig(12), 96).frames
                  for output_dir in (first, second)]
        np.testing.assert_array_equal(frames[0], frames[1])
    assert load_questions(first) != load_questions(other)


def test_bad_arguments_are_refused(tmp_path):
    for num_videos in (0, 7):
        with pytest.raises(ValueError, match="even number"):
            synthetic.generate(str(tmp_path), num_videos, seed=0)
    for width, height in ((161, 120), (160, 16)):
        with pytest.raises(ValueError, match="even and at least 32"):
            synthetic.generate(str(tmp_path), 6, seed=0, width=width, height=height)


@pytest.mark.parametrize("codec, extension, fps", [
    ("libx264", "mp4", 30000 / 1001), ("mpeg4", "avi", 25), ("libvpx-vp9", "webm", 12), ("mjpeg", "avi", 10)])
def test_write_video_round_trip(tmp_path, codec, extension, fps):
    ys, xs = np.mgrid[0:64, 0:64]
    frames = np.stack([np.stack([xs * 4, ys * 4, np.full_like(xs, 10 * index)], -1)
                       for index in range(20)]).astype(np.uint8)  # Smooth ramps, changing over time.
    path = str(tmp_path / f"clip.{extension}")
    synthetic.write_video(path, frames, fps, codec=codec)
    decoded = video.decode_video(path, sampling.SamplingConfig(20), 64)
    assert decoded.total_frames == 20
    assert decoded.duration == pytest.approx(20 / fps, rel=0.02)
    assert np.abs(decoded.frames.astype(int) - frames.astype(int)).mean() < 4


def test_write_video_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="even width and height"):
        synthetic.write_video(str(tmp_path / "odd.mp4"), np.zeros((2, 15, 16, 3), np.uint8), 24)
    with pytest.raises(ValueError, match="uint8"):
        synthetic.write_video(str(tmp_path / "float.mp4"), np.zeros((2, 16, 16, 3), np.float32), 24)


def test_command_line(tmp_path):
    environment = dict(os.environ, PYTHONPATH=REPO_ROOT)
    command = [sys.executable, "-m", "pipeline.synthetic", "--output_dir", str(tmp_path),
               "--num_videos", "6", "--seed", "1", "--seconds", "0.5", "--width", "96", "--height", "64"]
    result = subprocess.run(command, cwd=REPO_ROOT, env=environment, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert "videos per split" in result.stdout and "questions per type" in result.stdout
    assert sorted(os.listdir(tmp_path / "videos")) == [f"video{index}.mp4" for index in range(6)]
    assert sum(len(rows) for rows in load_questions(str(tmp_path)).values()) == 18
    odd_count = [sys.executable, "-m", "pipeline.synthetic", "--output_dir", str(tmp_path / "odd"),
                 "--num_videos", "7"]
    refused = subprocess.run(odd_count, cwd=REPO_ROOT, env=environment, capture_output=True,
                             text=True, timeout=300)
    assert refused.returncode == 2 and "even number" in refused.stderr
