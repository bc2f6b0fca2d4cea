"""How2QA in its exact published format (no sample is available): no header, seven columns."""

import collections
import os

import pytest

from features import schema
from features.questions import Segment
from pipeline import annotations, paths

# The published example row, then rows in the same form (a quoted question holding a comma).
TRAIN_ROWS = ("NOuQuofjk44,[7.2:18.0],10,12,16,how many knife is there?,1\n"
              "NOuQuofjk44,[20:31.5],a bowl,a plate,a cup,what does the cook put the onions in?,a pan\n"
              'abcDEF-_123,[0:12],red,blue,green,"what color, mostly, is the car?",yellow\n')
VAL_ROWS = "zzTopVideo1,[3:9],run,walk,sit,what does the man do after he stands up?,jump\n"
TEST_ROWS = "qqTest00001,[100.5:160.25],2,3,4,how many people are in the kitchen?,1\n"


def write(directory, name, text):
    path = str(directory / name)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    return path


@pytest.fixture(scope="module")
def how2qa(tmp_path_factory):
    """The three files, placed and read: {split: [AnnotatedQuestion]}, the sources, the video dir."""
    root = tmp_path_factory.mktemp("how2qa")
    files = [write(root, "how2QA_train_release.csv", TRAIN_ROWS), write(root, "how2QA_val_release.csv", VAL_ROWS),
             write(root, "how2QA_test_public_release.csv", TEST_ROWS)]
    sources = annotations.plan_sources(files, "auto", annotations.read_file_head)
    video_dir = root / "videos"
    video_dir.mkdir()
    locate = paths.VideoLocator(str(video_dir), None, None, layout="how2qa")
    config = annotations.ReadConfig(max_question_tokens=schema.DEFAULT_MAX_QUESTION_TOKENS)
    by_split = {}
    for source in sources:
        valid, errors, input_rows = annotations.read_source(source, lambda path: open(path, "rb").read(),
                                                            config, locate)
        assert errors == [] and input_rows == len(valid)
        by_split[source.split] = valid
    return by_split, sources, str(video_dir)


def test_three_files_three_splits_multiple_choice_of_four(how2qa):
    by_split, sources, _ = how2qa
    assert [(source.layout, source.task, source.num_candidates, source.split) for source in sources] == [
        ("how2qa", schema.TASK_MULTIPLE_CHOICE, 4, "test"), ("how2qa", schema.TASK_MULTIPLE_CHOICE, 4, "train"),
        ("how2qa", schema.TASK_MULTIPLE_CHOICE, 4, "val")]
    assert {split: len(questions) for split, questions in by_split.items()} == {"train": 3, "val": 1, "test": 1}


def test_the_published_example_row(how2qa):
    by_split, _, video_dir = how2qa
    first = by_split["train"][0]
    assert first.video_id == "NOuQuofjk44" and first.segment == Segment(7.2, 18.0)
    assert first.clip_id == "NOuQuofjk44[7.2:18]"
    assert first.video_path == os.path.join(video_dir, "NOuQuofjk44.mp4")
    question = first.question
    assert (question.question, question.answer, question.question_type) == ("how many knife is there?", "1", "how")
    assert question.candidates[question.answer_index] == "1"
    assert [candidate for candidate in question.candidates if candidate != "1"] == ["10", "12", "16"]
    assert question.question_id == "how2QA_train_release.csv:1"
    assert first.split == "train" and first.split_is_explicit


def test_quoted_fields_segments_and_ids(how2qa):
    by_split, _, _ = how2qa
    second, quoted = by_split["train"][1:]
    assert second.video_id == "NOuQuofjk44" and second.clip_id == "NOuQuofjk44[20:31.5]"
    assert quoted.question.question == "what color, mostly, is the car?"
    assert sorted(quoted.question.candidates) == ["blue", "green", "red", "yellow"]
    assert by_split["test"][0].segment == Segment(100.5, 160.25)
    ids = [question.question.question_id for questions in by_split.values() for question in questions]
    assert len(set(ids)) == len(ids)


def test_the_correct_answer_is_placed_by_a_hash_of_the_question(tmp_path):
    rows = "".join(f"vid{index:05d},[0:10],w1,w2,w3,what happens in part {index}?,right\n" for index in range(200))
    path = write(tmp_path, "how2QA_train_release.csv", rows)
    [source] = annotations.plan_sources([path], "auto", annotations.read_file_head)
    locate = paths.VideoLocator(str(tmp_path), None, None, layout="how2qa")
    config = annotations.ReadConfig(max_question_tokens=schema.DEFAULT_MAX_QUESTION_TOKENS)

    def answer_indexes():
        valid, errors, _ = annotations.read_source(source, lambda name: open(name, "rb").read(), config, locate)
        assert not errors and all(q.question.candidates[q.question.answer_index] == "right" for q in valid)
        return [question.question.answer_index for question in valid]

    indexes = answer_indexes()
    assert indexes == answer_indexes()  # The same order on every read.
    shares = collections.Counter(indexes)
    assert set(shares) == {0, 1, 2, 3} and max(shares.values()) < 80  # Spread, not always last.
