"""Every per-row rejection, with its reason; every input row is either valid or in the errors.

Bad rows are real sample rows with one field spoiled, appended to the real file's
header (and first rows), so the readers see the published layout around them.
"""

import json
import os

import pytest

from features import schema
from pipeline import annotations, paths

DATASETS = os.environ.get("VIDEOQA_SAMPLE_DATASETS", "/work/shared/datasets")
pytestmark = pytest.mark.skipif(not os.path.isdir(DATASETS), reason=f"no sample data sets at {DATASETS}")


def sample_lines(relative, count):
    """The header and first `count` rows of a sample file, as text lines."""
    with open(os.path.join(DATASETS, relative), encoding="utf-8") as handle:
        return [next(handle) for _ in range(count + 1)]


def read(tmp_path, name, content, layout="auto", mapping=None, video_pattern=None):
    """Write `content` as `name` and read it: (valid, errors, input rows)."""
    path = str(tmp_path / name)
    with open(path, "wb") as handle:
        handle.write(content if isinstance(content, bytes) else content.encode("utf-8"))
    sources = annotations.plan_sources([path], layout, annotations.read_file_head)
    return read_sources(tmp_path, sources, mapping, video_pattern)


def read_sources(tmp_path, sources, mapping=None, video_pattern=None):
    videos = tmp_path / "videos"
    videos.mkdir(exist_ok=True)
    locate = paths.VideoLocator(str(videos), video_pattern, mapping, layout=sources[0].layout)
    config = annotations.ReadConfig(max_question_tokens=8)
    results = [annotations.read_source(source, lambda path: open(path, "rb").read(), config, locate)
               for source in sources]
    valid = [question for result in results for question in result[0]]
    errors = [error for result in results for error in result[1]]
    input_rows = sum(result[2] for result in results)
    question_errors = [error for error in errors if error["kind"] == annotations.KIND_QUESTION]
    assert input_rows == len(valid) + len(question_errors)
    return valid, errors, input_rows


def reasons(errors):
    return [error["reason"] for error in errors]


def tsv(*fields):
    return "\t".join(fields) + "\n"


ACTION_FIELDS = ("tumblr_x", "What does the cat do 3 times ?", "lick", "jump", "sit", "run", "roll")


@pytest.mark.parametrize("candidates, answer, reason", [
    (ACTION_FIELDS[2:6] + ("",), "0", "4 candidates instead of 5 (a5 empty)"),
    (ACTION_FIELDS[2:7], "5", "answer index 5 is out of range 0..4"),
    (ACTION_FIELDS[2:7], "-1", "answer index -1 is out of range 0..4"),
    (ACTION_FIELDS[2:7], "two", "answer 'two' is not a candidate index (an integer 0..4)"),
    (("lick", "?", "sit", "run", "roll"), "0", "candidate 1 ('?') has no words after normalisation"),
])
def test_tgif_multiple_choice_rejections(tmp_path, candidates, answer, reason):
    lines = sample_lines("tgif-qa/Test_action_question.csv", 2)
    bad = tsv(*ACTION_FIELDS[:2], *candidates, answer, "ACTION99999", "1")
    valid, errors, input_rows = read(tmp_path, "Test_action_question.csv", "".join(lines) + bad)
    assert (len(valid), input_rows, reasons(errors)) == (2, 3, [reason])
    assert errors[0]["source"].endswith("Test_action_question.csv:line 4")
    assert errors[0]["input"]["vid_id"] == "ACTION99999"


@pytest.mark.parametrize("answer, reason", [
    ("-1", "count answer '-1' is not a non-negative integer"),
    ("2.5", "count answer '2.5' is not a non-negative integer"),
    ("three", "count answer 'three' is not a non-negative integer"),
    ("", "missing or empty answer"),
])
def test_tgif_count_rejections(tmp_path, answer, reason):
    lines = sample_lines("tgif-qa/Train_count_question.csv", 1)
    bad = tsv("tumblr_x", "How many times does the cat lick ?", answer, "COUNT99999", "1")
    valid, errors, _ = read(tmp_path, "Train_count_question.csv", "".join(lines) + bad)
    assert len(valid) == 1 and reasons(errors) == [reason]


def test_tgif_frameqa_type_and_column_count_rejections(tmp_path):
    lines = sample_lines("tgif-qa/Test_frameqa_question.csv", 1)
    bad_type = tsv("tumblr_x", "what is red ?", "car", "7", "FRAMEQA99998", "1", "a red car")
    short = tsv("tumblr_y", "what is blue ?", "sky", "2", "FRAMEQA99999")
    valid, errors, input_rows = read(tmp_path, "Test_frameqa_question.csv", "".join(lines) + bad_type + short)
    assert (len(valid), input_rows) == (1, 3)
    assert reasons(errors) == [
        "FrameQA type '7' is not one of 0 object, 1 number, 2 color, 3 location",
        "expected 7 fields (gif_name, question, answer, type, vid_id, key, description), got 5"]


def test_next_qa_rejections(tmp_path):
    lines = sample_lines("nextqa/val.csv", 1)
    out_of_range = "4010069381,369,640,480,how do they play,5,7,CH,a,b,c,d,e\n"
    empty_candidate = "4010069381,369,640,480,how do they play,0,8,CH,a,b,,d,e\n"
    no_question = "4010069381,369,640,480,,0,9,CH,a,b,c,d,e\n"
    mapping = paths.read_mapping(os.path.join(DATASETS, "nextqa", "map_vid_vidorID.json"))
    valid, errors, input_rows = read(
        tmp_path, "val.csv", "".join(lines) + out_of_range + empty_candidate + no_question, mapping=mapping)
    assert (len(valid), input_rows) == (1, 4)
    assert reasons(errors) == ["answer index 5 is out of range 0..4", "4 candidates instead of 5 (a2 empty)",
                               "missing or empty question"]


def test_how2qa_segment_and_field_rejections(tmp_path):
    rows = ["abc,[5:5],1,2,3,how many cats?,4\n",          # End not after start.
            "abc,[9.5:3],1,2,3,how many dogs?,4\n",
            "abc,[-2:3],1,2,3,how many cows?,4\n",         # Starts before the clip.
            "abc,[a:b],1,2,3,how many hens?,4\n",
            "abc,[0:3],1,,3,how many pigs?,4\n",           # An empty wrong answer.
            "abc,[0:3],1,2,3,how many ducks?\n",           # Six fields.
            "abc,[0:3],1,2,3,how many geese?,4\n"]         # Valid.
    valid, errors, input_rows = read(tmp_path, "how2QA_train_release.csv", "".join(rows))
    assert (len(valid), input_rows) == (1, 7)
    assert reasons(errors) == [
        "segment [5:5]: its end is not after its start",
        "segment [9.5:3]: its end is not after its start",
        "segment [-2:3] starts before the clip",
        "segment '[a:b]' is not [start:end] in seconds",
        "3 candidates instead of 4 (wrong2 empty)",
        "expected 7 fields (yt_id,[start:end],wrong1,wrong2,wrong3,question,correct), got 6"]
    assert errors[1]["source"].endswith("how2QA_train_release.csv:line 2")


def write_json(tmp_path, name, rows):
    path = str(tmp_path / name)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(rows, handle) if not isinstance(rows, str) else handle.write(rows)
    return path


def activitynet_rows():
    with open(os.path.join(DATASETS, "activitynet-qa", "test_q.json"), encoding="utf-8") as handle:
        questions = json.load(handle)[:4]
    with open(os.path.join(DATASETS, "activitynet-qa", "test_a.json"), encoding="utf-8") as handle:
        answers = json.load(handle)[:4]
    return questions, answers


def read_activitynet(tmp_path, questions, answers):
    paths_read = [write_json(tmp_path, "test_q.json", questions), write_json(tmp_path, "test_a.json", answers)]
    videos = tmp_path / "videos"
    videos.mkdir(exist_ok=True)
    for question in questions if isinstance(questions, list) else []:
        (videos / f"v_{question['video_name']}.mkv").write_bytes(b"placeholder")
    sources = annotations.plan_sources(paths_read, "auto", annotations.read_file_head)
    return read_sources(tmp_path, sources)


def test_activitynet_questions_and_answers_that_do_not_pair(tmp_path):
    questions, answers = activitynet_rows()
    stray = dict(answers[3], question_id="v_nowhere_1")
    second = dict(answers[0], answer="maybe")
    bad_type = dict(answers[2], type=12)
    valid, errors, input_rows = read_activitynet(
        tmp_path, questions, [answers[0], second, bad_type, stray])  # answers[1] and [3] are missing.
    assert len(valid) == 1 and valid[0].question.answer == answers[0]["answer"]
    assert input_rows == 6  # 4 questions + a second answer + an answer without its question.
    assert sorted(reasons(errors)) == sorted([
        f"second answer for question_id {answers[0]['question_id']!r} (first at {tmp_path}/test_a.json:item 0)",
        "no answer for it in test_a.json",
        "type 12 is not one of 0 motion, 1 spatial, 2 temporal, 3 yes_no, 4 color, 5 object, 6 location, "
        "7 number, 8 other",
        "no answer for it in test_a.json",
        "answer without a question: its question_id is not in test_q.json"])


def test_activitynet_malformed_answers_file_rejects_the_file_and_accounts_every_question(tmp_path):
    questions, answers = activitynet_rows()
    truncated = json.dumps(answers)[:-30]  # A download cut short.
    valid, errors, input_rows = read_activitynet(tmp_path, questions, truncated)
    assert (len(valid), input_rows) == (0, 4)
    assert errors[0]["kind"] == "file" and errors[0]["reason"].startswith("malformed JSON at line 1 column ")
    assert reasons(errors[1:]) == ["no answer: test_a.json could not be read"] * 4


GOOD = {"id": "good", "question": "what is red?", "answer": "car", "video_id": "a", "question_type": "what"}


@pytest.mark.parametrize("row, reason", [
    ({"id": "q", "answer": "x", "video_id": "a"}, "missing or empty question"),
    ({"id": "q", "question": "what?", "answer": " ", "video_id": "a"}, "missing or empty answer"),
    ({"id": "q", "question": "what?", "answer": "x"}, "missing or empty video_id"),
    ({"id": "q", "question": "?!", "answer": "x", "video_id": "a"}, "empty question (no words after normalisation)"),
    ({"id": "q", "question": "what?", "answer": "...", "video_id": "a"}, "empty answer (no words after normalisation)"),
    ({"id": "q", "question": "what?", "answer": "x", "video_id": "a", "split": "dev"},
     "unknown split 'dev' (expected train, val or test)"),
    ({"id": "q", "question": "what?", "answer": "x", "video_id": "../secret"}, "escapes --video_dir"),
    ({"id": "q", "question": "what?", "answer": "x", "video_id": "/etc/passwd"}, "is absolute"),
    ({"id": "q", "question": "what \ud83d?", "answer": "x", "video_id": "a"}, "lone surrogate \\ud83d"),
])
def test_generic_row_rejections(tmp_path, row, reason):
    valid, errors, input_rows = read(tmp_path, "extra.jsonl", "\n".join(json.dumps(item) for item in (GOOD, row)),
                                     video_pattern="{video_id}.mp4")
    assert (len(valid), input_rows) == (1, 2)
    assert len(errors) == 1 and reason in errors[0]["reason"]
    assert errors[0]["source"].endswith("extra.jsonl:line 2") and errors[0]["kind"] == "question"


def test_generic_bad_utf8_malformed_and_unknown_files(tmp_path):
    content = b'[{"id": 1, "question": "caf\xe9?", "answer": "tea", "video_id": "a"},' \
              b' {"id": 2, "question": "what?", "answer": "tea", "video_id": "a"}]'
    valid, errors, _ = read(tmp_path, "train_qa.json", content, layout="generic")
    assert len(valid) == 1 and reasons(errors) == ["question is not valid UTF-8 (byte 0xe9 at character 3)"]
    assert errors[0]["input"]["question"] == "caf\\xe9?"
    valid, errors, input_rows = read(tmp_path, "broken.json", b'[{"id": 1, "question": "what?", "answer": "x",'
                                     b' "video_id": "a"},\n {"id": 2 "question": "x"}]', layout="generic")
    assert (valid, input_rows, errors[0]["kind"]) == ([], 0, "file")
    assert errors[0]["reason"].startswith("malformed JSON at line 2 column ")
    valid, errors, input_rows = read(tmp_path, "README.txt", "notes\n", layout="generic")
    assert (valid, input_rows) == ([], 0)
    assert reasons(errors) == ["unknown annotation format (expected .json, .jsonl, .csv or .tsv)"]


def test_generic_defaults_splits_types_ids_and_truncation(tmp_path):
    rows = [{"question": "what grows in the garden behind the old red house today?", "answer": "ball",
             "video_id": "a", "split": "Validation", "question_type": "change"},
            {"question": "how many cars?", "answer": "two", "video_id": "b"}]
    valid, errors, _ = read(tmp_path, "mine.json", json.dumps(rows), video_pattern="{video_id}.mp4")
    assert not errors
    first, second = valid
    assert (first.split, first.split_is_explicit, first.question.question_type, first.question.truncated) == (
        schema.VALIDATION_SPLIT, True, "change", True)
    assert (second.split, second.split_is_explicit, second.question.question_type, second.question.truncated) == (
        annotations.split_from_hash("b"), False, "how", False)
    assert [question.question.question_id for question in valid] == ["mine.json:0", "mine.json:1"]
    assert [question.source_order for question in valid] == [(str(tmp_path / "mine.json"), 0),
                                                             (str(tmp_path / "mine.json"), 1)]
