"""tf.data input pipelines over a pipeline output dir's GZIP record shards.

One record holds one video (its frame features once) and all its questions.
The pipeline: list the split's shards -> parallel interleave of GZIP
TFRecordDatasets -> parse with `features.records.parse_video_example` ->
[cache: the parsed videos stay in memory after the first pass] -> expand
each video into its (video, question) examples -> [training: drop answers
outside the vocabulary, shuffle] -> pad (frames to the manifest's
max_sampled_frames, tokens to max_question_tokens) and batch -> prefetch.
Every map runs with num_parallel_calls=AUTOTUNE.

Model inputs (dict, keys from `features.schema`):
  frame_features      float32 [B, T, FEATURE_DIM]  raw (dequantised, un-normalised)
  num_frames          int32   [B]                  real frames; the rest is padding
  question_token_ids  int32   [B, L]               0 = padding
and the label (int64 [B], OUT_OF_VOCABULARY_LABEL for unknown answers).
"""

import tensorflow as tf

from features import records, schema

AUTOTUNE = tf.data.AUTOTUNE
MODEL_INPUT_KEYS = (schema.FRAME_FEATURES_KEY, schema.NUM_FRAMES_KEY, schema.QUESTION_TOKEN_IDS_KEY)
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


def record_files(data_dir, split):
    """Sorted shard paths of `split`; ValueError if there are none."""
    pattern = schema.record_file_pattern(data_dir, split)
    files = sorted(tf.io.gfile.glob(pattern))
    if not files:
        raise ValueError(f"no {split} records in {data_dir} (nothing matches {pattern}); "
                         f"the pipeline wrote no {split} split: check its annotations")
    return files


def read_videos(files, feature_dtype, shuffle_files=False, seed=None, deterministic=True):
    """Parsed video records from GZIP shards, read with a parallel interleave."""
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if shuffle_files:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.interleave(
        lambda path: tf.data.TFRecordDataset(path, compression_type=schema.RECORD_COMPRESSION),
        cycle_length=min(len(files), MAX_INTERLEAVED_FILES), num_parallel_calls=AUTOTUNE,
        deterministic=deterministic)
    return dataset.map(lambda serialized: records.parse_video_example(serialized, feature_dtype),
                       num_parallel_calls=AUTOTUNE, deterministic=deterministic)


def video_to_questions(video, max_frames, max_question_tokens, keep_metadata):
    """One parsed video -> a dict of per-question tensors with a leading [Q] axis."""
    frames = video[schema.FRAME_FEATURES_KEY][:max_frames]
    num_questions = tf.shape(video[schema.LABEL_KEY])[0]
    token_ids = video[schema.QUESTION_TOKEN_IDS_KEY][:, :max_question_tokens]
    token_ids = token_ids.to_tensor(default_value=schema.PADDING_TOKEN_ID)
    examples = {
        schema.FRAME_FEATURES_KEY: tf.tile(frames[tf.newaxis], [num_questions, 1, 1]),
        schema.NUM_FRAMES_KEY: tf.fill([num_questions], tf.shape(frames)[0]),
        schema.QUESTION_TOKEN_IDS_KEY: tf.cast(token_ids, tf.int32),
        schema.LABEL_KEY: video[schema.LABEL_KEY],
    }
    if keep_metadata:
        for key in METADATA_KEYS:
            value = video[key]
            examples[key] = tf.fill([num_questions], value) if value.shape.rank == 0 else value
    return examples


def question_examples(data_dir, split, feature_dtype, max_frames, max_question_tokens,
                      training=False, keep_metadata=False, seed=None, cache=False):
    """Unbatched per-question examples of one split (training drops unknown answers).

    cache: keep the parsed videos in memory after the first pass, so later
    epochs neither read nor parse the records again (files are then visited
    in the first pass's order; examples are still shuffled every epoch).
    """
    videos = read_videos(record_files(data_dir, split), feature_dtype, shuffle_files=training,
                         seed=seed, deterministic=True)
    if cache:
        videos = videos.cache()
    examples = videos.map(
        lambda video: video_to_questions(video, max_frames, max_question_tokens, keep_metadata),
        num_parallel_calls=AUTOTUNE).unbatch()
    if training:
        examples = examples.filter(lambda example: example[schema.LABEL_KEY] >= 0)
    return examples


def padded_shapes(element_spec, max_frames, max_question_tokens):
    shapes = {key: tf.TensorShape([]) for key in element_spec}
    shapes[schema.FRAME_FEATURES_KEY] = tf.TensorShape([max_frames, schema.FEATURE_DIM])
    shapes[schema.QUESTION_TOKEN_IDS_KEY] = tf.TensorShape([max_question_tokens])
    return shapes


def split_inputs(batch):
    """Batched example dict -> (model inputs, label) for Keras."""
    return {key: batch[key] for key in MODEL_INPUT_KEYS}, batch[schema.LABEL_KEY]


def make_dataset(data_dir, split, feature_dtype, max_frames, max_question_tokens, batch_size,
                 training=False, shuffle_buffer=1024, seed=None, keep_metadata=False,
                 repeat=False, cache=False):
    """Batched dataset of one split.

    training: shuffle, drop answers outside the vocabulary, drop the last
    partial batch. keep_metadata: yield the whole example dict (inputs, label
    and METADATA_KEYS strings) instead of (inputs, label). cache: see
    `question_examples`.
    """
    examples = question_examples(data_dir, split, feature_dtype, max_frames, max_question_tokens,
                                 training=training, keep_metadata=keep_metadata, seed=seed, cache=cache)
    if repeat:
        examples = examples.repeat()
    if training:
        examples = examples.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    batches = examples.padded_batch(
        batch_size, padded_shapes=padded_shapes(examples.element_spec, max_frames, max_question_tokens),
        drop_remainder=training)
    if not keep_metadata:
        batches = batches.map(split_inputs, num_parallel_calls=AUTOTUNE)
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


def cached_bytes(frames):
    """Memory the parsed features of `frames` frames take in a cache (float32)."""
    return frames * schema.FEATURE_DIM * 4


def should_cache(cache_input, cache_bytes, max_bytes=CACHE_AUTO_MAX_BYTES):
    """Whether to cache: CACHE_MEMORY always, CACHE_NONE never, CACHE_AUTO if `cache_bytes` fit `max_bytes`."""
    if cache_input not in CACHE_CHOICES:
        raise ValueError(f"--cache_input {cache_input!r}: choose one of {', '.join(CACHE_CHOICES)}")
    if cache_input == CACHE_AUTO:
        return cache_bytes <= max_bytes
    return cache_input == CACHE_MEMORY


def has_records(data_dir, split):
    return bool(tf.io.gfile.glob(schema.record_file_pattern(data_dir, split)))
