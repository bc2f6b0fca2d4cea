"""`manifest.json`: what a pipeline run wrote and with which configuration.

Written by the pipeline next to its records; read by the trainer, the
evaluator, the exporter and `model.predict`, which take the feature dtype, the
frame sampling rule and the CNN from here so that nothing is configured twice.

Top-level keys (MANIFEST_* below): schema_version, task (open_ended,
multiple_choice or count), config (the full run configuration, including
`cnn` with the backbone, its feature dimension and weights checksum,
`sampling`, `feature_dtype`, `max_question_tokens`, `answer_top_k`,
`num_candidates`, `quantize`), config_fingerprint, inputs (each annotation
file with the layout read and its split), counts (per split: videos,
questions, frames; plus input, written, rejected and truncated questions),
timings (seconds per pipeline stage, from Beam's metrics), vocabulary sizes,
and created (UTC time).
"""

import hashlib
import json

from features import quantize, sampling, schema

MANIFEST_SCHEMA_VERSION = "schema_version"
MANIFEST_CONFIG = "config"
MANIFEST_CONFIG_FINGERPRINT = "config_fingerprint"
MANIFEST_COUNTS = "counts"
MANIFEST_VOCABULARY = "vocabulary"
MANIFEST_CREATED = "created"
MANIFEST_TASK = "task"
MANIFEST_INPUTS = "inputs"
MANIFEST_TIMINGS = "timings"

CONFIG_CNN = "cnn"
CONFIG_SAMPLING = "sampling"
CONFIG_FEATURE_DTYPE = "feature_dtype"
CONFIG_MAX_QUESTION_TOKENS = "max_question_tokens"
CONFIG_ANSWER_TOP_K = "answer_top_k"
CONFIG_QUANTIZE = "quantize"
CONFIG_NUM_CANDIDATES = "num_candidates"
CNN_BACKBONE = "backbone"
CNN_FEATURE_DIM = "feature_dim"
CNN_WEIGHTS = "weights"
CNN_WEIGHTS_SHA256 = "weights_sha256"
CNN_IMAGE_SIZE = "image_size"
CNN_NOTE = "note"


class ManifestError(ValueError):
    """A data directory that is missing, from another schema version, or inconsistent."""


def fingerprint(config):
    """Stable hash of a configuration dict (sorted JSON)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode("utf-8")).hexdigest()


def quantize_config():
    return {"min": quantize.QUANTIZE_MIN, "max": quantize.QUANTIZE_MAX, "levels": quantize.QUANTIZE_LEVELS}


def manifest_path(data_dir):
    return f"{data_dir.rstrip('/')}/{schema.MANIFEST_FILE}"


def write_manifest(data_dir, manifest):
    """Write `manifest` as indented JSON to data_dir/manifest.json (any Beam filesystem)."""
    from apache_beam.io.filesystems import FileSystems
    with FileSystems.create(manifest_path(data_dir)) as handle:
        handle.write(json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8"))


def read_manifest(data_dir):
    """Read and check data_dir/manifest.json; ManifestError says what is wrong and what to do."""
    import tensorflow as tf
    path = manifest_path(data_dir)
    if not tf.io.gfile.exists(path):
        raise ManifestError(
            f"{path} not found: --data_dir must be the --output_dir of a finished "
            f"`python -m pipeline.run` (it writes manifest.json last)")
    try:
        with tf.io.gfile.GFile(path, "r") as handle:
            manifest = json.load(handle)
    except json.JSONDecodeError as error:
        raise ManifestError(f"{path} is not valid JSON ({error}); re-run the pipeline") from None
    version = manifest.get(MANIFEST_SCHEMA_VERSION)
    if version != schema.SCHEMA_VERSION:
        raise ManifestError(
            f"{path} has record schema version {version!r} but this toolkit reads version "
            f"{schema.SCHEMA_VERSION}; re-run `python -m pipeline.run` with this version "
            f"to rebuild the records")
    for key in (MANIFEST_TASK, MANIFEST_CONFIG, MANIFEST_COUNTS, MANIFEST_VOCABULARY):
        if key not in manifest:
            raise ManifestError(f"{path} lacks {key!r}; re-run the pipeline")
    return manifest


def feature_dtype(manifest):
    return manifest[MANIFEST_CONFIG][CONFIG_FEATURE_DTYPE]


def sampling_config(manifest):
    return sampling.SamplingConfig.from_dict(manifest[MANIFEST_CONFIG][CONFIG_SAMPLING])


def cnn_config(manifest):
    """dict with backbone, feature_dim, weights, weights_sha256, image_size (features.cnn.FrozenCnn.describe)."""
    return manifest[MANIFEST_CONFIG][CONFIG_CNN]


def feature_dim(manifest):
    """Values per frame in the records: the backbone's pooled feature dimension."""
    return int(cnn_config(manifest)[CNN_FEATURE_DIM])


def backbone_name(manifest):
    return str(cnn_config(manifest)[CNN_BACKBONE])


def image_size(manifest):
    return int(cnn_config(manifest)[CNN_IMAGE_SIZE])


def task(manifest):
    """open_ended, multiple_choice or count (features.schema.TASKS)."""
    return manifest[MANIFEST_TASK]


def num_candidates(manifest):
    """Candidates per question (multiple choice), else 0."""
    return int(manifest[MANIFEST_CONFIG].get(CONFIG_NUM_CANDIDATES) or 0)


def max_question_tokens(manifest):
    return int(manifest[MANIFEST_CONFIG][CONFIG_MAX_QUESTION_TOKENS])
