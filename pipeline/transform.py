"""tf.Transform: vocabularies and feature statistics, analysed on the train split.

One instance per video (so frame statistics weigh every frame once, however
many questions the video has):

  video_id           string          passed through, to join outputs to videos
  question           VarLen string   raw question texts of the video
  answer             VarLen string   raw answers, aligned with `question`
  frame_sum          [FEATURE_DIM]   sum over the video's stored frame features
  frame_sum_squares  [FEATURE_DIM]   sum of squares of the same
  frame_count        []              frames in the video

`preprocessing_fn` outputs the token ids of every question (flattened, with a
count per question), the answer labels, and the train split's per-dimension
mean and standard deviation of frame features (broadcast to every instance).
The trainer reads the statistics and vocabulary sizes through
`TFTransformOutput`; serving applies the same transform to raw questions.
"""

import functools

import tensorflow as tf
import tensorflow_transform as tft
from tensorflow_transform.tf_metadata import schema_utils

from features import schema, text

RAW_VIDEO_ID = schema.TRANSFORM_INPUT_VIDEO_ID
RAW_QUESTION = schema.TRANSFORM_INPUT_QUESTION
RAW_ANSWER = schema.TRANSFORM_INPUT_ANSWER
RAW_FRAME_SUM = schema.TRANSFORM_INPUT_FRAME_SUM
RAW_FRAME_SUM_SQUARES = schema.TRANSFORM_INPUT_FRAME_SUM_SQUARES
RAW_FRAME_COUNT = schema.TRANSFORM_INPUT_FRAME_COUNT

# A dimension's standard deviation is floored at this fraction of the mean
# standard deviation over all dimensions (and at MIN_STDDEV). Without the floor,
# near-constant dimensions (common with untrained weights, and dead ReLU
# channels) turn float16/uint8 storage noise into z-scores of 10^4 that swamp
# the informative dimensions.
RELATIVE_STDDEV_FLOOR = 0.1
MIN_STDDEV = 1e-6


def raw_feature_spec():
    return {
        RAW_VIDEO_ID: tf.io.FixedLenFeature([], tf.string),
        RAW_QUESTION: tf.io.VarLenFeature(tf.string),
        RAW_ANSWER: tf.io.VarLenFeature(tf.string),
        RAW_FRAME_SUM: tf.io.FixedLenFeature([schema.FEATURE_DIM], tf.float32),
        RAW_FRAME_SUM_SQUARES: tf.io.FixedLenFeature([schema.FEATURE_DIM], tf.float32),
        RAW_FRAME_COUNT: tf.io.FixedLenFeature([], tf.float32),
    }


def raw_metadata():
    from tensorflow_transform.tf_metadata import dataset_metadata
    return dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(raw_feature_spec()))


def _ragged(sparse):
    return tf.RaggedTensor.from_sparse(sparse)


def _frame_statistics(inputs):
    total = tft.sum(inputs[RAW_FRAME_SUM], reduce_instance_dims=False)
    total_squares = tft.sum(inputs[RAW_FRAME_SUM_SQUARES], reduce_instance_dims=False)
    count = tf.maximum(tft.sum(inputs[RAW_FRAME_COUNT]), 1.0)
    mean = total / count
    variance = tf.maximum(total_squares / count - tf.square(mean), 0.0)
    stddev = tf.sqrt(variance)
    floor = tf.maximum(RELATIVE_STDDEV_FLOOR * tf.reduce_mean(stddev), MIN_STDDEV)
    return mean, tf.maximum(stddev, floor)


def preprocessing_fn(inputs, max_question_tokens, answer_top_k):
    """The transform: see the module docstring for inputs and outputs."""
    questions = _ragged(inputs[RAW_QUESTION])                      # [videos, questions]
    tokens = text.tokenize(questions.flat_values, max_question_tokens)  # [all questions, tokens]
    token_ids = tft.compute_and_apply_vocabulary(
        tokens, num_oov_buckets=1, vocab_filename=schema.QUESTION_VOCABULARY_NAME)
    token_ids = token_ids + schema.TOKEN_ID_OFFSET
    tokens_per_question = questions.with_flat_values(token_ids.row_lengths())
    token_ids_per_video = tf.RaggedTensor.from_row_lengths(
        token_ids, questions.row_lengths()).merge_dims(1, 2)    # [videos, tokens]

    answers = _ragged(inputs[RAW_ANSWER])
    labels = tft.compute_and_apply_vocabulary(
        text.normalize_answer(answers.flat_values), top_k=answer_top_k,
        default_value=schema.OUT_OF_VOCABULARY_LABEL, vocab_filename=schema.ANSWER_VOCABULARY_NAME)

    mean, stddev = _frame_statistics(inputs)
    batch = tf.shape(inputs[RAW_FRAME_COUNT])[0]
    return {
        schema.TRANSFORM_VIDEO_ID: tf.identity(inputs[RAW_VIDEO_ID]),
        schema.TRANSFORM_QUESTION_TOKEN_IDS: token_ids_per_video.to_sparse(),
        schema.TRANSFORM_QUESTION_TOKEN_COUNTS: tokens_per_question.to_sparse(),
        schema.TRANSFORM_LABELS: answers.with_flat_values(labels).to_sparse(),
        schema.TRANSFORM_FEATURE_MEAN: tf.tile(mean[tf.newaxis, :], [batch, 1]),
        schema.TRANSFORM_FEATURE_STDDEV: tf.tile(stddev[tf.newaxis, :], [batch, 1]),
    }


def make_preprocessing_fn(max_question_tokens, answer_top_k):
    """preprocessing_fn with the run's configuration bound."""
    return functools.partial(preprocessing_fn, max_question_tokens=max_question_tokens,
                             answer_top_k=answer_top_k)
