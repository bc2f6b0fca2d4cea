"""Which split a question belongs to: its file's name, its row, or a stable hash of its video.

Rules, in order:
  1. the file name says it: a word train / val / valid / validation / test (any case) between
     '_', '-', '.' or spaces: `train_qa.json`, `Test_action_question.csv`,
     `how2QA_test_public_release.csv`, `val.csv`. A name with two different split words says nothing.
  2. the row's own `split` field (generic layout).
  3. a stable hash of the video id: 80/10/10 (`features.schema.HASH_SPLIT_PERCENT`).

A benchmark published without a validation split (TGIF-QA) gets one carved out of
train by a stable hash of the video: every question of a video moves together, so
no video is in two splits.
"""

import hashlib
import posixpath
import re

from features import schema

SPLIT_ALIASES = {"train": schema.TRAIN_SPLIT, "val": schema.VALIDATION_SPLIT,
                 "valid": schema.VALIDATION_SPLIT, "validation": schema.VALIDATION_SPLIT,
                 "test": schema.TEST_SPLIT}

# Share of a train file's videos carved into validation for benchmarks published without one.
CARVED_VALIDATION_PERCENT = 10

_NAME_WORD_SEPARATORS = re.compile(r"[_\-.\s]+")


def split_from_file_name(path):
    """'train' for .../train_qa.json or Train_count_question.csv, None when the name does not say."""
    stem = posixpath.basename(path).rsplit(".", 1)[0]
    words = {SPLIT_ALIASES[word] for word in _NAME_WORD_SEPARATORS.split(stem.lower()) if word in SPLIT_ALIASES}
    return words.pop() if len(words) == 1 else None


def split_from_field(value):
    """A row's split field -> split, or None when it is not one of SPLIT_ALIASES."""
    return SPLIT_ALIASES.get(str(value).strip().lower())


def _bucket(video_id, salt=""):
    """0..99, the same on every machine and run."""
    return int(hashlib.sha256((salt + video_id).encode("utf-8", "surrogateescape")).hexdigest(), 16) % 100


def split_from_hash(video_id):
    """Stable 80/10/10 split from the video id (same on every machine and run)."""
    bucket = _bucket(video_id)
    for split, upper_bound in schema.HASH_SPLIT_PERCENT:
        if bucket < upper_bound:
            return split
    return schema.TEST_SPLIT


def carve_validation(video_id, percent):
    """'val' for about `percent`% of the videos of a train file, 'train' for the others."""
    return schema.VALIDATION_SPLIT if _bucket(video_id, salt="carve:") < percent else schema.TRAIN_SPLIT
