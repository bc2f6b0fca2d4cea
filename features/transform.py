"""tf.Transform: vocabularies and feature statistics, analysed on the train split only.

Importing this module imports `tensorflow_transform`, which switches `tf.keras`
to Keras 2 in the process (see `features/__init__.py`): only the pipeline,
the trainer and the export import it, deliberately; `import features` does not.

One raw instance per clip (so frame statistics weigh every frame once, however
many questions the clip has):

  question           VarLen string   the clip's question texts
  answer             VarLen string   their answers (open_ended: analysed into the answer vocabulary)
  candidate          VarLen string   multiple_choice: every question's candidates, in order
  label              VarLen int64    multiple_choice: correct candidate; count: the count
  frame_sum          [feature_dim]   sum over the clip's stored frame features
  frame_sum_squares  [feature_dim]   sum of squares of the same
  num_frames         []              frames in the clip

`preprocessing_fn` returns every question's token ids (flattened, with a count
per question), the candidates' token ids likewise, the labels (open_ended:
index in the answer vocabulary), the train split's per-dimension mean and
standard deviation of frame features, and for count the train split's
smallest and largest count (both broadcast to every instance). The question
vocabulary covers question and candidate tokens. Serving feeds only
`question` (and `candidate`) through the same graph.
"""

import dataclasses
import functools

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tensorflow_transform.saved import saved_transform_io_v2
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from features import schema, text

RAW_QUESTION = schema.TRANSFORM_INPUT_QUESTION
RAW_ANSWER = schema.TRANSFORM_INPUT_ANSWER
RAW_CANDIDATE = schema.TRANSFORM_INPUT_CANDIDATE
RAW_LABEL = schema.TRANSFORM_INPUT_LABEL
RAW_FRAME_SUM = schema.TRANSFORM_INPUT_FRAME_SUM
RAW_FRAME_SUM_SQUARES = schema.TRANSFORM_INPUT_FRAME_SUM_SQUARES
RAW_NUM_FRAMES = schema.TRANSFORM_INPUT_NUM_FRAMES

# A dimension's standard deviation is floored at this fraction of the mean
# standard deviation over all dimensions (and at MIN_STDDEV). Without the floor,
# near-constant dimensions (common with untrained weights, and dead ReLU
# channels) turn float16/uint8 storage noise into z-scores of 10^4 that swamp
# the informative dimensions.
RELATIVE_STDDEV_FLOOR = 0.1
MIN_STDDEV = 1e-6


@dataclasses.dataclass(frozen=True)
class TransformConfig:
    """What the preprocessing function needs to know about the run."""

    task: str
    feature_dim: int
    max_question_tokens: int
    answer_top_k: int


def raw_feature_spec(feature_dim):
    return {
        RAW_QUESTION: tf.io.VarLenFeature(tf.string),
        RAW_ANSWER: tf.io.VarLenFeature(tf.string),
        RAW_CANDIDATE: tf.io.VarLenFeature(tf.string),
        RAW_LABEL: tf.io.VarLenFeature(tf.int64),
        RAW_FRAME_SUM: tf.io.FixedLenFeature([feature_dim], tf.float32),
        RAW_FRAME_SUM_SQUARES: tf.io.FixedLenFeature([feature_dim], tf.float32),
        RAW_NUM_FRAMES: tf.io.FixedLenFeature([], tf.float32),
    }


def raw_metadata(feature_dim):
    return dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(raw_feature_spec(feature_dim)))


def raw_instance(embedded_video):
    """A `features.questions.EmbeddedVideo` -> its raw instance dict (NumPy values)."""
    questions = embedded_video.task.questions
    return {
        RAW_QUESTION: [q.question for q in questions],
        RAW_ANSWER: [q.answer for q in questions],
        RAW_CANDIDATE: [candidate for q in questions for candidate in q.candidates],
        RAW_LABEL: np.asarray([max(q.answer_index, q.count) for q in questions], np.int64),
        RAW_FRAME_SUM: np.asarray(embedded_video.frame_sum, np.float32),
        RAW_FRAME_SUM_SQUARES: np.asarray(embedded_video.frame_sum_squares, np.float32),
        RAW_NUM_FRAMES: np.float32(embedded_video.num_frames),
    }


def _ragged(sparse):
    return tf.RaggedTensor.from_sparse(sparse)


def _frame_statistics(inputs):
    total = tft.sum(inputs[RAW_FRAME_SUM], reduce_instance_dims=False)
    total_squares = tft.sum(inputs[RAW_FRAME_SUM_SQUARES], reduce_instance_dims=False)
    count = tf.maximum(tft.sum(inputs[RAW_NUM_FRAMES]), 1.0)
    mean = total / count
    variance = tf.maximum(total_squares / count - tf.square(mean), 0.0)
    stddev = tf.sqrt(variance)
    floor = tf.maximum(RELATIVE_STDDEV_FLOOR * tf.reduce_mean(stddev), MIN_STDDEV)
    return mean, tf.maximum(stddev, floor)


def _token_ids(texts, vocabulary, max_tokens):
    """Ragged texts [instances, n] -> (token ids of all texts flattened per instance, tokens per text)."""
    tokens = text.tokenize(texts.flat_values, max_tokens)                 # [all texts, tokens]
    ids = tft.apply_vocabulary(tokens, vocabulary, num_oov_buckets=1) + schema.TOKEN_ID_OFFSET
    per_text = texts.with_flat_values(ids.row_lengths())
    per_instance = tf.RaggedTensor.from_row_lengths(ids, texts.row_lengths()).merge_dims(1, 2)
    return per_instance.to_sparse(), per_text.to_sparse()


def _broadcast(value, batch):
    return tf.tile(tf.reshape(value, [1, -1]), [batch, 1])


def preprocessing_fn(inputs, config):
    """The transform: see the module docstring for inputs and outputs."""
    questions = _ragged(inputs[RAW_QUESTION])
    vocabulary_tokens = text.tokenize(questions.flat_values, config.max_question_tokens).flat_values
    multiple_choice = config.task == schema.TASK_MULTIPLE_CHOICE
    if multiple_choice:
        candidates = _ragged(inputs[RAW_CANDIDATE])
        candidate_tokens = text.tokenize(candidates.flat_values, config.max_question_tokens).flat_values
        vocabulary_tokens = tf.concat([vocabulary_tokens, candidate_tokens], axis=0)
    vocabulary = tft.vocabulary(vocabulary_tokens, vocab_filename=schema.QUESTION_VOCABULARY_NAME)
    token_ids, token_counts = _token_ids(questions, vocabulary, config.max_question_tokens)
    batch = tf.shape(inputs[RAW_NUM_FRAMES])[0]
    mean, stddev = _frame_statistics(inputs)
    outputs = {
        schema.TRANSFORM_QUESTION_TOKEN_IDS: token_ids,
        schema.TRANSFORM_QUESTION_TOKEN_COUNTS: token_counts,
        schema.TRANSFORM_FEATURE_MEAN: _broadcast(mean, batch),
        schema.TRANSFORM_FEATURE_STDDEV: _broadcast(stddev, batch),
    }
    if multiple_choice:
        outputs[schema.TRANSFORM_CANDIDATE_TOKEN_IDS], outputs[schema.TRANSFORM_CANDIDATE_TOKEN_COUNTS] = (
            _token_ids(candidates, vocabulary, config.max_question_tokens))
    if config.task == schema.TASK_OPEN_ENDED:
        answers = _ragged(inputs[RAW_ANSWER])
        labels = tft.compute_and_apply_vocabulary(
            text.normalize_answer(answers.flat_values), top_k=config.answer_top_k,
            default_value=schema.OUT_OF_VOCABULARY_LABEL, vocab_filename=schema.ANSWER_VOCABULARY_NAME)
        outputs[schema.TRANSFORM_LABELS] = answers.with_flat_values(labels).to_sparse()
    else:
        outputs[schema.TRANSFORM_LABELS] = tf.identity(inputs[RAW_LABEL])
    if config.task == schema.TASK_COUNT:
        counts = tf.cast(inputs[RAW_LABEL].values, tf.float32)
        outputs[schema.TRANSFORM_COUNT_MIN] = _broadcast(tft.min(counts), batch)
        outputs[schema.TRANSFORM_COUNT_MAX] = _broadcast(tft.max(counts), batch)
    return outputs


def make_preprocessing_fn(config):
    """preprocessing_fn with the run's configuration bound."""
    return functools.partial(preprocessing_fn, config=config)


def _split(flat, counts):
    return np.split(np.asarray(flat, np.int64), np.cumsum(np.asarray(counts, np.int64))[:-1]) if len(counts) else []


class TransformApplier:
    """Applies an analysed transform graph to clips in the pipeline's own worker (no shuffle).

    `saved_model_dir` is the transform_fn that `AnalyzeDataset` produced; it
    is loaded once per worker. `apply(embedded_videos)` transforms a batch of
    clips in one call and returns, per clip, (labels, question token id lists,
    candidate token id lists per question or None).
    """

    def __init__(self, saved_model_dir, feature_dim):
        self._loader = saved_transform_io_v2.SavedModelLoader(saved_model_dir)
        self._feature_dim = feature_dim

    def _batched_inputs(self, instances):
        inputs = {}
        for name, spec in raw_feature_spec(self._feature_dim).items():
            values = [instance[name] for instance in instances]
            if isinstance(spec, tf.io.VarLenFeature):
                inputs[name] = tf.ragged.constant([list(v) for v in values], dtype=spec.dtype,
                                                  row_splits_dtype=tf.int64).to_sparse()
            else:
                inputs[name] = tf.constant(np.stack(values).astype(np.float32))
        return inputs

    def apply(self, embedded_videos):
        instances = [raw_instance(video) for video in embedded_videos]
        outputs = self._loader.apply_transform_model(self._batched_inputs(instances))
        rows = {name: _rows_of(value, len(instances)) for name, value in outputs.items()
                if isinstance(value, tf.SparseTensor)}
        results = []
        for index, video in enumerate(embedded_videos):
            token_ids = _split(rows[schema.TRANSFORM_QUESTION_TOKEN_IDS][index],
                               rows[schema.TRANSFORM_QUESTION_TOKEN_COUNTS][index])
            labels = [int(label) for label in rows[schema.TRANSFORM_LABELS][index]]
            candidates = None
            if schema.TRANSFORM_CANDIDATE_TOKEN_IDS in rows:
                flat = _split(rows[schema.TRANSFORM_CANDIDATE_TOKEN_IDS][index],
                              rows[schema.TRANSFORM_CANDIDATE_TOKEN_COUNTS][index])
                sizes = [len(q.candidates) for q in video.task.questions]
                starts = np.cumsum([0] + sizes)
                candidates = [[ids.tolist() for ids in flat[start:start + size]]
                              for start, size in zip(starts, sizes)]
            if len(labels) != len(video.task.questions) or len(token_ids) != len(labels):
                raise ValueError(f"clip {video.task.clip_id!r}: the transform returned {len(labels)} "
                                 f"labels for {len(video.task.questions)} questions")
            results.append((labels, [ids.tolist() for ids in token_ids], candidates))
        return results


def _rows_of(sparse, count):
    """A SparseTensor [count, N] (row-major, as tf.Transform returns it) -> one NumPy array per row."""
    row_of_value = sparse.indices.numpy()[:, 0]
    values = sparse.values.numpy()
    bounds = np.searchsorted(row_of_value, np.arange(count + 1))
    return [values[bounds[row]:bounds[row + 1]] for row in range(count)]


def _dummy_raw_instance(feature_dim):
    """One raw instance (empty strings, zero numbers): for reading analyser outputs."""
    instance = {}
    for name, spec in raw_feature_spec(feature_dim).items():
        if isinstance(spec, tf.io.VarLenFeature):
            value = tf.constant([""]) if spec.dtype == tf.string else tf.zeros([1], spec.dtype)
            instance[name] = tf.SparseTensor(indices=[[0, 0]], values=value, dense_shape=[1, 1])
        else:
            instance[name] = tf.zeros([1] + list(spec.shape), spec.dtype)
    return instance


@dataclasses.dataclass
class TransformOutputs:
    """What the trainer and the export read from a pipeline run's transform_fn/."""

    transform_output: tft.TFTransformOutput
    answers: list                 # open_ended: str, index = label; else empty
    question_vocabulary_size: int
    feature_mean: np.ndarray      # float32 [feature_dim]
    feature_stddev: np.ndarray    # float32 [feature_dim]
    count_range: tuple            # count: (smallest, largest) training count; else ()


def read_transform_outputs(data_dir, task, feature_dim):
    """Vocabularies and statistics of a pipeline output dir (see TransformOutputs)."""
    transform_output = tft.TFTransformOutput(data_dir)
    answers = []
    if task == schema.TASK_OPEN_ENDED:
        answers = [answer.decode("utf-8") if isinstance(answer, bytes) else str(answer)
                   for answer in transform_output.vocabulary_by_name(schema.ANSWER_VOCABULARY_NAME)]
    outputs = transform_output.transform_raw_features(_dummy_raw_instance(feature_dim), drop_unused_features=True)
    count_range = ()
    if task == schema.TASK_COUNT:
        count_range = (float(np.asarray(outputs[schema.TRANSFORM_COUNT_MIN])[0][0]),
                       float(np.asarray(outputs[schema.TRANSFORM_COUNT_MAX])[0][0]))
    return TransformOutputs(
        transform_output=transform_output, answers=answers,
        question_vocabulary_size=int(transform_output.vocabulary_size_by_name(schema.QUESTION_VOCABULARY_NAME)),
        feature_mean=np.asarray(outputs[schema.TRANSFORM_FEATURE_MEAN])[0].astype(np.float32),
        feature_stddev=np.asarray(outputs[schema.TRANSFORM_FEATURE_STDDEV])[0].astype(np.float32),
        count_range=count_range)


def vocabulary_sizes(data_dir, task):
    """{vocabulary name: size} for the manifest."""
    transform_output = tft.TFTransformOutput(data_dir)
    names = [schema.QUESTION_VOCABULARY_NAME]
    if task == schema.TASK_OPEN_ENDED:
        names.append(schema.ANSWER_VOCABULARY_NAME)
    return {name: transform_output.vocabulary_size_by_name(name) for name in names}
