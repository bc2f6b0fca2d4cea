"""tf.data input pipelines over a pipeline output dir's GZIP record shards.

One record holds one video (its frame features once) and all its questions.
The pipeline: list the split's shards -> parallel interleave of GZIP
TFRecordDatasets -> parse with `features.records.parse_video_example` ->
pad each video once (frames to the manifest's max_sampled_frames, question
ids to max_question_tokens) -> [cache: the padded videos stay in memory after
the first pass] -> expand each video into its (video, question) examples,
which share the video's frames tensor -> [training: drop answers outside the
vocabulary, shuffle] -> batch -> prefetch. Maps and batching run with
num_parallel_calls=AUTOTUNE.

Model inputs (dict, keys from `features.schema`; D is the manifest's feature dimension):
  frame_features       float32 [B, T, D]  raw (dequantised, un-normalised)
  num_frames           int32   [B]        real frames; the rest is padding
  question_token_ids   int32   [B, L]     0 = padding
  candidate_token_ids  int32   [B, C, L]  multiple choice only
and the label (int64 [B]): open-ended, the answer's index or OUT_OF_VOCABULARY_LABEL;
multiple choice, the correct candidate; count, the count.

Everything the input needs to know about the data is an `InputSpec`, made
from a `DataInfo` (or by hand in tests).
"""

import dataclasses


import tensorflow as tf

from features import records, schema

AUTOTUNE = tf.data.AUTOTUNE
PER_VIDEO_INPUT_KEYS = (schema.FRAME_FEATURES_KEY, schema.NUM_FRAMES_KEY)
BASE_INPUT_KEYS = PER_VIDEO_INPUT_KEYS + (schema.QUESTION_TOKEN_IDS_KEY,)
# Per-question strings kept for evaluation reports.
METADATA_KEYS = (schema.VIDEO_ID_KEY, schema.QUESTION_ID_KEY, schema.QUESTION_TYPE_KEY,
                 schema.QUESTION_KEY, schema.ANSWER_KEY)
MAX_INTERLEAVED_FILES = 8
CACHE_AUTO, CACHE_MEMORY, CACHE_NONE = "auto", "memory", "none"
CACHE_CHOICES = (CACHE_AUTO, CACHE_MEMORY, CACHE_NONE)
# --cache_input auto keeps the parsed train and validation videos in memory
# when their features take at most this much (MSRVTT-QA's 10k videos at 16
# frames take 1.3 GB; a larger data set is read from the records every epoch).
CACHE_AUTO_MAX_BYTES = 4 * 2**30


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """The shape of one data set's examples."""

    task: str
    feature_dtype: str
    feature_dim: int
    max_frames: int
    max_question_tokens: int
    num_candidates: int = 0

    @classmethod
    def from_data_info(cls, data_info):
        return cls(task=data_info.task, feature_dtype=data_info.feature_dtype,
                   feature_dim=data_info.feature_dim, max_frames=data_info.max_frames,
                   max_question_tokens=data_info.max_question_tokens,
                   num_candidates=data_info.num_candidates)

    @property
    def input_keys(self):
        if self.task == schema.TASK_MULTIPLE_CHOICE:
            return BASE_INPUT_KEYS + (schema.CANDIDATE_TOKEN_IDS_KEY,)
        return BASE_INPUT_KEYS


def record_files(data_dir, split):
    """Sorted shard paths of `split`; ValueError if there are none."""
    pattern = schema.record_file_pattern(data_dir, split)
    files = sorted(tf.io.gfile.glob(pattern))
    if not files:
        raise ValueError(f"no {split} records in {data_dir} (nothing matches {pattern}); "
                         f"the pipeline wrote no {split} split: check its annotations")
    return files


def read_videos(files, spec, shuffle_files=False, seed=None, deterministic=True):
    """Parsed video records from GZIP shards, read with a parallel interleave."""
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if shuffle_files:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.interleave(
        lambda path: tf.data.TFRecordDataset(path, compression_type=schema.RECORD_COMPRESSION),
        cycle_length=min(len(files), MAX_INTERLEAVED_FILES), num_parallel_calls=AUTOTUNE,
        deterministic=deterministic)
    return dataset.map(lambda serialized: records.parse_video_example(serialized, spec.feature_dtype,
                                                                      spec.feature_dim),
                       num_parallel_calls=AUTOTUNE, deterministic=deterministic)


def _dense_token_ids(ragged, max_tokens):
    return tf.cast(ragged[:, :max_tokens].to_tensor(
        default_value=schema.PADDING_TOKEN_ID, shape=[None, max_tokens]), tf.int32)


def pad_video(video, spec):
    """One parsed video -> frames padded to max_frames, question ids to a dense [Q, max_question_tokens]
    (candidates: [Q, C, max_question_tokens]).

    Padding once per video (not per question) is what lets its questions share
    one frames tensor below and be batched without further padding.
    """
    frames = video[schema.FRAME_FEATURES_KEY][:spec.max_frames]
    num_frames = tf.shape(frames)[0]
    frames = tf.pad(frames, [[0, spec.max_frames - num_frames], [0, 0]])
    frames = tf.ensure_shape(frames, [spec.max_frames, spec.feature_dim])
    padded = dict(video)
    padded.update({schema.FRAME_FEATURES_KEY: frames, schema.NUM_FRAMES_KEY: num_frames,
                   schema.QUESTION_TOKEN_IDS_KEY: _dense_token_ids(video[schema.QUESTION_TOKEN_IDS_KEY],
                                                                   spec.max_question_tokens)})
    if spec.task == schema.TASK_MULTIPLE_CHOICE:
        candidates = _dense_token_ids(video[schema.CANDIDATE_TOKEN_IDS_KEY], spec.max_question_tokens)
        padded[schema.CANDIDATE_TOKEN_IDS_KEY] = tf.reshape(
            candidates, [-1, spec.num_candidates, spec.max_question_tokens])
    else:
        del padded[schema.CANDIDATE_TOKEN_IDS_KEY]
    del padded[schema.CANDIDATE_KEY]
    return padded


def video_questions(video, spec, keep_metadata):
    """A padded video -> a dataset of its questions, all holding the video's one frames tensor.

    The frames are not copied per question (no tile, no unbatch): batching
    makes the only copy, which halves the input's CPU time against tiling.
    """
    per_question = {key: video[key] for key in spec.input_keys if key not in PER_VIDEO_INPUT_KEYS}
    per_question[schema.LABEL_KEY] = video[schema.LABEL_KEY]
    per_video = {schema.FRAME_FEATURES_KEY: video[schema.FRAME_FEATURES_KEY],
                 schema.NUM_FRAMES_KEY: video[schema.NUM_FRAMES_KEY]}
    if keep_metadata:
        for key in METADATA_KEYS:
            target = per_video if video[key].shape.rank == 0 else per_question
            target[key] = video[key]
    return tf.data.Dataset.from_tensor_slices(per_question).map(
        lambda question: dict(question, **per_video))


def question_examples(data_dir, split, spec, training=False, keep_metadata=False, seed=None, cache=False):
    """Unbatched per-question examples of one split, padded (training drops unknown answers).

    cache: keep the parsed, padded videos in memory after the first pass, so
    later epochs neither read, parse nor pad them again (files are then
    visited in the first pass's order; examples are still shuffled every
    epoch).
    """
    videos = read_videos(record_files(data_dir, split), spec, shuffle_files=training,
                         seed=seed, deterministic=True)
    videos = videos.map(lambda video: pad_video(video, spec), num_parallel_calls=AUTOTUNE, deterministic=True)
    if cache:
        videos = videos.cache()
    examples = videos.flat_map(lambda video: video_questions(video, spec, keep_metadata))
    if training and spec.task == schema.TASK_OPEN_ENDED:
        examples = examples.filter(lambda example: example[schema.LABEL_KEY] >= 0)
    return examples


def split_inputs(batch, spec):
    """Batched example dict -> (model inputs, label) for Keras."""
    return {key: batch[key] for key in spec.input_keys}, batch[schema.LABEL_KEY]


def make_dataset(data_dir, split, spec, batch_size, training=False, shuffle_buffer=1024, seed=None,
                 keep_metadata=False, repeat=False, cache=False):
    """Batched dataset of one split.

    training: shuffle, drop answers outside the vocabulary, drop the last
    partial batch. keep_metadata: yield the whole example dict (inputs, label
    and METADATA_KEYS strings) instead of (inputs, label). cache: see
    `question_examples`.
    """
    examples = question_examples(data_dir, split, spec, training=training, keep_metadata=keep_metadata,
                                 seed=seed, cache=cache)
    if repeat:
        examples = examples.repeat()
    if training:
        examples = examples.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    batches = examples.batch(batch_size, drop_remainder=training, num_parallel_calls=AUTOTUNE)
    if not keep_metadata:
        batches = batches.map(lambda batch: split_inputs(batch, spec), num_parallel_calls=AUTOTUNE)
    options = tf.data.Options()
    # Every worker reads every shard and keeps its share of each batch, so any
    # number of shards works with any number of workers (shuffles are seeded alike).
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return batches.prefetch(AUTOTUNE).with_options(options)


def count_examples(data_dir, split, in_vocabulary_only=False):
    """Questions in a split (only those with a known answer if asked), reading labels only."""
    label_feature = {schema.LABEL_KEY: records.CONTEXT_FEATURES[schema.LABEL_KEY]}

    def count(serialized):
        context, _ = tf.io.parse_single_sequence_example(serialized, context_features=label_feature)
        labels = context[schema.LABEL_KEY]
        if in_vocabulary_only:
            return tf.reduce_sum(tf.cast(labels >= 0, tf.int64))
        return tf.size(labels, out_type=tf.int64)

    files = record_files(data_dir, split)
    dataset = tf.data.Dataset.from_tensor_slices(files).interleave(
        lambda path: tf.data.TFRecordDataset(path, compression_type=schema.RECORD_COMPRESSION),
        cycle_length=min(len(files), MAX_INTERLEAVED_FILES), num_parallel_calls=AUTOTUNE)
    counts = dataset.map(count, num_parallel_calls=AUTOTUNE)
    return int(counts.reduce(tf.constant(0, tf.int64), lambda total, value: total + value).numpy())


def cached_bytes(videos, max_frames, feature_dim):
    """Memory the features of `videos` videos take in the cache (float32, padded to `max_frames`)."""
    return videos * max_frames * feature_dim * 4


def should_cache(cache_input, cache_bytes, max_bytes=CACHE_AUTO_MAX_BYTES):
    """Whether to cache: CACHE_MEMORY always, CACHE_NONE never, CACHE_AUTO if `cache_bytes` fit `max_bytes`."""
    if cache_input not in CACHE_CHOICES:
        raise ValueError(f"--cache_input {cache_input!r}: choose one of {', '.join(CACHE_CHOICES)}")
    if cache_input == CACHE_AUTO:
        return cache_bytes <= max_bytes
    return cache_input == CACHE_MEMORY


def has_records(data_dir, split):
    return bool(tf.io.gfile.glob(schema.record_file_pattern(data_dir, split)))
