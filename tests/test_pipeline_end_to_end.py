"""The session's real `python -m pipeline.run` (DirectRunner, random weights) checked against the contract.

The run (tests/conftest.py) reads the synthetic set plus the bad inputs of
conftest.BAD_ROWS: a missing, an empty, a truncated and a text "video", a row
without a question, a whitespace question, and answers seen only in val/test.
"""

import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

import conftest
import shared_runs
from features import cnn, records, schema, text, video
from features import manifest as manifest_lib

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def manifest(pipeline_output):
    return manifest_lib.read_manifest(pipeline_output)


@pytest.fixture(scope="module")
def parsed(pipeline_output, manifest):
    """{split: [record dicts]} read back with the contract's NumPy parser."""
    return shared_runs.read_parsed(pipeline_output)


@pytest.fixture(scope="module")
def error_lines(pipeline_output):
    lines = []
    for path in glob.glob(os.path.join(pipeline_output, schema.ERRORS_DIR, "*")):
        with open(path, encoding="utf-8") as errors_file:
            lines += [json.loads(line) for line in errors_file if line.strip()]
    return lines


def annotation_rows(synthetic_dataset):
    rows = {}
    for split in schema.SPLITS:
        with open(os.path.join(synthetic_dataset, "annotations", f"{split}_qa.json"), encoding="utf-8") as qa:
            rows[split] = json.load(qa)
    return rows


def test_the_output_layout_and_every_record_parses_with_the_contract(pipeline_output, manifest, parsed):
    for split in schema.SPLITS:
        assert glob.glob(os.path.join(pipeline_output, f"{split}-*{schema.RECORD_FILE_SUFFIX}"))
    assert os.path.isdir(os.path.join(pipeline_output, schema.TRANSFORM_FN_DIR))
    assert manifest[manifest_lib.MANIFEST_SCHEMA_VERSION] == schema.SCHEMA_VERSION
    max_frames = manifest_lib.sampling_config(manifest).max_sampled_frames
    dtype = manifest_lib.feature_dtype(manifest)
    assert manifest_lib.feature_dim(manifest) == 2048 and manifest_lib.backbone_name(manifest) == "inception_v3"
    assert manifest_lib.task(manifest) == schema.TASK_OPEN_ENDED
    assert set(manifest[manifest_lib.MANIFEST_TIMINGS]) >= {"decode_videos", "embed_frames", "build_records", "wall"}
    for split, videos in parsed.items():
        assert videos
        for example in videos:
            assert example[schema.SPLIT_KEY] == split
            assert example[schema.SCHEMA_VERSION_KEY] == schema.SCHEMA_VERSION
            features = example[schema.FRAME_FEATURES_KEY]
            assert features.shape == (example[schema.NUM_FRAMES_KEY], 2048)
            assert 0 < example[schema.NUM_FRAMES_KEY] <= max_frames
            questions = example[schema.QUESTION_KEY]
            for key in (schema.QUESTION_ID_KEY, schema.QUESTION_TYPE_KEY, schema.ANSWER_KEY, schema.LABEL_KEY,
                        schema.QUESTION_TOKEN_IDS_KEY):
                assert len(example[key]) == len(questions), key
            assert all(ids and min(ids) > schema.PADDING_TOKEN_ID for ids in example[schema.QUESTION_TOKEN_IDS_KEY])
    # The TensorFlow parser (the trainer's) agrees with the NumPy one.
    first = next(records.read_records(schema.record_file_pattern(pipeline_output, schema.TRAIN_SPLIT)))
    from_tensorflow = records.parse_video_example(tf.constant(first), dtype, 2048)
    expected = records.parse_video_example_numpy(first, dtype, 2048)
    np.testing.assert_array_equal(from_tensorflow[schema.FRAME_FEATURES_KEY].numpy(),
                                  expected[schema.FRAME_FEATURES_KEY])
    assert int(from_tensorflow[schema.NUM_FRAMES_KEY]) == expected[schema.NUM_FRAMES_KEY]
    assert from_tensorflow[schema.QUESTION_TOKEN_IDS_KEY].to_list() == expected[schema.QUESTION_TOKEN_IDS_KEY]


def test_features_equal_a_direct_call_of_the_cnn_on_the_same_sampled_frames(synthetic_dataset, manifest, parsed):
    cnn_config = manifest_lib.cnn_config(manifest)
    frozen = cnn.FrozenCnn(cnn_config["backbone"], cnn_config["weights"], cnn_config["image_size"])
    assert frozen.describe()["weights_sha256"] == cnn_config["weights_sha256"]
    sampling_config = manifest_lib.sampling_config(manifest)
    for example in parsed[schema.TEST_SPLIT][:3]:
        path = os.path.join(synthetic_dataset, "videos", f"video{example[schema.VIDEO_ID_KEY]}.mp4")
        decoded = video.decode_video(path, sampling_config, cnn_config["image_size"])
        direct = np.asarray(frozen.embed(decoded.frames))
        stored = example[schema.FRAME_FEATURES_KEY]
        assert stored.shape == direct.shape
        # float16 storage: relative error about 1e-3 of each value.
        np.testing.assert_allclose(stored, direct, rtol=2e-3, atol=1e-3)


def test_vocabularies_come_from_the_train_split_only(pipeline_output, synthetic_dataset, parsed):
    transform_output = tft.TFTransformOutput(pipeline_output)
    answers = {value.decode() for value in
               transform_output.vocabulary_by_name(schema.ANSWER_VOCABULARY_NAME)}
    rows = annotation_rows(synthetic_dataset)
    train_answers = set(text.normalize_answers_python([row["answer"] for row in rows["train"]]))
    assert answers == train_answers
    assert conftest.VAL_ONLY_ANSWER not in answers and conftest.TEST_ONLY_ANSWER not in answers
    tokens = {value.decode() for value in
              transform_output.vocabulary_by_name(schema.QUESTION_VOCABULARY_NAME)}
    assert "grass" not in tokens and "sky" not in tokens  # Words of val/test questions only.
    # The test-only answer stays in the records, labelled "not in vocabulary".
    labels = {answer: label for example in parsed[schema.TEST_SPLIT]
              for answer, label in zip(example[schema.ANSWER_KEY], example[schema.LABEL_KEY])}
    assert labels[conftest.TEST_ONLY_ANSWER] == schema.OUT_OF_VOCABULARY_LABEL
    assert all(label >= 0 for answer, label in labels.items() if answer in answers)


def test_no_video_is_in_two_splits_and_each_video_is_written_once(parsed):
    seen = {}
    for split, videos in parsed.items():
        for example in videos:
            video_id = example[schema.VIDEO_ID_KEY]
            assert video_id not in seen, f"video {video_id} in {seen.get(video_id)} and {split}"
            seen[video_id] = split


def test_manifest_counts_match_the_records(manifest, parsed, error_lines):
    counts = manifest[manifest_lib.MANIFEST_COUNTS]
    for split, videos in parsed.items():
        assert counts[split]["videos"] == len(videos)
        assert counts[split]["questions"] == sum(len(example[schema.QUESTION_KEY]) for example in videos)
        assert counts[split]["frames"] == sum(example[schema.NUM_FRAMES_KEY] for example in videos)
    written = sum(counts[split]["questions"] for split in schema.SPLITS)
    rejected = sum(1 for line in error_lines if line["kind"] == "question")
    assert counts["written_questions"] == written
    assert counts["rejected_questions"] == rejected
    assert counts["input_questions"] == written + rejected


def test_every_input_row_is_written_or_rejected_with_its_reason(synthetic_dataset, parsed, error_lines,
                                                                 pipeline_run):
    written_ids = {question_id for videos in parsed.values() for example in videos
                   for question_id in example[schema.QUESTION_ID_KEY]}
    rejected = {}
    for line in error_lines:
        question_id = line.get("input", {}).get("id", line.get("input", {}).get("question_id"))
        rejected[str(question_id)] = line
    for split, rows in annotation_rows(synthetic_dataset).items():
        for row in rows:
            question_id = str(row["id"])
            assert (question_id in written_ids) != (question_id in rejected), row
    for row in [row for rows in conftest.BAD_ROWS.values() for row in rows]:
        if row["expected"] is None:
            assert str(row["id"]) in written_ids
        else:
            line = rejected[str(row["id"])]
            assert row["expected"] in line["reason"], line
            assert line["stage"] and line["source"]
            if isinstance(row["video_id"], int) and row["video_id"] >= 9000:
                assert f"video{row['video_id']}.mp4" in line["reason"] + line["source"]
    summary = pipeline_run["stdout"]
    total = sum(len(rows) for rows in annotation_rows(synthetic_dataset).values())
    assert f"input questions: {total} = written {len(written_ids)} + rejected {len(rejected)}" in summary


def test_the_run_reports_that_the_cnn_weights_were_random_and_prints_no_library_noise(pipeline_run):
    assert "RANDOM InceptionV3 weights" in pipeline_run["stdout"]
    for noise in ("cudart_stub", "cpu_feature_guard", "All log messages before absl", "cuInit"):
        assert noise not in pipeline_run["stderr"]
