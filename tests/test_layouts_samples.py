"""The real published annotation files of /work/shared/datasets, read as they are.

Every sample file is placed by `auto`, and every row is read and accepted, with its
video found under the name its data set gives it. The videos are placeholders
(a few bytes each) named here from the files with the standard library, so the
naming rules are checked independently of the readers.
"""

import collections
import csv
import glob
import json
import os

import pytest

from features import schema
from pipeline import annotations, paths
from pipeline.layouts import splits as layout_splits

DATASETS = os.environ.get("VIDEOQA_SAMPLE_DATASETS", "/work/shared/datasets")
MSVD = os.path.join(DATASETS, "msvd-qa")
TGIF = os.path.join(DATASETS, "tgif-qa")
NEXT_QA = os.path.join(DATASETS, "nextqa")
NEXT_OE = os.path.join(DATASETS, "nextqa-oe")
ACTIVITYNET = os.path.join(DATASETS, "activitynet-qa")
NEXT_MAPPING = os.path.join(NEXT_QA, "map_vid_vidorID.json")
ACTIVITYNET_EXTENSIONS = (".mp4", ".mkv", ".webm")

pytestmark = pytest.mark.skipif(not os.path.isdir(DATASETS), reason=f"no sample data sets at {DATASETS}")

# Rows of each sample file, counted with the standard library (not with the readers under test).
EXPECTED_ROWS = {
    "msvd-qa/train_qa.json": 254, "msvd-qa/val_qa.json": 264, "msvd-qa/test_qa.json": 297,
    "tgif-qa/Train_action_question.csv": 200, "tgif-qa/Train_count_question.csv": 200,
    "tgif-qa/Test_action_question.csv": 200, "tgif-qa/Test_count_question.csv": 200,
    "tgif-qa/Test_frameqa_question.csv": 200, "tgif-qa/Test_transition_question.csv": 201,
    "nextqa/val.csv": 200, "nextqa/test.csv": 200, "nextqa-oe/train.csv": 200, "nextqa-oe/val.csv": 200,
    "activitynet-qa/train_q.json": 200, "activitynet-qa/val_q.json": 200, "activitynet-qa/test_q.json": 200,
}


def read_bytes(path):
    with open(path, "rb") as handle:
        return handle.read()


def tsv_rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def csv_rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def json_rows(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def touch(root, relative):
    path = os.path.join(root, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(b"placeholder video")
    return path


@pytest.fixture(scope="module")
def video_dirs(tmp_path_factory):
    """{data set: a folder holding a placeholder for every video its sample rows name}."""
    root = tmp_path_factory.mktemp("sample_videos")
    dirs = {name: str(root / name) for name in ("msvd", "tgif", "next", "activitynet")}
    with open(os.path.join(MSVD, "youtube_mapping.txt"), encoding="utf-8") as handle:
        clip_of = {int(number[3:]): clip for clip, number in (line.split() for line in handle if line.strip())}
    for path in glob.glob(os.path.join(MSVD, "*_qa.json")):
        for row in json_rows(path):
            touch(dirs["msvd"], f"{clip_of[row['video_id']]}.avi")
    for path in glob.glob(os.path.join(TGIF, "*_question.csv")):
        for row in tsv_rows(path):
            touch(dirs["tgif"], row["gif_name"] + ".gif")
    vidor = json_rows(NEXT_MAPPING)
    for path in glob.glob(os.path.join(NEXT_QA, "*.csv")) + glob.glob(os.path.join(NEXT_OE, "*.csv")):
        for row in csv_rows(path):
            touch(dirs["next"], vidor[row["video"]] + ".mp4")
    names = sorted({row["video_name"] for path in glob.glob(os.path.join(ACTIVITYNET, "*_q.json"))
                    for row in json_rows(path)})
    for index, name in enumerate(names):  # Each of the three extensions in turn.
        touch(dirs["activitynet"], f"v_{name}{ACTIVITYNET_EXTENSIONS[index % 3]}")
    return dirs


def read_all(pattern, video_dir, mapping_path=None, layout="auto"):
    """Plan and read every file matching `pattern`: ({source file: (valid, errors, input rows)}, sources)."""
    files = glob.glob(pattern)
    sources = annotations.plan_sources(files, layout, annotations.read_file_head)
    mapping = paths.read_mapping(mapping_path) if mapping_path else None
    locate = paths.VideoLocator(video_dir, None, mapping, layout=sources[0].layout)
    config = annotations.ReadConfig(max_question_tokens=schema.DEFAULT_MAX_QUESTION_TOKENS)
    results = {os.path.relpath(source.paths[0], DATASETS): annotations.read_source(source, read_bytes, config, locate)
               for source in sources}
    return results, sources


def assert_every_row_accepted(results):
    for name, (valid, errors, input_rows) in results.items():
        assert errors == [], (name, errors[:3])
        assert input_rows == len(valid) == EXPECTED_ROWS[name], name
        assert all(os.path.isfile(question.video_path) for question in valid), name


def test_msvd_qa_every_row_of_the_three_splits(video_dirs):
    results, sources = read_all(os.path.join(MSVD, "*_qa.json"), video_dirs["msvd"],
                                os.path.join(MSVD, "youtube_mapping.txt"))
    assert {source.layout for source in sources} == {"msvd_qa"}
    assert_every_row_accepted(results)
    first = results["msvd-qa/train_qa.json"][0][0]
    assert (first.video_id, os.path.basename(first.video_path)) == ("1", "-4wsuPCjDBc_5_15.avi")
    assert (first.question.question_id, first.question.question_type, first.split) == ("0", "what", "train")
    assert {question.split for question in results["msvd-qa/test_qa.json"][0]} == {"test"}


@pytest.mark.parametrize("task, patterns", [
    (schema.TASK_OPEN_ENDED, ("Test_frameqa_question.csv",)),
    (schema.TASK_MULTIPLE_CHOICE, ("T*_action_question.csv", "T*_transition_question.csv")),
    (schema.TASK_COUNT, ("T*_count_question.csv",)),
])
def test_tgif_qa_every_row_of_every_task(video_dirs, task, patterns):
    results = {}
    for pattern in patterns:
        found, sources = read_all(os.path.join(TGIF, pattern), video_dirs["tgif"])
        assert {(source.layout, source.task) for source in sources} == {("tgif_qa", task)}
        results.update(found)
    assert_every_row_accepted(results)


def test_tgif_qa_fields_by_task(video_dirs):
    frameqa, _ = read_all(os.path.join(TGIF, "Test_frameqa_question.csv"), video_dirs["tgif"])
    questions = frameqa["tgif-qa/Test_frameqa_question.csv"][0]
    first = questions[0]
    assert (first.video_id, first.question.answer, first.question.question_type) == (
        "tumblr_no73q2fm0I1uuf348o1_250", "cookie", "object")
    assert os.path.basename(first.video_path) == "tumblr_no73q2fm0I1uuf348o1_250.gif"
    assert collections.Counter(question.question.question_type for question in questions) == {
        "object": 80, "color": 61, "number": 43, "location": 16}
    count, _ = read_all(os.path.join(TGIF, "Test_count_question.csv"), video_dirs["tgif"])
    first = count["tgif-qa/Test_count_question.csv"][0][0]
    assert (first.question.count, first.question.question_id, first.question.question_type) == (3, "COUNT12", "count")
    action, _ = read_all(os.path.join(TGIF, "Test_action_question.csv"), video_dirs["tgif"])
    first = action["tgif-qa/Test_action_question.csv"][0][0]
    assert first.question.candidates == (
        "stuff marshmallow", "holds a phone towards face", "fall over", "talk", "flap wings")
    assert (first.question.answer_index, first.question.answer, first.question.question_type) == (
        4, "flap wings", "action")


def test_tgif_qa_quoted_field_of_test_transition(video_dirs):
    results, _ = read_all(os.path.join(TGIF, "Test_transition_question.csv"), video_dirs["tgif"])
    quoted = [question for question in results["tgif-qa/Test_transition_question.csv"][0]
              if question.question.question_id == "TRANS15831"]
    assert len(quoted) == 1
    assert quoted[0].question.candidates[4] == 'respond "no"'
    assert quoted[0].question.answer == "sky downhill" and quoted[0].question.question_type == "transition"
    assert quoted[0].question.source.endswith("Test_transition_question.csv:line 202")


def test_tgif_qa_validation_carved_from_train_by_video(video_dirs):
    results, _ = read_all(os.path.join(TGIF, "T*_action_question.csv"), video_dirs["tgif"])
    train = results["tgif-qa/Train_action_question.csv"][0]
    splits = collections.Counter(question.split for question in train)
    assert set(splits) == {"train", "val"} and 5 <= splits["val"] <= 35  # About 10% of 200.
    assert all(question.split_is_explicit for question in train)
    assert {question.split for question in results["tgif-qa/Test_action_question.csv"][0]} == {"test"}
    again, _ = read_all(os.path.join(TGIF, "Train_action_question.csv"), video_dirs["tgif"])
    assert [question.split for question in again["tgif-qa/Train_action_question.csv"][0]] == [
        question.split for question in train]
    # The carve follows the video: a GIF asked about in two train files lands in one split.
    count, _ = read_all(os.path.join(TGIF, "Train_count_question.csv"), video_dirs["tgif"])
    split_of = collections.defaultdict(set)
    for question in train + count["tgif-qa/Train_count_question.csv"][0]:
        split_of[question.video_id].add(question.split)
    assert all(len(found) == 1 for found in split_of.values())
    in_both = set(question.video_id for question in train) & set(
        question.video_id for question in count["tgif-qa/Train_count_question.csv"][0])
    assert len(in_both) > 100  # The sample files share most of their GIFs.


def test_the_carve_is_about_ten_percent_and_stable():
    video_ids = [f"tumblr_{index:06d}_250" for index in range(20000)]
    carved = [layout_splits.carve_validation(video_id, annotations.CARVED_VALIDATION_PERCENT) for video_id in video_ids]
    assert carved == [layout_splits.carve_validation(video_id, 10) for video_id in video_ids]
    assert set(carved) == {"train", "val"}
    assert abs(carved.count("val") / len(carved) - 0.10) < 0.01


def test_next_qa_multiple_choice_every_row(video_dirs):
    results, sources = read_all(os.path.join(NEXT_QA, "*.csv"), video_dirs["next"], NEXT_MAPPING)
    assert {(source.layout, source.task, source.num_candidates) for source in sources} == {
        ("next_qa", schema.TASK_MULTIPLE_CHOICE, 5)}
    assert_every_row_accepted(results)
    first = results["nextqa/test.csv"][0][0]
    assert first.video_path.endswith(os.path.join("1101", "2574374895.mp4"))
    assert (first.question.question_id, first.question.question_type, first.question.answer_index) == (
        "2574374895_8", "TN", 2)
    assert first.question.answer == "lay on floor" and len(first.question.candidates) == 5
    assert first.split == "test"
    assert {question.question.question_type for question in results["nextqa/val.csv"][0]} == {
        "CW", "CH", "TN", "TP", "TC", "DL", "DC", "DO"}


def test_next_oe_open_ended_every_row(video_dirs):
    results, sources = read_all(os.path.join(NEXT_OE, "*.csv"), video_dirs["next"], NEXT_MAPPING)
    assert {(source.layout, source.task) for source in sources} == {("next_qa", schema.TASK_OPEN_ENDED)}
    assert_every_row_accepted(results)
    first = results["nextqa-oe/val.csv"][0][0]
    assert (first.question.question_id, first.question.answer, first.question.candidates) == (
        "3233088823_3", "from the drivers cabin", ())


def test_activitynet_qa_every_pair_joined(video_dirs):
    results, sources = read_all(os.path.join(ACTIVITYNET, "*.json"), video_dirs["activitynet"])
    assert [tuple(os.path.basename(path) for path in source.paths) for source in sources] == [
        ("test_q.json", "test_a.json"), ("train_q.json", "train_a.json"), ("val_q.json", "val_a.json")]
    assert_every_row_accepted(results)
    test = results["activitynet-qa/test_q.json"][0]
    assert (test[0].question.question_id, test[0].question.answer, test[0].question.question_type) == (
        "v_1QIUV7WYKXg_3", "no", "yes_no")
    assert collections.Counter(question.question.question_type for question in test) == {
        "yes_no": 198, "other": 1, "location": 1}
    extensions = collections.Counter(os.path.splitext(question.video_path)[1]
                                     for result in results.values() for question in result[0])
    assert set(extensions) == set(ACTIVITYNET_EXTENSIONS)
    assert all(os.path.basename(question.video_path).startswith("v_" + question.video_id + ".")
               for question in test)


def test_row_counts_per_sample_file_for_the_report(video_dirs, capsys):
    """Prints read / valid / rejected per sample file (pytest -s shows them)."""
    runs = [(os.path.join(MSVD, "*_qa.json"), "msvd", os.path.join(MSVD, "youtube_mapping.txt")),
            (os.path.join(NEXT_QA, "*.csv"), "next", NEXT_MAPPING),
            (os.path.join(NEXT_OE, "*.csv"), "next", NEXT_MAPPING),
            (os.path.join(ACTIVITYNET, "*.json"), "activitynet", None)]
    runs += [(path, "tgif", None) for path in sorted(glob.glob(os.path.join(TGIF, "*_question.csv")))]
    counted = {}
    for pattern, videos, mapping in runs:
        results, _ = read_all(pattern, video_dirs[videos], mapping)
        for name, (valid, errors, input_rows) in results.items():
            counted[name] = (input_rows, len(valid), len(errors))
    with capsys.disabled():
        for name, (read, valid, rejected) in sorted(counted.items()):
            print(f"\n{name:42} read {read:4} valid {valid:4} rejected {rejected}", end="")
        print()
    assert counted == {name: (rows, rows, 0) for name, rows in EXPECTED_ROWS.items()}
