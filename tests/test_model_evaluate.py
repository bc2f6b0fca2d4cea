"""model.evaluate: numbers equal a hand count; reports are written; bad dirs are refused clearly."""

import collections
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from features import manifest as manifest_lib
from features import questions as questions_lib
from features import quantize, records, schema
from model import checkpoint, data_info, evaluate, storage

import model_helpers
import shared_runs

pytestmark = pytest.mark.slow

UNKNOWN_ANSWER = "zebra crossing"


@pytest.fixture(scope="module")
def model_dir(pipeline_output, tmp_path_factory):
    return model_helpers.exported_model(pipeline_output, tmp_path_factory)


def copy_data_dir(pipeline_output, destination):
    shutil.copytree(pipeline_output, destination)
    return str(destination)


def rewrite_test_split_with_unknown_answers(data_dir):
    """Give every other test video's first question an answer outside the vocabulary.

    Returns how many test questions then have an answer outside the vocabulary
    (the pipeline fixture already has one of its own)."""
    manifest = manifest_lib.read_manifest(data_dir)
    dtype, feature_dim = manifest_lib.feature_dtype(manifest), manifest_lib.feature_dim(manifest)
    pattern = schema.record_file_pattern(data_dir, schema.TEST_SPLIT)
    serialized_videos = list(records.read_records(pattern))
    for path in tf.io.gfile.glob(pattern):
        os.remove(path)
    path = f"{data_dir}/{schema.TEST_SPLIT}-00000-of-00001{schema.RECORD_FILE_SUFFIX}"
    unknown = 0
    with tf.io.TFRecordWriter(path, options=schema.RECORD_COMPRESSION) as writer:
        for index, serialized in enumerate(serialized_videos):
            video = records.parse_video_example_numpy(serialized, dtype, feature_dim)
            questions = [questions_lib.Question(question_id=question_id, question=text, answer=answer,
                                                question_type=question_type, source="test")
                         for text, question_id, question_type, answer in zip(
                             video[schema.QUESTION_KEY], video[schema.QUESTION_ID_KEY],
                             video[schema.QUESTION_TYPE_KEY], video[schema.ANSWER_KEY])]
            labels = list(video[schema.LABEL_KEY])
            if index % 2 == 0:
                questions[0].answer, labels[0] = UNKNOWN_ANSWER, schema.OUT_OF_VOCABULARY_LABEL
            unknown += sum(1 for label in labels if label == schema.OUT_OF_VOCABULARY_LABEL)
            frames = quantize.encode_frames(video[schema.FRAME_FEATURES_KEY], dtype)
            writer.write(records.build_video_example(
                video[schema.VIDEO_ID_KEY], schema.TEST_SPLIT, frames, questions, labels,
                video[schema.QUESTION_TOKEN_IDS_KEY]).SerializeToString())
    return unknown


def hand_count(model, data_dir):
    """Per question type [questions, correct], predicting one question at a time."""
    counts = collections.defaultdict(lambda: [0, 0])
    for video in shared_runs.read_parsed(data_dir)[schema.TEST_SPLIT]:
        frames = video[schema.FRAME_FEATURES_KEY]
        for question_type, label, token_ids in zip(video[schema.QUESTION_TYPE_KEY], video[schema.LABEL_KEY],
                                                   video[schema.QUESTION_TOKEN_IDS_KEY]):
            probabilities = model({schema.FRAME_FEATURES_KEY: frames[np.newaxis],
                                   schema.NUM_FRAMES_KEY: np.array([len(frames)], np.int32),
                                   schema.QUESTION_TOKEN_IDS_KEY: np.array([token_ids], np.int32)},
                                  training=False).numpy()
            counts[question_type][0] += 1
            counts[question_type][1] += int(label >= 0 and int(np.argmax(probabilities)) == label)
    return counts


def test_evaluation_matches_a_hand_count(model_dir, pipeline_output, tmp_path, capsys):
    data_dir = copy_data_dir(pipeline_output, tmp_path / "data")
    unknown = rewrite_test_split_with_unknown_answers(data_dir)
    assert evaluate.run(["--data_dir", data_dir, "--model_dir", model_dir, "--split", "test"]) == 0
    printed = capsys.readouterr().out
    results = storage.read_json(os.path.join(model_dir, storage.EVAL_DIR, "test.json"))

    model, _, _ = checkpoint.load_trained_model(model_dir, data_info.load_data_info(data_dir))
    expected = hand_count(model, data_dir)
    assert {name: [row["questions"], row["correct"]] for name, row in results["per_type"].items()} == \
        {name: counts for name, counts in expected.items()}
    total_questions = sum(counts[0] for counts in expected.values())
    total_correct = sum(counts[1] for counts in expected.values())
    assert results["overall"]["questions"] == total_questions
    assert results["overall"]["correct"] == total_correct
    assert results["overall"]["accuracy"] == pytest.approx(total_correct / total_questions)
    assert results["out_of_vocabulary"] == unknown > 0
    assert results["vocabulary_ceiling"] == pytest.approx((total_questions - unknown) / total_questions)
    assert "Vocabulary ceiling:" in printed
    for name, row in results["per_type"].items():
        assert row["accuracy"] == pytest.approx(row["correct"] / row["questions"])
        assert f"| {name} | {row['questions']} | {row['correct']} |" in printed

    eval_dir = os.path.join(model_dir, storage.EVAL_DIR)
    assert open(os.path.join(eval_dir, "test.md")).read() in printed
    for name in ("test_accuracy_by_type.png", "training_curves.png"):
        with open(os.path.join(eval_dir, name), "rb") as image:
            assert image.read(8) == b"\x89PNG\r\n\x1a\n"


def assert_refused(capsys, argv, *fragments):
    assert evaluate.run(argv) == 2
    error = capsys.readouterr().err
    assert "Traceback" not in error
    for fragment in fragments:
        assert fragment in error, (fragment, error)
    return error


def test_missing_model_dir_and_data_dir_are_refused(model_dir, pipeline_output, tmp_path, capsys):
    assert_refused(capsys, ["--data_dir", pipeline_output, "--model_dir", str(tmp_path / "nope")],
                   "does not exist", "python -m model.train")
    assert_refused(capsys, ["--data_dir", pipeline_output, "--model_dir", str(tmp_path)],
                   "holds no config.json")
    assert_refused(capsys, ["--data_dir", str(tmp_path / "nodata"), "--model_dir", model_dir],
                   "nodata does not exist", "pipeline.run")


def test_data_dir_of_another_schema_version_is_refused(model_dir, pipeline_output, tmp_path, capsys):
    data_dir = copy_data_dir(pipeline_output, tmp_path / "data")
    path = manifest_lib.manifest_path(data_dir)
    manifest = json.load(open(path))
    manifest[manifest_lib.MANIFEST_SCHEMA_VERSION] = schema.SCHEMA_VERSION + 1
    json.dump(manifest, open(path, "w"))
    assert_refused(capsys, ["--data_dir", data_dir, "--model_dir", model_dir],
                   "schema version", "re-run `python -m pipeline.run`")


def test_data_dir_with_another_vocabulary_is_refused(model_dir, pipeline_output, tmp_path, capsys):
    data_dir = copy_data_dir(pipeline_output, tmp_path / "data")
    vocabulary = tft.TFTransformOutput(data_dir).vocabulary_file_by_name(schema.ANSWER_VOCABULARY_NAME)
    with open(vocabulary, "a") as handle:
        handle.write("zebra\n")
    assert_refused(capsys, ["--data_dir", data_dir, "--model_dir", model_dir],
                   "does not match the data the model", "answer_vocabulary_size", "re-train")


def test_corrupted_weights_are_reported(model_dir, pipeline_output, tmp_path, capsys):
    broken = str(tmp_path / "model")
    shutil.copytree(model_dir, broken)
    weights = os.path.join(broken, storage.BEST_WEIGHTS_FILE)
    with open(weights, "r+b") as handle:
        handle.truncate(os.path.getsize(weights) // 3)
    assert_refused(capsys, ["--data_dir", pipeline_output, "--model_dir", broken],
                   storage.BEST_WEIGHTS_FILE, "corrupted")
