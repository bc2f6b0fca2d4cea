"""`--layout auto`: each file placed in its layout and task; unplaceable files and mixed runs refused."""

import os
import shutil

import pytest

from features import schema
from pipeline import annotations

DATASETS = os.environ.get("VIDEOQA_SAMPLE_DATASETS", "/work/shared/datasets")
pytestmark = pytest.mark.skipif(not os.path.isdir(DATASETS), reason=f"no sample data sets at {DATASETS}")

HOW2QA_ROW = "NOuQuofjk44,[7.2:18.0],10,12,16,how many knife is there?,1\n"
MSRVTT_ROWS = b'[{"answer": "man", "category_id": 3, "id": 0, "question": "who is talking?", "video_id": 7010}]'


def sample(relative):
    return os.path.join(DATASETS, relative)


def plan(paths, layout="auto"):
    return annotations.plan_sources(paths, layout, annotations.read_file_head)


def write(directory, name, content):
    path = os.path.join(str(directory), name)
    with open(path, "wb") as handle:
        handle.write(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


@pytest.mark.parametrize("relative, layout, task, num_candidates, split", [
    ("msvd-qa/train_qa.json", "msvd_qa", schema.TASK_OPEN_ENDED, 0, "train"),
    ("tgif-qa/Test_frameqa_question.csv", "tgif_qa", schema.TASK_OPEN_ENDED, 0, "test"),
    ("tgif-qa/Train_action_question.csv", "tgif_qa", schema.TASK_MULTIPLE_CHOICE, 5, "train"),
    ("tgif-qa/Test_transition_question.csv", "tgif_qa", schema.TASK_MULTIPLE_CHOICE, 5, "test"),
    ("tgif-qa/Train_count_question.csv", "tgif_qa", schema.TASK_COUNT, 0, "train"),
    ("nextqa/val.csv", "next_qa", schema.TASK_MULTIPLE_CHOICE, 5, "val"),
    ("nextqa-oe/train.csv", "next_qa", schema.TASK_OPEN_ENDED, 0, "train"),
])
def test_each_sample_file_is_placed(relative, layout, task, num_candidates, split):
    [source] = plan([sample(relative)])
    assert (source.layout, source.task, source.num_candidates, source.split) == (layout, task, num_candidates, split)
    assert source.paths == (sample(relative),)


def test_activitynet_files_are_placed_in_pairs():
    sources = plan([sample(f"activitynet-qa/{split}_{part}.json") for split in ("train", "val") for part in "qa"])
    assert [(source.layout, source.split, [os.path.basename(path) for path in source.paths]) for source in sources] == [
        ("activitynet_qa", "train", ["train_q.json", "train_a.json"]),
        ("activitynet_qa", "val", ["val_q.json", "val_a.json"])]


def test_how2qa_msrvtt_and_generic_files_are_placed(tmp_path):
    [how2qa] = plan([write(tmp_path, "how2QA_val_release.csv", HOW2QA_ROW)])
    assert (how2qa.layout, how2qa.task, how2qa.num_candidates, how2qa.split) == (
        "how2qa", schema.TASK_MULTIPLE_CHOICE, 4, "val")
    [msrvtt] = plan([write(tmp_path, "test_qa.json", MSRVTT_ROWS)])
    assert (msrvtt.layout, msrvtt.task, msrvtt.split) == ("msrvtt_qa", schema.TASK_OPEN_ENDED, "test")
    generic = [write(tmp_path, "extra.jsonl", '{"question": "what?", "answer": "x", "video_id": "a"}\n'),
               write(tmp_path, "more.csv", "video_id,question,answer,split\na,what?,x,val\n"),
               write(tmp_path, "mine.json", '[{"question": "what?", "answer": "x", "video_id": "a", "id": 1,'
                                            ' "question_type": "what"}]')]
    assert [(source.layout, source.split) for source in plan(generic)] == [("generic", None)] * 3


def test_a_file_no_layout_takes_is_refused_with_its_columns_and_the_known_layouts():
    readme = sample("tgif-qa/readme_examples.tsv")  # The TGIF-QA README's examples: not an annotation file.
    with pytest.raises(ValueError) as raised:
        plan([sample("tgif-qa/Test_count_question.csv"), readme])
    message = str(raised.value)
    assert "readme_examples.tsv: tab-separated first row ['gif', 'qa_type', 'question', 'answer']" in message
    for layout in annotations.LAYOUT_CHOICES:
        assert layout in message
    assert "Test_count_question.csv" not in message


def test_unplaceable_json_names_its_keys(tmp_path):
    path = write(tmp_path, "train_qa.json", '[{"clip": "a", "text": "what?"}]')
    with pytest.raises(ValueError, match=r"train_qa.json: JSON list whose first object has keys \['clip', 'text'\]"):
        plan([path])
    with pytest.raises(ValueError, match="unknown format"):
        plan([write(tmp_path, "README.txt", "notes\n")])


def test_mixing_tasks_is_refused_naming_files_and_tasks():
    with pytest.raises(ValueError) as raised:
        plan([sample("tgif-qa/Test_count_question.csv"), sample("tgif-qa/Test_frameqa_question.csv"),
              sample("tgif-qa/Test_action_question.csv"), sample("tgif-qa/Train_count_question.csv")])
    message = str(raised.value)
    assert message.startswith("one run has one task")
    assert "count: Test_count_question.csv, Train_count_question.csv" in message
    assert "open_ended: Test_frameqa_question.csv" in message
    assert "multiple_choice (5 candidates): Test_action_question.csv" in message


def test_mixing_candidate_counts_or_layouts_is_refused(tmp_path):
    how2qa = write(tmp_path, "how2QA_train_release.csv", HOW2QA_ROW)
    with pytest.raises(ValueError, match=r"multiple_choice \(4 candidates\): how2QA_train_release.csv"):
        plan([how2qa, sample("nextqa/val.csv")])
    with pytest.raises(ValueError, match="one run reads one layout.*msvd_qa: train_qa.json; next_qa: train.csv"):
        plan([sample("msvd-qa/train_qa.json"), sample("nextqa-oe/train.csv")])


def test_activitynet_questions_without_their_answers_file_are_refused():
    with pytest.raises(ValueError, match=r"val_q.json \(questions\) needs its answers file .*val_a.json"):
        plan([sample("activitynet-qa/val_q.json"), sample("activitynet-qa/train_q.json"),
              sample("activitynet-qa/train_a.json")])


def test_a_chosen_layout_checks_each_file(tmp_path):
    with pytest.raises(ValueError, match=r"not tgif_qa files \(tgif_qa reads tab-separated TGIF-QA columns"):
        plan([sample("nextqa/val.csv")], layout="tgif_qa")
    # The generic layout reads the MSVD-QA file (same keys) and names its videos as before layouts existed.
    [source] = plan([sample("msvd-qa/val_qa.json")], layout="generic")
    assert (source.layout, source.split) == ("generic", "val")
    # A renamed file: the layout still comes from the header; the split from the rows' videos (hash).
    renamed = shutil.copy(sample("tgif-qa/Train_count_question.csv"), str(tmp_path / "counting.csv"))
    [source] = plan([renamed])
    assert (source.layout, source.task, source.split) == ("tgif_qa", schema.TASK_COUNT, None)


def test_unknown_layout_and_no_files_are_refused():
    with pytest.raises(ValueError, match="--layout 'tgif' is not one of auto, msvd_qa"):
        plan([sample("nextqa/val.csv")], layout="tgif")
    with pytest.raises(ValueError, match="no annotation files"):
        plan([])


def test_the_plan_is_described_for_the_log():
    sources = plan([sample("tgif-qa/Train_action_question.csv"), sample("tgif-qa/Test_transition_question.csv")])
    assert annotations.describe_plan(sources, "auto") == (
        "annotation layout tgif_qa (detected), task multiple_choice (5 candidates), 2 source(s): "
        "Test_transition_question.csv (test), Train_action_question.csv (train)")


@pytest.mark.parametrize("name, split", [
    ("train_qa.json", "train"), ("Test_action_question.csv", "test"), ("val.csv", "val"),
    ("how2QA_test_public_release.csv", "test"), ("how2QA_train_release.csv", "train"),
    ("VALIDATION-questions.jsonl", "val"), ("questions.jsonl", None), ("train_val.json", None),
    ("contest_questions.csv", None),
])
def test_splits_from_file_names(name, split):
    assert annotations.split_from_file_name(f"gs://bucket/{name}") == split
