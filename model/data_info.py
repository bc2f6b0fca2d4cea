"""What a pipeline output dir provides the model: vocabularies, statistics, sampling.

`load_data_info(data_dir)` reads `manifest.json` (through `features.manifest`)
and the tf.Transform output (`transform_fn/`) and returns a `DataInfo`: the
answer vocabulary (label i is answers[i]), the question vocabulary size, the
train split's per-dimension frame feature mean and standard deviation, and the
`DataSignature` that identifies this data for resume and compatibility checks.
"""

import dataclasses
import hashlib

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from features import manifest as manifest_lib
from features import schema
from model import config as config_lib
from pipeline import transform


@dataclasses.dataclass
class DataInfo:
    data_dir: str
    manifest: dict
    transform_output: tft.TFTransformOutput
    answers: list            # str, index = label
    question_vocabulary_size: int
    feature_mean: np.ndarray    # float32 [FEATURE_DIM]
    feature_stddev: np.ndarray  # float32 [FEATURE_DIM]
    signature: config_lib.DataSignature

    @property
    def feature_dtype(self):
        return self.signature.feature_dtype

    @property
    def max_frames(self):
        return self.signature.max_frames

    @property
    def max_question_tokens(self):
        return self.signature.max_question_tokens

    @property
    def num_answers(self):
        return len(self.answers)

    @property
    def embedding_input_dim(self):
        """Question vocabulary + padding id 0 + the OOV id V + 1."""
        return self.question_vocabulary_size + schema.TOKEN_ID_OFFSET + 1


def vocabulary_checksum(transform_output, name):
    """SHA-256 of a vocabulary file's bytes."""
    path = transform_output.vocabulary_file_by_name(name)
    with tf.io.gfile.GFile(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def dummy_raw_instance():
    """One raw tf.Transform instance (empty strings, zero numbers): for reading analyser outputs."""
    instance = {}
    for name, spec in transform.raw_feature_spec().items():
        if isinstance(spec, tf.io.VarLenFeature):
            value = tf.constant([""]) if spec.dtype == tf.string else tf.zeros([1], spec.dtype)
            instance[name] = tf.SparseTensor(indices=[[0, 0]], values=value, dense_shape=[1, 1])
        elif spec.dtype == tf.string:
            instance[name] = tf.fill([1] + list(spec.shape), "")
        else:
            instance[name] = tf.zeros([1] + list(spec.shape), spec.dtype)
    return instance


def feature_statistics(transform_output):
    """The train split's per-dimension frame feature mean and stddev (float32 [FEATURE_DIM])."""
    outputs = transform_output.transform_raw_features(dummy_raw_instance(), drop_unused_features=True)
    mean = np.asarray(outputs[schema.TRANSFORM_FEATURE_MEAN])[0].astype(np.float32)
    stddev = np.asarray(outputs[schema.TRANSFORM_FEATURE_STDDEV])[0].astype(np.float32)
    return mean, stddev


def _check_data_dir(data_dir):
    if not tf.io.gfile.exists(data_dir):
        raise manifest_lib.ManifestError(
            f"--data_dir {data_dir} does not exist: pass the --output_dir of a finished "
            f"`python -m pipeline.run`")
    transform_dir = f"{data_dir.rstrip('/')}/{schema.TRANSFORM_FN_DIR}"
    if not tf.io.gfile.exists(transform_dir):
        raise manifest_lib.ManifestError(
            f"{transform_dir} not found: --data_dir must be the --output_dir of a finished "
            f"`python -m pipeline.run`")


def load_data_info(data_dir):
    """DataInfo for a pipeline output dir; ManifestError (a ValueError) says what is wrong."""
    _check_data_dir(data_dir)
    manifest = manifest_lib.read_manifest(data_dir)
    transform_output = tft.TFTransformOutput(data_dir)
    answers = [answer.decode("utf-8") if isinstance(answer, bytes) else str(answer)
               for answer in transform_output.vocabulary_by_name(schema.ANSWER_VOCABULARY_NAME)]
    if not answers:
        raise manifest_lib.ManifestError(
            f"{data_dir}: the answer vocabulary is empty (no training questions?); re-run the "
            f"pipeline with annotations that have a train split")
    question_vocabulary_size = transform_output.vocabulary_size_by_name(schema.QUESTION_VOCABULARY_NAME)
    mean, stddev = feature_statistics(transform_output)
    cnn = manifest_lib.cnn_config(manifest)
    signature = config_lib.DataSignature(
        schema_version=int(manifest[manifest_lib.MANIFEST_SCHEMA_VERSION]),
        feature_dtype=manifest_lib.feature_dtype(manifest),
        max_frames=manifest_lib.sampling_config(manifest).max_sampled_frames,
        max_question_tokens=manifest_lib.max_question_tokens(manifest),
        question_vocabulary_size=int(question_vocabulary_size),
        answer_vocabulary_size=len(answers),
        question_vocabulary_sha256=vocabulary_checksum(transform_output, schema.QUESTION_VOCABULARY_NAME),
        answer_vocabulary_sha256=vocabulary_checksum(transform_output, schema.ANSWER_VOCABULARY_NAME),
        cnn_weights=str(cnn["weights"]),
        cnn_weights_sha256=str(cnn["weights_sha256"]),
        image_size=int(cnn["image_size"]))
    return DataInfo(data_dir=data_dir, manifest=manifest, transform_output=transform_output,
                    answers=answers, question_vocabulary_size=int(question_vocabulary_size),
                    feature_mean=mean, feature_stddev=stddev, signature=signature)
