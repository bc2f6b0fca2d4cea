"""tf.data input: one example per (video, question), padding, unknown answers, counts."""

import dataclasses
import os

import numpy as np
import pytest
import tensorflow as tf

from features import manifest as manifest_lib
from features import quantize, questions, records, schema
from model import data

MAX_FRAMES = 6
MAX_TOKENS = 5
FEATURE_DIM = 12
SPEC = data.InputSpec(task=schema.TASK_OPEN_ENDED, feature_dtype="float32", feature_dim=FEATURE_DIM,
                      max_frames=MAX_FRAMES, max_question_tokens=MAX_TOKENS)


def write_records(data_dir, split, videos):
    """videos: list of (video_id, frames [n, FEATURE_DIM], [(Question, label, token ids, candidate ids)])."""
    path = f"{data_dir}/{split}-00000-of-00001{schema.RECORD_FILE_SUFFIX}"
    with tf.io.TFRecordWriter(path, options=schema.RECORD_COMPRESSION) as writer:
        for video_id, frames, rows in videos:
            candidates = [row[3] for row in rows] if rows[0][3] is not None else None
            example = records.build_video_example(
                video_id, split, quantize.encode_frames(frames, "float32"), [row[0] for row in rows],
                [row[1] for row in rows], [row[2] for row in rows], candidates)
            writer.write(example.SerializeToString())


def question(question_id, label, token_ids, question_type="what", candidate_ids=None):
    candidates = tuple(f"candidate {index}" for index in range(len(candidate_ids or ())))
    return (questions.Question(question_id=question_id, question=f"question {question_id}",
                               answer="zebra" if label < 0 else f"answer {label}", question_type=question_type,
                               source="test", candidates=candidates),
            label, token_ids, candidate_ids)


@pytest.fixture
def tiny_data_dir(tmp_path):
    rng = np.random.default_rng(0)
    videos = [
        ("7", rng.normal(size=(4, FEATURE_DIM)),
         [question("q1", 2, [3, 4]), question("q2", schema.OUT_OF_VOCABULARY_LABEL, [5, 6, 7, 8, 9, 10]),
          question("q3", 0, [11], "count")]),
        ("8", rng.normal(size=(MAX_FRAMES + 2, FEATURE_DIM)), [question("q4", 1, [12, 13, 14])]),
    ]
    write_records(str(tmp_path), schema.TRAIN_SPLIT, videos)
    return str(tmp_path), videos


def collect(dataset):
    return [element for element in dataset.unbatch().as_numpy_iterator()]


def test_evaluation_keeps_every_question_padded_and_truncated(tiny_data_dir):
    data_dir, videos = tiny_data_dir
    dataset = data.make_dataset(data_dir, schema.TRAIN_SPLIT, SPEC, batch_size=3, keep_metadata=True)
    examples = collect(dataset)
    assert [example[schema.QUESTION_ID_KEY] for example in examples] == [b"q1", b"q2", b"q3", b"q4"]
    assert [example[schema.LABEL_KEY] for example in examples] == [2, -1, 0, 1]
    assert [example[schema.NUM_FRAMES_KEY] for example in examples] == [4, 4, 4, MAX_FRAMES]
    first = examples[0]
    assert first[schema.FRAME_FEATURES_KEY].shape == (MAX_FRAMES, FEATURE_DIM)
    np.testing.assert_allclose(first[schema.FRAME_FEATURES_KEY][:4], videos[0][1], rtol=1e-6)
    assert not first[schema.FRAME_FEATURES_KEY][4:].any()
    np.testing.assert_array_equal(examples[1][schema.QUESTION_TOKEN_IDS_KEY], [5, 6, 7, 8, 9])
    np.testing.assert_array_equal(examples[2][schema.QUESTION_TOKEN_IDS_KEY], [11, 0, 0, 0, 0])
    np.testing.assert_allclose(examples[3][schema.FRAME_FEATURES_KEY], videos[1][1][:MAX_FRAMES], rtol=1e-6)
    assert examples[2][schema.QUESTION_TYPE_KEY] == b"count"
    assert examples[3][schema.VIDEO_ID_KEY] == b"8"


def test_training_drops_unknown_answers_and_yields_model_inputs(tiny_data_dir):
    data_dir, _ = tiny_data_dir
    dataset = data.make_dataset(data_dir, schema.TRAIN_SPLIT, SPEC, batch_size=1, training=True,
                                shuffle_buffer=8, seed=0)
    spec, _ = dataset.element_spec
    assert spec[schema.FRAME_FEATURES_KEY].shape == (1, MAX_FRAMES, FEATURE_DIM)
    assert spec[schema.QUESTION_TOKEN_IDS_KEY].shape == (1, MAX_TOKENS)
    batches = list(dataset.as_numpy_iterator())
    labels = sorted(int(label[0]) for _, label in batches)
    assert labels == [0, 1, 2]
    inputs, _ = batches[0]
    assert set(inputs) == set(SPEC.input_keys)
    assert inputs[schema.QUESTION_TOKEN_IDS_KEY].dtype == np.int32
    assert data.count_examples(data_dir, schema.TRAIN_SPLIT) == 4
    assert data.count_examples(data_dir, schema.TRAIN_SPLIT, in_vocabulary_only=True) == 3


def test_the_input_cache_serves_later_epochs_without_the_records(tiny_data_dir):
    data_dir, _ = tiny_data_dir
    cached, uncached = (data.make_dataset(data_dir, schema.TRAIN_SPLIT, SPEC, batch_size=3, keep_metadata=True,
                                          cache=cache) for cache in (True, False))
    first = collect(cached)
    collect(uncached)
    for path in data.record_files(data_dir, schema.TRAIN_SPLIT):
        os.remove(path)
    second = collect(cached)  # From memory: the shards are gone.
    assert [example[schema.QUESTION_ID_KEY] for example in second] == [b"q1", b"q2", b"q3", b"q4"]
    for before, after in zip(first, second):
        np.testing.assert_array_equal(before[schema.FRAME_FEATURES_KEY], after[schema.FRAME_FEATURES_KEY])
    with pytest.raises(tf.errors.NotFoundError):
        collect(uncached)


def test_cache_input_auto_caches_only_what_fits_its_budget():
    assert data.cached_bytes(videos=3, max_frames=16, feature_dim=1280) == 3 * 16 * 1280 * 4
    videos_in_budget = data.CACHE_AUTO_MAX_BYTES // data.cached_bytes(1, 16, 2048)
    assert data.should_cache(data.CACHE_AUTO, data.cached_bytes(videos_in_budget, 16, 2048))
    assert not data.should_cache(data.CACHE_AUTO, data.cached_bytes(videos_in_budget + 1, 16, 2048))
    assert data.should_cache(data.CACHE_MEMORY, data.cached_bytes(10 * videos_in_budget, 16, 2048))
    assert not data.should_cache(data.CACHE_NONE, 0)
    with pytest.raises(ValueError, match="--cache_input 'disk'"):
        data.should_cache("disk", 0)


def test_a_split_without_records_is_a_clear_error(tiny_data_dir):
    data_dir, _ = tiny_data_dir
    assert not data.has_records(data_dir, schema.TEST_SPLIT)
    with pytest.raises(ValueError, match="no test records"):
        data.make_dataset(data_dir, schema.TEST_SPLIT, SPEC, batch_size=2)


def test_multiple_choice_examples_carry_every_candidate_and_keep_all_labels(tmp_path):
    spec = dataclasses.replace(SPEC, task=schema.TASK_MULTIPLE_CHOICE, num_candidates=3)
    frames = np.random.default_rng(5).normal(size=(2, FEATURE_DIM))
    write_records(str(tmp_path), schema.TRAIN_SPLIT, [
        ("9", frames, [question("m1", 2, [3], "transition", [[4], [5, 6], [7, 8, 9, 10, 11, 12]]),
                       question("m2", 0, [13, 14], "transition", [[15], [16], [17]])])])
    batches = list(data.make_dataset(str(tmp_path), schema.TRAIN_SPLIT, spec, batch_size=2).as_numpy_iterator())
    (inputs, labels), = batches
    assert set(inputs) == set(spec.input_keys) and schema.CANDIDATE_TOKEN_IDS_KEY in inputs
    assert inputs[schema.CANDIDATE_TOKEN_IDS_KEY].shape == (2, 3, MAX_TOKENS)
    np.testing.assert_array_equal(inputs[schema.CANDIDATE_TOKEN_IDS_KEY][0],
                                  [[4, 0, 0, 0, 0], [5, 6, 0, 0, 0], [7, 8, 9, 10, 11]])
    np.testing.assert_array_equal(labels, [2, 0])
    train = list(data.make_dataset(str(tmp_path), schema.TRAIN_SPLIT, spec, batch_size=1, training=True,
                                   seed=0).as_numpy_iterator())
    assert sorted(int(label[0]) for _, label in train) == [0, 2]  # Candidate indices are never "unknown".


def test_count_labels_are_the_counts(tmp_path):
    spec = dataclasses.replace(SPEC, task=schema.TASK_COUNT)
    write_records(str(tmp_path), schema.TRAIN_SPLIT, [
        ("5", np.ones((3, FEATURE_DIM)), [question("c1", 0, [3], "count"), question("c2", 6, [4], "count")])])
    (inputs, labels), = list(data.make_dataset(str(tmp_path), schema.TRAIN_SPLIT, spec, batch_size=2)
                             .as_numpy_iterator())
    assert set(inputs) == set(data.BASE_INPUT_KEYS)
    np.testing.assert_array_equal(labels, [0, 6])


@pytest.mark.slow
def test_pipeline_output_expands_to_every_question(pipeline_output):
    manifest = manifest_lib.read_manifest(pipeline_output)
    max_frames = manifest_lib.sampling_config(manifest).max_sampled_frames
    max_tokens = manifest_lib.max_question_tokens(manifest)
    dtype = manifest_lib.feature_dtype(manifest)
    feature_dim = manifest_lib.feature_dim(manifest)
    spec = data.InputSpec(task=manifest_lib.task(manifest), feature_dtype=dtype, feature_dim=feature_dim,
                          max_frames=max_frames, max_question_tokens=max_tokens)
    split = schema.VALIDATION_SPLIT
    expected = {}
    for serialized in records.read_records(schema.record_file_pattern(pipeline_output, split)):
        video = records.parse_video_example_numpy(serialized, dtype, feature_dim)
        for index, question_id in enumerate(video[schema.QUESTION_ID_KEY]):
            expected[question_id] = (video[schema.FRAME_FEATURES_KEY],
                                     video[schema.QUESTION_TOKEN_IDS_KEY][index],
                                     video[schema.LABEL_KEY][index])
    examples = collect(data.make_dataset(pipeline_output, split, spec, batch_size=7, keep_metadata=True))
    assert len(examples) == len(expected) == manifest[manifest_lib.MANIFEST_COUNTS][split]["questions"]
    for example in examples:
        frames, token_ids, label = expected[example[schema.QUESTION_ID_KEY].decode()]
        count = example[schema.NUM_FRAMES_KEY]
        assert count == len(frames)
        np.testing.assert_array_equal(example[schema.FRAME_FEATURES_KEY][:count], frames)
        np.testing.assert_array_equal(example[schema.QUESTION_TOKEN_IDS_KEY][:len(token_ids)], token_ids)
        assert not example[schema.QUESTION_TOKEN_IDS_KEY][len(token_ids):].any()
        assert example[schema.LABEL_KEY] == label
