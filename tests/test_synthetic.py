"""The synthetic data set: real decodable clips, reversal twins, every benchmark layout, determinism."""

import collections
import csv
import functools
import json
import os
import re
import subprocess
import sys

import av
import numpy as np
import pytest

from features import sampling, schema, text, video
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


# ---------------------------------------------------------------------------
# The benchmark layouts (--layout): each written once per module, read back here
# with csv/json as the published files are read, checked against the samples in
# /work/shared/datasets/ and against what the decoded videos show.

SAMPLES_DIR = "/work/shared/datasets"
LAYOUT_VIDEOS = 8  # 4 pairs: 2/1/1 (TGIF-QA: 3 train, 1 test).
LAYOUT_SEED = 5
LAYOUT_SETTINGS = {"how2qa": {"seconds": 1.0}}  # 3 events of 24 frames; the rest at their defaults.
FORWARD_ANSWERS = {answers[0] for answers in synthetic.scenes.EVENT_ANSWERS.values()}
BACKWARD_ANSWERS = {answers[1] for answers in synthetic.scenes.EVENT_ANSWERS.values()}
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five")
# Question types as the pipeline's layout readers give them: TGIF-QA's FrameQA `type` by name,
# else the file's task (action, transition, count); ActivityNet-QA's `type` by name; NExT-QA's
# `type`; How2QA (no type): the first word.
TGIF_FRAMEQA_TYPES = ("object", "number", "color", "location")
ACTIVITYNET_TYPES = ("motion", "spatial", "temporal", "yes_no", "color", "object", "location", "number",
                     "other")
HOW2QA_FILES = {"train": "how2QA_train_release.csv", "val": "how2QA_val_release.csv",
                "test": "how2QA_test_public_release.csv"}


def first_line(path):
    with open(path, "rb") as data_file:
        return data_file.readline()


def csv_rows(path, delimiter=","):
    with open(path, encoding="utf-8", newline="") as csv_file:
        return list(csv.reader(csv_file, delimiter=delimiter))


def question(source, video, split, question_text, task, question_type, answer=None, candidates=(), answer_index=-1,
             count=-1, segment=None):
    """One question read back from the files, in one shape for every layout."""
    if candidates:
        assert 0 <= answer_index < len(candidates), (question_text, candidates, answer_index)
        answer = candidates[answer_index]
    if task == "count":
        answer = str(count)
    return {"source": source, "video": video, "split": split, "question": question_text, "task": task,
            "question_type": question_type, "answer": answer, "candidates": tuple(candidates),
            "answer_index": answer_index, "count": count, "segment": segment}


def read_tgif_qa(data_dir):
    rows = []
    tasks = {"action": "multiple_choice", "transition": "multiple_choice", "count": "count",
             "frameqa": "open_ended"}
    for split_name, split in (("Train", "train"), ("Test", "test")):
        for task_name, task in tasks.items():
            path = os.path.join(data_dir, f"{split_name}_{task_name}_question.csv")
            sample = os.path.join(SAMPLES_DIR, "tgif-qa", f"{split_name}_{task_name}_question.csv")
            if not os.path.exists(sample):  # No Train_{frameqa,transition} sample: same header as Test_.
                sample = os.path.join(SAMPLES_DIR, "tgif-qa", f"Test_{task_name}_question.csv")
            assert first_line(path) == first_line(sample)  # Header, tabs and CRLF exactly.
            with open(path, "rb") as raw_file:
                raw = raw_file.read()
            assert raw.count(b"\n") == raw.count(b"\r\n") > 1
            header, *body = csv_rows(path, delimiter="\t")
            for values in body:
                assert len(values) == len(header)
                row = dict(zip(header, values))
                video, question_text = f"videos/{row['gif_name']}.gif", row["question"]
                source = task_name
                assert row["vid_id"].startswith(("ACTION", "TRANS", "COUNT", "FRAMEQA")) and row["key"].isdigit()
                if task_name == "frameqa":
                    type_name = TGIF_FRAMEQA_TYPES[int(row["type"])]
                    rows.append(question(source, video, split, question_text, task, type_name,
                                         answer=row["answer"]))
                    assert row["description"].endswith(" .")
                elif task == "count":
                    assert row["answer"].isdigit()
                    rows.append(question(source, video, split, question_text, task, task_name,
                                         count=int(row["answer"])))
                else:
                    rows.append(question(source, video, split, question_text, task, task_name,
                                         answer_index=int(row["answer"]),
                                         candidates=[row[f"a{index}"] for index in range(1, 6)]))
    return rows


def read_next_qa(data_dir):
    sample_header = first_line(os.path.join(SAMPLES_DIR, "nextqa", "val.csv"))
    with open(os.path.join(data_dir, "map_vid_vidorID.json"), encoding="utf-8") as map_file:
        raw_map = map_file.read()
    video_map = json.loads(raw_map)
    assert json.dumps(video_map) == raw_map  # One line, as published.
    rows = []
    for split in schema.SPLITS:
        path = os.path.join(data_dir, f"{split}.csv")
        assert first_line(path) == sample_header
        header, *body = csv_rows(path)
        qids = collections.defaultdict(list)
        for values in body:
            row = dict(zip(header, values))
            assert len(values) == len(header) and row["type"] in ("TC", "TN", "TP", "DC", "DL", "DO")
            dir_name, video_id = video_map[row["video"]].split("/")
            assert video_id == row["video"] and len(dir_name) == 4 and dir_name.isdigit()
            qids[row["video"]].append(int(row["qid"]))
            rows.append(question("next_qa", f"videos/{video_map[row['video']]}.mp4", split, row["question"],
                                 "multiple_choice", row["type"], answer_index=int(row["answer"]),
                                 candidates=[row[f"a{index}"] for index in range(5)]))
            rows[-1]["frame_facts"] = (int(row["frame_count"]), int(row["width"]), int(row["height"]))
        assert all(numbers == list(range(len(numbers))) for numbers in qids.values())
    assert set(video_map) == {row["video"].split("/")[-1][:-len(".mp4")] for row in rows}
    return rows


def read_activitynet_qa(data_dir):
    rows = []
    for split in schema.SPLITS:
        loaded = {}
        for suffix in ("q", "a"):
            with open(os.path.join(data_dir, f"{split}_{suffix}.json"), encoding="utf-8") as json_file:
                raw = json_file.read()
            with open(os.path.join(SAMPLES_DIR, "activitynet-qa", f"{split}_{suffix}.json"),
                      encoding="utf-8") as sample_file:
                sample = json.load(sample_file)[0]
            loaded[suffix] = json.loads(raw)
            assert json.dumps(loaded[suffix]) == raw  # One line, default separators, as published.
            for item in loaded[suffix]:
                assert list(item) == list(sample)  # Same keys in the same order ...
                assert [type(value) for value in item.values()] == [type(value) for value in sample.values()]
        answers = {item["question_id"]: item for item in loaded["a"]}
        assert len(answers) == len(loaded["q"]) == len(loaded["a"])
        for item in loaded["q"]:
            answer = answers[item["question_id"]]
            assert item["question_id"].startswith(f"v_{item['video_name']}_")
            videos = [f"videos/v_{item['video_name']}{extension}" for extension in (".mp4", ".webm", ".mkv")
                      if os.path.exists(os.path.join(data_dir, "videos", f"v_{item['video_name']}{extension}"))]
            assert len(videos) == 1
            rows.append(question("activitynet_qa", videos[0], split, item["question"], "open_ended",
                                 ACTIVITYNET_TYPES[answer["type"]], answer=answer["answer"]))
    return rows


def read_how2qa(data_dir):
    rows = []
    for split, name in HOW2QA_FILES.items():
        for values in csv_rows(os.path.join(data_dir, name)):  # No header: every line is a question.
            assert len(values) == 7
            yt_id, segment, *wrong, question_text, correct = values
            match = re.fullmatch(r"\[(\d+\.\d+):(\d+\.\d+)\]", segment)
            assert match and len(yt_id) == 11, values
            candidates = [*wrong, correct]
            rows.append(question("how2qa", f"videos/{yt_id}.mp4", split, question_text, "multiple_choice", None,
                                 answer_index=3, candidates=candidates,
                                 segment=(float(match[1]), float(match[2]))))
    return rows


LAYOUT_READERS = {"tgif_qa": read_tgif_qa, "next_qa": read_next_qa, "activitynet_qa": read_activitynet_qa,
                  "how2qa": read_how2qa}


@pytest.fixture(scope="module", params=sorted(LAYOUT_READERS))
def layout_dataset(request, tmp_path_factory):
    """(layout, output dir, summary, questions read back) of one layout."""
    layout = request.param
    output_dir = str(tmp_path_factory.mktemp(layout))
    summary = synthetic.generate(output_dir, LAYOUT_VIDEOS, LAYOUT_SEED, layout=layout,
                                 **LAYOUT_SETTINGS.get(layout, {}))
    rows = LAYOUT_READERS[layout](output_dir)
    untyped = [row for row in rows if row["question_type"] is None]  # Typed by their first word.
    for row, tokens in zip(untyped, text.tokenize_python([row["question"] for row in untyped])):
        row["question_type"] = text.question_type(tokens)
    return layout, output_dir, summary, rows


@functools.lru_cache(maxsize=64)
def decoded_clip(path):
    """Every frame of a clip at 64x64, and the frame times, by the project's decoder."""
    return video.decode_video(path, sampling.SamplingConfig(1000), 64)


def detail(frame):
    """Mean absolute gradient: the checkered event object adds detail as it grows, appears, is loaded."""
    gray = frame.astype(np.float32).mean(-1)
    return np.abs(np.diff(gray, axis=0)).mean() + np.abs(np.diff(gray, axis=1)).mean()


def shows_forwards(path, segment=None):
    """Whether the clip (or segment) shows its event forwards: more detail at its end than its start."""
    decoded = decoded_clip(path)
    indices = [index for index, time in enumerate(decoded.frame_times)
               if segment is None or segment[0] <= time < segment[1]]
    return detail(decoded.frames[indices[-1]]) > detail(decoded.frames[indices[0]])


def load_groups(output_dir):
    with open(os.path.join(output_dir, synthetic.QUESTION_GROUPS_FILE), encoding="utf-8") as groups_file:
        return json.load(groups_file)


def twin_questions(rows, summary):
    """[(a question of a first twin, the same question of its twin)]; a segment's twin is the mirrored one."""
    by_video = collections.defaultdict(list)
    for row in rows:
        by_video[row["video"]].append(row)

    def keyed(video, mirrored):
        segments = sorted({row["segment"] for row in by_video[video]}, key=lambda bounds: bounds or (0, 0))
        keys = {}
        for row in by_video[video]:
            position = segments.index(row["segment"])
            key = (row["source"], row["question"], len(segments) - 1 - position if mirrored else position)
            assert key not in keys, key
            keys[key] = row
        return keys

    matched = []
    for first, second in summary["pairs"]:
        first_rows, second_rows = keyed(first, False), keyed(second, True)
        assert first_rows.keys() == second_rows.keys() and first_rows
        matched.extend((row, second_rows[key]) for key, row in first_rows.items())
    return matched


def order_direction(row):
    """True if an order question's answer says the event runs forwards (growing, 6 boxes at the end ...)."""
    if row["task"] == "count":
        return row["count"] > 0
    assert row["answer"] in FORWARD_ANSWERS | BACKWARD_ANSWERS, row
    return row["answer"] in FORWARD_ANSWERS


def test_layout_files_and_videos(layout_dataset):
    layout, output_dir, summary, rows = layout_dataset
    expected_files = {
        "tgif_qa": {f"{split}_{task}_question.csv" for split in ("Train", "Test")
                    for task in ("action", "transition", "count", "frameqa")},
        "next_qa": {"train.csv", "val.csv", "test.csv", "map_vid_vidorID.json"},
        "activitynet_qa": {f"{split}_{part}.json" for split in schema.SPLITS for part in ("q", "a")},
        "how2qa": set(HOW2QA_FILES.values()),
    }[layout]
    assert set(summary["rows_per_file"]) == expected_files
    assert set(os.listdir(output_dir)) == expected_files | {"videos", synthetic.QUESTION_GROUPS_FILE}
    splits = ("train", "test") if layout == "tgif_qa" else schema.SPLITS
    assert {row["split"] for row in rows} == set(splits)  # Every split has questions.
    frames, seconds = {"tgif_qa": (20, 2.0), "how2qa": (72, 3.0)}.get(layout, (48, 2.0))
    videos = {row["video"] for row in rows}
    assert videos == {path for pair in summary["pairs"] for path in pair} and len(videos) == LAYOUT_VIDEOS
    for path in videos:
        decoded = decoded_clip(os.path.join(output_dir, path))
        assert decoded.frames.shape == (frames, 64, 64, 3) and decoded.total_frames == frames
        assert decoded.duration == pytest.approx(seconds, abs=1e-3)
        with av.open(os.path.join(output_dir, path)) as container:
            codec = container.streams.video[0].codec_context.name
        assert codec == {".gif": "gif", ".webm": "vp9"}.get(os.path.splitext(path)[1], "h264")
    for row in rows:
        if "frame_facts" in row:  # NExT-QA's frame_count, width, height are the video's.
            decoded = decoded_clip(os.path.join(output_dir, row["video"]))
            assert row["frame_facts"] == (decoded.total_frames, decoded.width, decoded.height)
    if layout == "activitynet_qa":  # Real ActivityNet videos come as .mp4, .webm and .mkv.
        assert {os.path.splitext(path)[1] for path in videos} == {".mp4", ".webm", ".mkv"}


def test_layout_twins_are_reversals(layout_dataset):
    _, output_dir, summary, _ = layout_dataset
    for first, second in summary["pairs"]:
        first_frames, second_frames = (decoded_clip(os.path.join(output_dir, path)).frames.astype(np.int16)
                                       for path in (first, second))
        if first.endswith(".gif"):  # GIFs store exact palette indices.
            np.testing.assert_array_equal(second_frames, first_frames[::-1])
        reversed_difference = np.abs(second_frames - first_frames[::-1]).mean(axis=(1, 2, 3)).max()
        forward_difference = np.abs(second_frames - first_frames).mean(axis=(1, 2, 3)).max()
        assert reversed_difference < 3.0 and forward_difference > 2 * reversed_difference + 1, (first, second)


def test_layout_order_answers_flip_and_match_the_videos(layout_dataset):
    """Twins share a split and their questions; answers differ exactly on the order group, as the frames show."""
    layout, output_dir, summary, rows = layout_dataset
    groups = load_groups(output_dir)
    assert set(groups) == {"order", "single_frame"} and not set(groups["order"]) & set(groups["single_frame"])
    assert {row["question_type"] for row in rows} <= set(groups["order"]) | set(groups["single_frame"])
    order_tasks = collections.Counter()
    for first, second in twin_questions(rows, summary):
        assert first["split"] == second["split"]
        if layout == "how2qa":  # The same candidates; which column holds one depends on the answer.
            assert sorted(first["candidates"]) == sorted(second["candidates"])
        else:  # The same candidates in the same order.
            assert first["candidates"] == second["candidates"]
        assert first["question_type"] == second["question_type"]
        if first["question_type"] in groups["order"]:
            assert first["answer"] != second["answer"], first
            for row in (first, second):
                shown = shows_forwards(os.path.join(output_dir, row["video"]), row["segment"])
                assert order_direction(row) == shown, row
            order_tasks[first["task"]] += 1
        else:
            assert first["question_type"] in groups["single_frame"]
            assert first["answer"] == second["answer"], (first, second)
    expected_tasks = {"tgif_qa": {"multiple_choice", "count"}, "next_qa": {"multiple_choice"},
                      "activitynet_qa": {"open_ended"}, "how2qa": {"multiple_choice"}}[layout]
    assert set(order_tasks) == expected_tasks
    choices = [row for row in rows if row["candidates"]]
    assert bool(choices) == (layout != "activitynet_qa")
    if layout != "how2qa":  # How2QA's correct answer is a column of its own.
        # The correct candidate is not always at the same position.
        assert not choices or len({row["answer_index"] for row in choices}) > 1
    for row in choices:  # Order questions offer both directions; every candidate is distinct.
        assert len(set(row["candidates"])) == len(row["candidates"]) == (4 if layout == "how2qa" else 5)
        if row["question_type"] in groups["order"]:
            assert {order_answer for order_answer in row["candidates"] if order_answer in FORWARD_ANSWERS}
            assert {order_answer for order_answer in row["candidates"] if order_answer in BACKWARD_ANSWERS}


def test_layout_counts_and_single_frame_answers(layout_dataset):
    layout, output_dir, summary, rows = layout_dataset
    groups = load_groups(output_dir)
    circles, colors = collections.defaultdict(set), collections.defaultdict(set)
    for row in rows:
        if row["task"] == "count":
            assert row["count"] >= 0
        if "circles" in row["question"]:
            number = row["count"] if row["task"] == "count" else NUMBER_WORDS.index(row["answer"])
            circles[row["video"]].add(number)
        elif "color" in row["question"]:
            colors[row["video"]].add(row["answer"])
    videos = {path for pair in summary["pairs"] for path in pair}
    assert circles.keys() == videos
    assert all(len(counts) == 1 and 1 <= min(counts) <= 3 for counts in circles.values())
    if layout != "how2qa":
        assert colors.keys() == videos and all(len(names) == 1 for names in colors.values())
    if layout == "tgif_qa":
        counts = [row for row in rows if row["task"] == "count" and row["question_type"] in groups["order"]]
        assert {row["count"] for row in counts} >= {0} and max(row["count"] for row in counts) > 0
    if layout == "how2qa":  # Two segments of one video: the same question, different answers.
        answers = collections.defaultdict(set)
        for row in rows:
            answers[row["video"], row["question"]].add(row["answer"])
        for clip_path in videos:
            assert any(len(found) > 1 for (path, _), found in answers.items() if path == clip_path)


@pytest.mark.parametrize("layout", sorted(LAYOUT_READERS))
def test_layout_same_seed_same_bytes(tmp_path, layout):
    first, second, other = (str(tmp_path / name) for name in ("a", "b", "c"))
    for output_dir, seed in ((first, 3), (second, 3), (other, 4)):
        synthetic.generate(output_dir, 6, seed, width=64, height=48, seconds=0.5, layout=layout)

    def contents(output_dir):
        found = {}
        for root, _, names in os.walk(output_dir):
            for name in names:
                with open(os.path.join(root, name), "rb") as data_file:
                    found[os.path.relpath(os.path.join(root, name), output_dir)] = data_file.read()
        return found

    assert contents(first) == contents(second)  # Videos included: GIF, H.264, VP9, Matroska.
    assert contents(first).keys() != contents(other).keys()  # Other names ...
    LAYOUT_READERS[layout](first)  # ... and still the published layout at another size.


def test_tgif_twins_stay_together_after_the_readers_validation_carve(tmp_path):
    """TGIF-QA has no val split: the reader carves one out of Train by a hash of the GIF name; twins go together."""
    from pipeline import annotations, paths
    output_dir = str(tmp_path)
    summary = synthetic.generate(output_dir, 60, 2, width=32, height=32, seconds=0.2, layout="tgif_qa")
    files = [os.path.join(output_dir, name) for name in sorted(os.listdir(output_dir)) if name.endswith(".csv")]
    sources = annotations.plan_sources([path for path in files if "_count_" in path], "auto",
                                       annotations.read_file_head)
    locate = paths.VideoLocator(os.path.join(output_dir, "videos"), None, None, layout="tgif_qa")
    config = annotations.ReadConfig(max_question_tokens=schema.DEFAULT_MAX_QUESTION_TOKENS)
    split_of = {}
    for source in sources:
        valid, errors, _ = annotations.read_source(source, lambda path: open(path, "rb").read(), config, locate)
        assert not errors
        split_of.update({f"videos/{question.video_id}.gif": question.split for question in valid})
    pair_splits = [(split_of[first], split_of[second]) for first, second in summary["pairs"]]
    assert all(first == second for first, second in pair_splits), pair_splits
    assert {first for first, _ in pair_splits} == {"train", "val", "test"}  # The carve did take some pairs.


def test_layout_splits_keep_every_split_from_a_few_pairs():
    assert synthetic.split_sizes(2, ("train", "test")) == (1, 1)
    assert synthetic.split_sizes(10, ("train", "test")) == (8, 2)
    assert synthetic.split_sizes(1, ("train", "test")) == (1, 0)
    assert synthetic.split_sizes(3) == (1, 1, 1) and synthetic.split_sizes(200) == (160, 20, 20)
    plans = synthetic.plan_pairs(5, seed=0, splits=("train", "test"))
    assert sorted(plan["split"] for plan in plans) == ["test", "train", "train", "train", "train"]


def test_layout_command_line(tmp_path):
    environment = dict(os.environ, PYTHONPATH=REPO_ROOT)
    base = [sys.executable, "-m", "pipeline.synthetic", "--num_videos", "4", "--seconds", "0.5",
            "--width", "64", "--height", "48"]
    result = subprocess.run(base + ["--output_dir", str(tmp_path / "tgif"), "--layout", "tgif_qa"],
                            cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "tgif_qa layout" in result.stdout and "Train_transition_question.csv" in result.stdout
    assert len(read_tgif_qa(str(tmp_path / "tgif"))) == 4 * 6  # 6 questions per GIF over the four files.
    for flags, message in ((["--layout", "tgif_qa", "--fps", "24"], "must divide 100"),
                           (["--layout", "youcook2"], "invalid choice")):
        refused = subprocess.run(base + ["--output_dir", str(tmp_path / "refused")] + flags, cwd=REPO_ROOT,
                                 env=environment, capture_output=True, text=True, timeout=300)
        assert refused.returncode == 2 and message in refused.stderr, refused.stderr


def test_gif_round_trip(tmp_path):
    frames = np.random.default_rng(0).integers(0, 256, (7, 40, 50, 3)).astype(np.uint8)
    path = str(tmp_path / "clip.gif")
    synthetic.synthetic_video.write_gif(path, frames, 20)
    decoded = video.decode_video(path, sampling.SamplingConfig(7), 40)
    assert (decoded.total_frames, decoded.width, decoded.height) == (7, 50, 40)
    assert decoded.frame_times == pytest.approx([index * 0.05 for index in range(7)])
    with av.open(path) as container:
        exact = np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])
    np.testing.assert_array_equal(exact, synthetic.synthetic_video.quantize_for_gif(frames))
    assert np.abs(exact.astype(int) - frames).max() <= 26  # Half a step of the 6x7x6 colour cube.
    with pytest.raises(ValueError, match="must divide 100"):
        synthetic.synthetic_video.write_gif(path, frames, 24)
