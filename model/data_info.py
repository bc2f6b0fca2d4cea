"""What a pipeline output dir provides the model: task, vocabularies, statistics, sampling.

`load_data_info(data_dir)` reads `manifest.json` (through `features.manifest`)
and the tf.Transform output (`transform_fn/`, through `features.transform`)
and returns a `DataInfo`: the task, the feature dimension of the backbone,
the answer vocabulary (open-ended; label i is answers[i]), the question
vocabulary size, the train split's per-dimension frame feature mean and
standard deviation, the training count range (count), and the
`DataSignature` that identifies this data for resume and compatibility checks.
"""

import dataclasses
import hashlib

import tensorflow as tf

from features import manifest as manifest_lib
from features import schema
from features import transform as transform_lib
from model import config as config_lib


@dataclasses.dataclass
class DataInfo:
    data_dir: str
    manifest: dict
    transform: transform_lib.TransformOutputs
    signature: config_lib.DataSignature

    @property
    def transform_output(self):
        return self.transform.transform_output

    @property
    def task(self):
        return self.signature.task

    @property
    def feature_dim(self):
        return self.signature.feature_dim

    @property
    def num_candidates(self):
        return self.signature.num_candidates

    @property
    def answers(self):
        return self.transform.answers

    @property
    def question_vocabulary_size(self):
        return self.transform.question_vocabulary_size

    @property
    def feature_mean(self):
        return self.transform.feature_mean

    @property
    def feature_stddev(self):
        return self.transform.feature_stddev

    @property
    def count_range(self):
        return self.transform.count_range

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
    task = manifest_lib.task(manifest)
    feature_dim = manifest_lib.feature_dim(manifest)
    outputs = transform_lib.read_transform_outputs(data_dir, task, feature_dim)
    if task == schema.TASK_OPEN_ENDED and not outputs.answers:
        raise manifest_lib.ManifestError(
            f"{data_dir}: the answer vocabulary is empty (no training questions?); re-run the "
            f"pipeline with annotations that have a train split")
    cnn = manifest_lib.cnn_config(manifest)
    answer_checksum = (vocabulary_checksum(outputs.transform_output, schema.ANSWER_VOCABULARY_NAME)
                       if task == schema.TASK_OPEN_ENDED else "")
    signature = config_lib.DataSignature(
        schema_version=int(manifest[manifest_lib.MANIFEST_SCHEMA_VERSION]),
        task=task, num_candidates=manifest_lib.num_candidates(manifest),
        backbone=manifest_lib.backbone_name(manifest), feature_dim=feature_dim,
        feature_dtype=manifest_lib.feature_dtype(manifest),
        max_frames=manifest_lib.sampling_config(manifest).max_sampled_frames,
        max_question_tokens=manifest_lib.max_question_tokens(manifest),
        question_vocabulary_size=outputs.question_vocabulary_size,
        answer_vocabulary_size=len(outputs.answers),
        question_vocabulary_sha256=vocabulary_checksum(outputs.transform_output, schema.QUESTION_VOCABULARY_NAME),
        answer_vocabulary_sha256=answer_checksum,
        cnn_weights=str(cnn[manifest_lib.CNN_WEIGHTS]),
        cnn_weights_sha256=str(cnn[manifest_lib.CNN_WEIGHTS_SHA256]),
        image_size=int(cnn[manifest_lib.CNN_IMAGE_SIZE]))
    return DataInfo(data_dir=data_dir, manifest=manifest, transform=outputs, signature=signature)

