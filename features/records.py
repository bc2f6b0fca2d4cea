"""Encode and parse the per-clip `tf.train.SequenceExample` (layout in `schema`).

The writer side (`build_video_example`) is used by the pipeline; the readers
(`parse_video_example` for tf.data, `parse_video_example_numpy` for tests,
benchmarks and tools, `read_records` for both) by everything that reads
records. The feature dimension is the manifest's (`manifest.feature_dim`).
"""

import numpy as np
import tensorflow as tf

from features import quantize, schema


def _bytes_list(values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(
        value=[value if isinstance(value, bytes) else str(value).encode("utf-8") for value in values]))


def _int64_list(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value) for value in values]))


def build_video_example(video_id, split, frame_feature_bytes, questions, labels, token_ids,
                        candidate_token_ids=None):
    """One clip's record.

    frame_feature_bytes: list of per-frame bytes from `quantize.encode_frames`.
    questions: list of `features.questions.Question`; labels: one int per
    question (see `schema`); token_ids: one list of ints per question;
    candidate_token_ids: multiple choice only, per question one list of ints
    per candidate (the candidates' texts come from the questions).
    """
    if split not in schema.SPLITS:
        raise ValueError(f"unknown split {split!r} for video {video_id!r}")
    if not len(questions) == len(labels) == len(token_ids):
        raise ValueError(f"video {video_id!r}: {len(questions)} questions but {len(labels)} labels "
                         f"and {len(token_ids)} token id lists")
    example = tf.train.SequenceExample()
    context = example.context.feature
    context[schema.VIDEO_ID_KEY].CopyFrom(_bytes_list([video_id]))
    context[schema.SPLIT_KEY].CopyFrom(_bytes_list([split]))
    context[schema.NUM_FRAMES_KEY].CopyFrom(_int64_list([len(frame_feature_bytes)]))
    context[schema.SCHEMA_VERSION_KEY].CopyFrom(_int64_list([schema.SCHEMA_VERSION]))
    context[schema.QUESTION_KEY].CopyFrom(_bytes_list([q.question for q in questions]))
    context[schema.QUESTION_ID_KEY].CopyFrom(_bytes_list([q.question_id for q in questions]))
    context[schema.QUESTION_TYPE_KEY].CopyFrom(_bytes_list([q.question_type for q in questions]))
    context[schema.ANSWER_KEY].CopyFrom(_bytes_list([q.answer for q in questions]))
    context[schema.LABEL_KEY].CopyFrom(_int64_list(labels))
    frames = example.feature_lists.feature_list[schema.FRAME_FEATURES_KEY].feature
    for frame_bytes in frame_feature_bytes:
        frames.add().bytes_list.value.append(frame_bytes)
    tokens = example.feature_lists.feature_list[schema.QUESTION_TOKEN_IDS_KEY].feature
    for ids in token_ids:
        tokens.add().int64_list.value.extend(int(t) for t in ids)
    if candidate_token_ids is not None:
        context[schema.CANDIDATE_KEY].CopyFrom(
            _bytes_list([candidate for q in questions for candidate in q.candidates]))
        candidates = example.feature_lists.feature_list[schema.CANDIDATE_TOKEN_IDS_KEY].feature
        for per_question in candidate_token_ids:
            for ids in per_question:
                candidates.add().int64_list.value.extend(int(t) for t in ids)
    return example


CONTEXT_FEATURES = {
    schema.VIDEO_ID_KEY: tf.io.FixedLenFeature([], tf.string),
    schema.SPLIT_KEY: tf.io.FixedLenFeature([], tf.string),
    schema.NUM_FRAMES_KEY: tf.io.FixedLenFeature([], tf.int64),
    schema.SCHEMA_VERSION_KEY: tf.io.FixedLenFeature([], tf.int64),
    schema.QUESTION_KEY: tf.io.RaggedFeature(tf.string),
    schema.QUESTION_ID_KEY: tf.io.RaggedFeature(tf.string),
    schema.QUESTION_TYPE_KEY: tf.io.RaggedFeature(tf.string),
    schema.ANSWER_KEY: tf.io.RaggedFeature(tf.string),
    schema.LABEL_KEY: tf.io.RaggedFeature(tf.int64),
    schema.CANDIDATE_KEY: tf.io.RaggedFeature(tf.string),
}

SEQUENCE_FEATURES = {
    schema.FRAME_FEATURES_KEY: tf.io.FixedLenSequenceFeature([], tf.string),
    schema.QUESTION_TOKEN_IDS_KEY: tf.io.RaggedFeature(tf.int64),
    schema.CANDIDATE_TOKEN_IDS_KEY: tf.io.RaggedFeature(tf.int64),
}


def parse_video_example(serialized, feature_dtype, feature_dim):
    """Serialized record (scalar string tensor) -> dict of tensors.

    frame_features: float32 [num_frames, feature_dim] (dequantised);
    question_token_ids: RaggedTensor [num_questions, None];
    candidate_token_ids: RaggedTensor [num_questions * C, None] (empty unless
    multiple choice); the other per-question keys are 1-D tensors of length
    num_questions (candidate: num_questions * C).
    """
    context, sequence = tf.io.parse_single_sequence_example(
        serialized, context_features=CONTEXT_FEATURES, sequence_features=SEQUENCE_FEATURES)
    parsed = dict(context)
    parsed[schema.FRAME_FEATURES_KEY] = tf.reshape(
        quantize.decode_frames_tensor(sequence[schema.FRAME_FEATURES_KEY], feature_dtype),
        [-1, feature_dim])
    parsed[schema.QUESTION_TOKEN_IDS_KEY] = sequence[schema.QUESTION_TOKEN_IDS_KEY]
    parsed[schema.CANDIDATE_TOKEN_IDS_KEY] = sequence[schema.CANDIDATE_TOKEN_IDS_KEY]
    return parsed


def parse_video_example_numpy(serialized, feature_dtype, feature_dim):
    """Serialized record bytes -> dict of Python/NumPy values (no TensorFlow graph)."""
    example = tf.train.SequenceExample.FromString(serialized)
    context = example.context.feature
    feature_lists = example.feature_lists.feature_list

    def strings(key):
        return [value.decode("utf-8") for value in context[key].bytes_list.value]

    def id_lists(key):
        return [list(f.int64_list.value) for f in feature_lists[key].feature]

    frames = [f.bytes_list.value[0] for f in feature_lists[schema.FRAME_FEATURES_KEY].feature]
    return {
        schema.VIDEO_ID_KEY: strings(schema.VIDEO_ID_KEY)[0],
        schema.SPLIT_KEY: strings(schema.SPLIT_KEY)[0],
        schema.NUM_FRAMES_KEY: int(context[schema.NUM_FRAMES_KEY].int64_list.value[0]),
        schema.SCHEMA_VERSION_KEY: int(context[schema.SCHEMA_VERSION_KEY].int64_list.value[0]),
        schema.QUESTION_KEY: strings(schema.QUESTION_KEY),
        schema.QUESTION_ID_KEY: strings(schema.QUESTION_ID_KEY),
        schema.QUESTION_TYPE_KEY: strings(schema.QUESTION_TYPE_KEY),
        schema.ANSWER_KEY: strings(schema.ANSWER_KEY),
        schema.LABEL_KEY: list(context[schema.LABEL_KEY].int64_list.value),
        schema.CANDIDATE_KEY: strings(schema.CANDIDATE_KEY),
        schema.FRAME_FEATURES_KEY: quantize.decode_frames(frames, feature_dtype, feature_dim),
        schema.QUESTION_TOKEN_IDS_KEY: id_lists(schema.QUESTION_TOKEN_IDS_KEY),
        schema.CANDIDATE_TOKEN_IDS_KEY: id_lists(schema.CANDIDATE_TOKEN_IDS_KEY),
    }


def record_schema_version(serialized):
    """The schema version a serialized record was written with (None if it has none)."""
    example = tf.train.SequenceExample.FromString(serialized)
    values = example.context.feature[schema.SCHEMA_VERSION_KEY].int64_list.value
    return int(values[0]) if values else None


def read_records(pattern):
    """Yield serialized records from every GZIP shard matching `pattern` (sorted by file)."""
    files = sorted(tf.io.gfile.glob(pattern))
    for path in files:
        for record in tf.data.TFRecordDataset(path, compression_type=schema.RECORD_COMPRESSION):
            yield record.numpy()
