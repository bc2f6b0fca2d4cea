"""Record keys, dtypes, shapes, defaults and label conventions.

This module is the single source of truth for the on-disk contract between
`pipeline` (writer) and `model` (reader). Nothing else spells a record key or
a default.

One `tf.train.SequenceExample` per video:

context
  video_id        bytes     the clip id: the annotation's video id, plus [start:end] for a segment
  split           bytes     train | val | test
  num_frames      int64     frames actually sampled (may be < frames asked)
  schema_version  int64     SCHEMA_VERSION
  question        bytes[Q]  raw question text, one per question of the video
  question_id     bytes[Q]
  question_type   bytes[Q]  the data set's own type, else the question's first word
  answer          bytes[Q]  raw answer text (multiple choice: the correct candidate's text)
  label           int64[Q]  open_ended: index in the answer vocabulary, OUT_OF_VOCABULARY_LABEL
                            if absent; multiple_choice: index of the correct candidate;
                            count: the count
  candidate       bytes[Q*C]  multiple_choice only: the C candidates of each question, in order

feature lists
  frame_features       num_frames entries, each feature_dim values (the manifest's
                       backbone) as raw bytes of the run's feature dtype (see `quantize`)
  question_token_ids   Q entries, each the int64 token ids of one question
                       (vocabulary index + TOKEN_ID_OFFSET; OOV = vocab size + 1)
  candidate_token_ids  multiple_choice only: Q*C entries, each candidate's token ids
                       (the question vocabulary)

Frame features are stored once per clip however many questions it has. The
run's task, backbone and feature dimension are in the manifest (`manifest`).
"""

# 2: the backbone and its feature dimension are recorded in the manifest;
#    clips may be segments; multiple-choice and count tasks.
SCHEMA_VERSION = 2

# Tasks: one per pipeline run, recorded in the manifest.
TASK_OPEN_ENDED = "open_ended"
TASK_MULTIPLE_CHOICE = "multiple_choice"
TASK_COUNT = "count"
TASKS = (TASK_OPEN_ENDED, TASK_MULTIPLE_CHOICE, TASK_COUNT)

# Context keys.
VIDEO_ID_KEY = "video_id"
SPLIT_KEY = "split"
NUM_FRAMES_KEY = "num_frames"
SCHEMA_VERSION_KEY = "schema_version"
QUESTION_KEY = "question"
QUESTION_ID_KEY = "question_id"
QUESTION_TYPE_KEY = "question_type"
ANSWER_KEY = "answer"
LABEL_KEY = "label"
CANDIDATE_KEY = "candidate"

# Feature-list keys.
FRAME_FEATURES_KEY = "frame_features"
QUESTION_TOKEN_IDS_KEY = "question_token_ids"
CANDIDATE_TOKEN_IDS_KEY = "candidate_token_ids"

# Frame features: the backbone's pooled values (see `backbones`), stored as one of these.
FEATURE_DTYPES = ("float32", "float16", "uint8")
DEFAULT_FEATURE_DTYPE = "float16"

# Frame sampling and the CNN input.
DEFAULT_FRAMES_PER_VIDEO = 16
CNN_WEIGHTS_CHOICES_HELP = "imagenet | random[:SEED] | PATH to a Keras weights file"
DEFAULT_CNN_WEIGHTS = "imagenet"
DEFAULT_RANDOM_WEIGHTS_SEED = 0

# Questions and answers.
DEFAULT_MAX_QUESTION_TOKENS = 32
DEFAULT_ANSWER_TOP_K = 1000
PADDING_TOKEN_ID = 0
TOKEN_ID_OFFSET = 1  # token id = vocabulary index + 1, so 0 stays padding.
OUT_OF_VOCABULARY_LABEL = -1
QUESTION_TYPE_WORDS = ("what", "who", "how", "when", "where")
OTHER_QUESTION_TYPE = "other"

# Splits.
TRAIN_SPLIT = "train"
VALIDATION_SPLIT = "val"
TEST_SPLIT = "test"
SPLITS = (TRAIN_SPLIT, VALIDATION_SPLIT, TEST_SPLIT)
# Fallback split from a stable hash of video_id: (name, upper bound in [0, 100)).
HASH_SPLIT_PERCENT = ((TRAIN_SPLIT, 80), (VALIDATION_SPLIT, 90), (TEST_SPLIT, 100))

# Output layout of a pipeline run (relative to --output_dir).
RECORD_FILE_SUFFIX = ".tfrecord.gz"
RECORD_COMPRESSION = "GZIP"
MANIFEST_FILE = "manifest.json"
ERRORS_DIR = "errors"
TRANSFORM_FN_DIR = "transform_fn"
TRANSFORMED_METADATA_DIR = "transformed_metadata"

# Vocabulary names inside transform_fn/assets.
QUESTION_VOCABULARY_NAME = "question_tokens"
ANSWER_VOCABULARY_NAME = "answers"

# Inputs of the tf.Transform preprocessing function (one instance per clip;
# serving passes only the question, and the candidates for multiple choice).
TRANSFORM_INPUT_QUESTION = "question"
TRANSFORM_INPUT_ANSWER = "answer"
TRANSFORM_INPUT_CANDIDATE = "candidate"
TRANSFORM_INPUT_LABEL = "label"
TRANSFORM_INPUT_FRAME_SUM = "frame_sum"
TRANSFORM_INPUT_FRAME_SUM_SQUARES = "frame_sum_squares"
TRANSFORM_INPUT_NUM_FRAMES = "num_frames"

# Outputs of the tf.Transform preprocessing function.
TRANSFORM_QUESTION_TOKEN_IDS = "question_token_ids"
TRANSFORM_QUESTION_TOKEN_COUNTS = "question_token_counts"
TRANSFORM_CANDIDATE_TOKEN_IDS = "candidate_token_ids"
TRANSFORM_CANDIDATE_TOKEN_COUNTS = "candidate_token_counts"
TRANSFORM_LABELS = "labels"
TRANSFORM_FEATURE_MEAN = "frame_feature_mean"
TRANSFORM_FEATURE_STDDEV = "frame_feature_stddev"
TRANSFORM_COUNT_MIN = "count_min"
TRANSFORM_COUNT_MAX = "count_max"


def record_file_prefix(split):
    """Shard prefix of a split, relative to the output directory: 'train'."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    return split


def record_file_pattern(data_dir, split):
    """Glob matching every record shard of `split` under `data_dir`."""
    return f"{data_dir.rstrip('/')}/{record_file_prefix(split)}-*{RECORD_FILE_SUFFIX}"
