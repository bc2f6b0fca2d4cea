"""Issue 5: bad videos, bad annotation rows and escaping paths fed to the real `python -m pipeline.run`.

Every case is in ONE run (`bad_inputs.build_bad_dataset`, run once per
session): the tests below read its errors/*.jsonl, its printed summary, its
manifest and its records. Each rejected question must appear in errors/ with
the stage and a reason naming the file; each valid-but-odd video must be
accepted with the right facts; and every input question must be counted as
written or rejected.
"""

import collections
import os
import re

import numpy as np
import pytest

from features import manifest as manifest_lib
from features import sampling, schema, text

import bad_inputs

pytestmark = pytest.mark.slow

SUMMARY_PATTERN = re.compile(r"input questions: (\d+) = written (\d+) \+ rejected (\d+)")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return bad_inputs.bad_inputs_run(tmp_path_factory)


@pytest.fixture(scope="module")
def output_dir(run):
    return run["output_dir"]


@pytest.fixture(scope="module")
def errors(output_dir):
    return bad_inputs.read_errors(output_dir)


@pytest.fixture(scope="module")
def videos(output_dir):
    return bad_inputs.read_videos(output_dir)


@pytest.fixture(scope="module")
def written(videos):
    """{question_id: (video_id, index of the question in its video's record)}."""
    found = {}
    for video_id, video in videos.items():
        for index, question_id in enumerate(video[schema.QUESTION_ID_KEY]):
            assert question_id not in found, f"question {question_id} written twice"
            found[question_id] = (video_id, index)
    return found


def errors_of(errors, question_id):
    return [error for error in errors if bad_inputs.error_question_id(error) == question_id]


def the_error(errors, question_id, stage):
    found = errors_of(errors, question_id)
    assert len(found) == 1, f"{question_id}: expected one error, got {found}"
    assert found[0]["stage"] == stage, found[0]
    assert found[0]["kind"] == "question"
    return found[0]


def question(videos, written, question_id):
    video_id, index = written[question_id]
    video = videos[video_id]
    return {key: video[key][index] for key in (schema.QUESTION_KEY, schema.ANSWER_KEY, schema.LABEL_KEY,
                                               schema.QUESTION_TOKEN_IDS_KEY, schema.QUESTION_TYPE_KEY)}


# The run as a whole.

def test_the_run_finishes_and_counts_every_question(run, errors, written):
    dataset = run["dataset"]
    expected = dataset["expected"]
    match = SUMMARY_PATTERN.search(run["stdout"])
    assert match, run["stdout"]
    total, written_count, rejected_count = map(int, match.groups())
    assert total == written_count + rejected_count
    # Rows of files that were read: every id'd row, the later duplicates, and two bad JSONL lines.
    assert total == len(expected) + len(dataset["duplicates"]) + 2
    assert written_count == sum(outcome == "written" for outcome in expected.values()) == len(written)
    assert rejected_count == sum(error["kind"] == "question" for error in errors)
    assert "annotation files read: 7, rejected whole: 2" in run["stdout"]
    counts = manifest_lib.read_manifest(run["output_dir"])[manifest_lib.MANIFEST_COUNTS]
    assert (counts["input_questions"], counts["written_questions"], counts["rejected_questions"]) == \
        (total, written_count, rejected_count)
    by_stage = collections.Counter(error["stage"] for error in errors)
    assert counts["rejected_by_stage"] == dict(by_stage)
    stage_line = ", ".join(f"{stage} {count}" for stage, count in sorted(by_stage.items()))
    assert f"rejected by stage: {stage_line}" in run["stdout"]
    assert "Traceback" not in run["stderr"]


def test_every_question_has_its_expected_outcome(run, errors, written):
    for question_id, outcome in run["dataset"]["expected"].items():
        if outcome == "written":
            assert question_id in written, question_id
            assert not errors_of(errors, question_id) or question_id in run["dataset"]["duplicates"]
        else:
            assert question_id not in written, question_id
            the_error(errors, question_id, outcome)


def test_error_records_are_one_json_object_per_line_with_input_stage_and_reason(errors):
    assert errors
    for error in errors:
        assert {"kind", "stage", "reason", "source"} <= set(error)
        assert error["reason"] and error["source"]
        if error["kind"] == "question" and ":line " not in error["source"]:
            assert error["input"], error


# Video files.

@pytest.mark.parametrize("question_id, file_name, reason", [
    ("video-missing", "absent.mp4", "file not found"),
    ("video-empty", "empty.mp4", "file is empty (0 bytes)"),
    ("video-truncated-tail", "truncated_tail.mp4", "truncated: the MP4 box 'mdat'"),
    ("video-truncated-indexed", "truncated_indexed.mp4", "truncated: the container declares 48 frames but only"),
    ("video-truncated-mkv", "truncated.mkv", "truncated: the container declares 2.00 s of video"),
    ("video-random", "random.mp4", "not a readable video container"),
    ("video-text", "readme.avi", "not a readable video container"),
    ("video-audio", "audio_only.m4a", "no video stream (streams present: audio)"),
])
def test_unusable_video_files_are_rejected_with_the_file_and_reason(run, errors, question_id, file_name,
                                                                   reason):
    error = the_error(errors, question_id, "decode_video")
    assert error["reason"].startswith(os.path.join(run["dataset"]["videos"], file_name) + ": ")
    assert reason in error["reason"]
    assert error["input"]["video_id"] == file_name
    assert error["source"].endswith("train_qa.json:item " + error["source"].rsplit(" ", 1)[-1])


def test_a_one_frame_video_is_accepted_with_its_true_frame_count(videos):
    video = videos["one_frame.mp4"]
    assert video[schema.NUM_FRAMES_KEY] == 1
    assert video[schema.FRAME_FEATURES_KEY].shape == (1, 2048)
    assert np.isfinite(video[schema.FRAME_FEATURES_KEY]).all()


def test_a_long_clip_gives_the_sampled_frames_only(videos):
    video = videos["long.mp4"]
    assert video[schema.NUM_FRAMES_KEY] == bad_inputs.FRAMES_PER_VIDEO
    assert video[schema.FRAME_FEATURES_KEY].shape == (bad_inputs.FRAMES_PER_VIDEO, 2048)


def test_a_4k_clip_is_accepted(videos):
    video = videos["uhd_4k.mp4"]
    assert video[schema.NUM_FRAMES_KEY] == 3
    features = video[schema.FRAME_FEATURES_KEY]
    assert np.isfinite(features).all() and np.abs(features).max() > 0


def test_a_variable_frame_rate_clip_is_sampled_by_presentation_time(videos):
    by_time = sampling.select_frame_indices(
        sampling.SamplingConfig(frames_per_video=bad_inputs.FRAMES_PER_VIDEO), bad_inputs.VFR_TIMES)
    assert len(by_time) == 5  # By frame count it would be 8 frames, 7 of them from the first 0.6 s.
    assert videos["vfr.mp4"][schema.NUM_FRAMES_KEY] == len(by_time)


def relative_distance(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def test_a_rotated_phone_video_is_turned_upright_before_the_cnn(videos):
    features = {name: videos[f"phone_{name}.mp4"][schema.FRAME_FEATURES_KEY]
                for name in ("rotated", "upright", "sideways")}
    to_upright = relative_distance(features["rotated"], features["upright"])
    to_sideways = relative_distance(features["rotated"], features["sideways"])
    assert to_upright < 0.5 * to_sideways, (to_upright, to_sideways)


def test_a_container_with_two_video_streams_uses_the_default_one(videos):
    # Stream 0 has 3 frames, stream 1 (marked default) has 5: the record has 5.
    assert videos["two_streams.mp4"][schema.NUM_FRAMES_KEY] == 5


# Annotations.

def test_a_malformed_json_file_is_rejected_whole_with_its_position(run, errors, written):
    found = [error for error in errors if error["source"].endswith("broken.json")]
    assert len(found) == 1
    assert found[0]["kind"] == "file" and found[0]["stage"] == "read_annotations"
    assert found[0]["reason"].startswith("malformed JSON at line 3 column ")
    assert "b1" not in written
    readme = [error for error in errors if error["source"].endswith("README.txt")]
    assert len(readme) == 1 and "unknown annotation format" in readme[0]["reason"]


@pytest.mark.parametrize("question_id, reason", [
    ("no-question", "missing or empty question"),
    ("no-answer", "missing or empty answer"),
    ("no-video", "missing or empty video_id"),
    ("empty-question", "missing or empty question"),
    ("blank-question", "missing or empty question"),
    ("blank-answer", "missing or empty answer"),
    ("punctuation-question", "empty question (no words after normalisation)"),
    ("emoji-question", "empty question (no words after normalisation)"),
    ("split-unknown", "unknown split 'dev'"),
])
def test_bad_rows_are_rejected_with_the_row_and_reason(errors, question_id, reason):
    error = the_error(errors, question_id, "read_annotations")
    assert reason in error["reason"]
    assert re.search(r"(train_qa\.json:item|extra\.jsonl:line) \d+$", error["source"]), error["source"]


def test_a_long_question_is_truncated_and_counted(run, videos, written):
    asked = question(videos, written, "long-question")
    assert asked[schema.QUESTION_KEY] == bad_inputs.LONG_QUESTION  # The text is kept whole.
    assert len(asked[schema.QUESTION_TOKEN_IDS_KEY]) == bad_inputs.MAX_QUESTION_TOKENS
    assert len(bad_inputs.LONG_QUESTION.split()) > bad_inputs.MAX_QUESTION_TOKENS
    assert f"questions truncated to {bad_inputs.MAX_QUESTION_TOKENS} tokens: 1" in run["stdout"]
    counts = manifest_lib.read_manifest(run["output_dir"])[manifest_lib.MANIFEST_COUNTS]
    assert counts["truncated_questions"] == 1
    assert all(len(ids) <= bad_inputs.MAX_QUESTION_TOKENS
               for video in videos.values() for ids in video[schema.QUESTION_TOKEN_IDS_KEY])


def test_text_that_is_not_valid_utf8_rejects_only_its_row(errors, written):
    latin = the_error(errors, "latin-1", "read_annotations")
    assert latin["reason"] == "question is not valid UTF-8 (byte 0xe9 at character 3)"
    assert latin["source"].endswith("train_qa.json:item 52")
    assert latin["input"]["question"] == "caf\\xe9 or tea?"  # Shown escaped, written as valid UTF-8.
    surrogate = the_error(errors, "lone-surrogate", "read_annotations")
    assert "lone surrogate \\ud83d" in surrogate["reason"]
    line = [error for error in errors if error["source"].endswith("extra.jsonl:line 6")]
    assert len(line) == 1 and line[0]["reason"].startswith("not valid UTF-8 at byte ")
    malformed = [error for error in errors if error["source"].endswith("extra.jsonl:line 5")]
    assert len(malformed) == 1 and malformed[0]["reason"].startswith("malformed JSON at column ")
    assert "good-1a" in written and "split-validation" in written  # The files' other rows are kept.


def tokens_of(output_dir, token_ids):
    vocabulary = bad_inputs.read_vocabulary(output_dir, schema.QUESTION_VOCABULARY_NAME)
    return [vocabulary[token_id - schema.TOKEN_ID_OFFSET] if token_id - schema.TOKEN_ID_OFFSET < len(vocabulary)
            else "<oov>" for token_id in token_ids]


@pytest.mark.parametrize("question_id, asked, tokens", [
    ("unicode-es", "¿Qué está haciendo el HOMBRE?", ["qué", "está", "haciendo", "el", "hombre"]),
    ("unicode-ru", "Что делает мужчина?", ["что", "делает", "мужчина"]),
    ("unicode-zh", "这个人在做什么？", ["这个人在做什么"]),
    ("unicode-emoji", "what is the 🐶 doing?", ["what", "is", "the", "doing"]),
])
def test_unicode_questions_are_kept_and_tokenised(output_dir, videos, written, question_id, asked, tokens):
    stored = question(videos, written, question_id)
    assert stored[schema.QUESTION_KEY] == asked
    assert tokens_of(output_dir, stored[schema.QUESTION_TOKEN_IDS_KEY]) == tokens


def test_questions_with_combining_marks_keep_their_words(output_dir, videos, written):
    stored = question(videos, written, "unicode-hi")
    assert stored[schema.QUESTION_KEY] == "बच्चा क्या कर रहा है?"
    assert tokens_of(output_dir, stored[schema.QUESTION_TOKEN_IDS_KEY]) == ["बच्चा", "क्या", "कर", "रहा", "है"]


def test_duplicate_question_ids_keep_the_first_and_reject_the_rest(run, errors, videos, written):
    for question_id, (first, later) in run["dataset"]["duplicates"].items():
        error = the_error(errors, question_id, "deduplicate_questions")
        assert error["reason"].startswith(f"duplicate question id {question_id!r} (first seen at ")
        assert "train_qa.json:item " in error["reason"]
        assert error["input"]["question"] == later
        assert question(videos, written, question_id)[schema.QUESTION_KEY] == first


@pytest.mark.parametrize("video_id, question_ids, how", [
    ("good_6.mp4", ("split-train", "split-test"), "row split fields"),
    ("good_3.mp4", ("two-files-train", "two-files-test"), "train_qa.json and test_qa.json"),
])
def test_a_video_in_two_splits_is_refused_not_leaked(errors, videos, video_id, question_ids, how):
    assert video_id not in videos, how
    for question_id in question_ids:
        error = the_error(errors, question_id, "assign_splits")
        assert error["reason"].startswith(f"video {video_id!r} is annotated in splits test and train")


def test_split_names_from_rows_are_normalised(videos):
    assert videos["good_7.mp4"][schema.SPLIT_KEY] == schema.VALIDATION_SPLIT  # "split": "validation"


def test_a_byte_order_mark_before_the_first_jsonl_line_is_ignored(errors, written):
    assert "bom-first-line" in written
    assert not [error for error in errors if "windows.jsonl" in error["source"]]


def test_answers_differing_in_case_or_spacing_are_one_vocabulary_entry(output_dir, videos, written):
    answers = bad_inputs.read_vocabulary(output_dir, schema.ANSWER_VOCABULARY_NAME)
    assert answers.count("red") == 1 and answers.count("dark red") == 1
    assert not {"Red", " red ", "RED", "red.", "Dark  Red"} & set(answers)
    for group, entry in ((("good-1a", "good-2a", "good-2b", "good-2c"), "red"),
                         (("good-2d", "good-2e"), "dark red")):
        labels = {question(videos, written, question_id)[schema.LABEL_KEY] for question_id in group}
        assert labels == {answers.index(entry)}
        raw = [question(videos, written, question_id)[schema.ANSWER_KEY] for question_id in group]
        assert text.normalize_answers_python(raw) == [entry] * len(group)  # The serving rule too.
    # "Blue " in the test split: normalised to "blue", not a training answer: out of vocabulary.
    assert question(videos, written, "good-5a")[schema.LABEL_KEY] == schema.OUT_OF_VOCABULARY_LABEL


# Paths.

@pytest.mark.parametrize("index, reason", [
    (0, "escapes --video_dir"), (1, "escapes --video_dir"), (2, "is absolute"), (3, "escapes --video_dir"),
    (4, "escapes --video_dir"), (5, "is absolute"), (6, "is absolute"), (7, "contains control characters"),
])
def test_video_ids_that_would_leave_the_video_dir_are_rejected(errors, videos, index, reason):
    video_id = bad_inputs.ESCAPING_IDS[index]
    error = the_error(errors, f"escape-{index}", "read_annotations")
    assert error["reason"].startswith(f"video path {video_id!r} ") and reason in error["reason"]
    assert error["input"]["video_id"] == video_id
    assert video_id not in videos


def test_a_link_inside_the_video_dir_that_points_outside_is_refused(errors, written):
    refused = [error for error in errors if bad_inputs.error_question_id(error) == "video-link-outside"]
    assert len(refused) == 1 and "links outside --video_dir" in refused[0]["reason"]
    assert "--allow_links_outside" in refused[0]["reason"]
    assert "video-link-inside" in written
