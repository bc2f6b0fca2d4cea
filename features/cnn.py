"""The frozen CNN: InceptionV3 without its top, global average pooling.

Frames go in as uint8 RGB [batch, size, size, 3]; `inception_v3.preprocess_input`
scales them to [-1, 1]; 2048 pooled values come out per frame. The same
`resize_frames` and `FrozenCnn.embed` run in the pipeline's model handler and
inside the exported serving signature, so both see identical inputs.

Weights (`--cnn_weights`):
  imagenet        Keras downloads the ImageNet weights the first time (needs
                  internet; cached under ~/.keras/models afterwards).
  random[:SEED]   seeded He-normal initialisation (default seed 0), for offline
                  tests and demos; features are real CNN outputs but carry no
                  ImageNet knowledge. Output says so wherever it is used.
  PATH            a Keras weights file (.h5 / .weights.h5) for this
                  architecture; gs:// and other Beam filesystems work.
Keras 2 (`tf_keras`) is used on purpose: see `features/__init__.py`.
"""

import hashlib
import os
import tempfile

import numpy as np
import tensorflow as tf
import tf_keras as keras

from features import schema

RANDOM_WEIGHTS = "random"
IMAGENET_WEIGHTS = "imagenet"


def parse_weights(weights):
    """'random[:seed]' -> ('random', seed); 'imagenet' -> ('imagenet', None); else ('file', path)."""
    if weights == IMAGENET_WEIGHTS:
        return IMAGENET_WEIGHTS, None
    if weights == RANDOM_WEIGHTS or weights.startswith(RANDOM_WEIGHTS + ":"):
        _, _, seed_text = weights.partition(":")
        try:
            seed = int(seed_text) if seed_text else schema.DEFAULT_RANDOM_WEIGHTS_SEED
        except ValueError:
            raise ValueError(f"--cnn_weights {weights!r}: the seed after 'random:' must be an integer") from None
        return RANDOM_WEIGHTS, seed
    return "file", weights


def validate_cnn_config(weights, image_size):
    """Raise ValueError before any work if the CNN cannot be built as asked."""
    if image_size < schema.MIN_IMAGE_SIZE:
        raise ValueError(
            f"--image_size {image_size} is below InceptionV3's minimum input of "
            f"{schema.MIN_IMAGE_SIZE}x{schema.MIN_IMAGE_SIZE}")
    kind, path = parse_weights(weights)
    if kind == "file":
        from apache_beam.io.filesystems import FileSystems
        if not FileSystems.exists(path):
            raise ValueError(
                f"--cnn_weights {path!r}: no such weights file (expected 'imagenet', "
                f"'random[:SEED]' or the path of a Keras weights file)")


def describe_weights(weights):
    """Human-readable statement of which weights are in use, for logs and reports."""
    kind, value = parse_weights(weights)
    if kind == RANDOM_WEIGHTS:
        return (f"RANDOM CNN weights (seeded He-normal, seed {value}): offline mode, "
                f"features carry no ImageNet knowledge")
    if kind == IMAGENET_WEIGHTS:
        return "ImageNet InceptionV3 weights"
    return f"InceptionV3 weights from {value}"


def _initialize_random(model, seed):
    """Seeded He-normal kernels (biases and batch-norm statistics keep Keras defaults)."""
    generator = np.random.default_rng(seed)
    for variable in model.weights:
        if variable.name.split("/")[-1].startswith("kernel"):
            fan_in = int(np.prod(variable.shape[:-1]))
            values = generator.normal(0.0, np.sqrt(2.0 / fan_in), size=variable.shape)
            variable.assign(values.astype(np.float32))


def _local_copy(path):
    """Keras loads weights from local files only: copy remote paths to a temp file."""
    if "://" not in path:
        return path
    from apache_beam.io.filesystems import FileSystems
    suffix = ".weights.h5" if path.endswith(".weights.h5") else os.path.splitext(path)[1]
    handle, local_path = tempfile.mkstemp(suffix=suffix)
    with os.fdopen(handle, "wb") as local_file, FileSystems.open(path) as remote_file:
        local_file.write(remote_file.read())
    return local_path


def build_cnn(weights, image_size):
    """The frozen InceptionV3 feature extractor for `image_size`x`image_size` frames."""
    validate_cnn_config(weights, image_size)
    kind, value = parse_weights(weights)
    model = keras.applications.InceptionV3(
        include_top=False, pooling="avg", input_shape=(image_size, image_size, 3),
        weights=IMAGENET_WEIGHTS if kind == IMAGENET_WEIGHTS else None)
    if kind == RANDOM_WEIGHTS:
        _initialize_random(model, value)
    elif kind == "file":
        try:
            model.load_weights(_local_copy(value))
        except (OSError, ValueError) as error:
            raise ValueError(f"--cnn_weights {value!r} is not a Keras weights file for InceptionV3 "
                             f"without its top ({type(error).__name__}: {error})") from None
    model.trainable = False
    return model


def weights_checksum(model):
    """SHA-256 over every weight's bytes, in order: identifies the exact CNN."""
    digest = hashlib.sha256()
    for variable in model.weights:
        digest.update(np.ascontiguousarray(variable.numpy()).tobytes())
    return digest.hexdigest()


def _resize(frames, image_size):
    resized = tf.image.resize(tf.cast(frames, tf.float32), (image_size, image_size),
                              method="bilinear", antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)


# The same ops as one graph call: decoding resizes every sampled frame eagerly,
# and six eager op dispatches per frame cost about a third of the whole
# (benchmarks/decode_cost.py). Results are identical: the same kernels run. One
# function per rank, so that after the first size a trace serves every size.
_resize_graph_by_rank = {3: tf.function(_resize, reduce_retracing=True),
                         4: tf.function(_resize, reduce_retracing=True)}


def resize_frames(frames, image_size):
    """uint8 [..., H, W, 3] -> uint8 [..., size, size, 3]: bilinear with antialiasing, rounded."""
    frames = tf.convert_to_tensor(frames)
    if frames.shape[-3] == image_size and frames.shape[-2] == image_size:
        return tf.cast(frames, tf.uint8)
    if tf.executing_eagerly() and frames.shape.rank in _resize_graph_by_rank:
        return _resize_graph_by_rank[frames.shape.rank](frames, image_size)
    return _resize(frames, image_size)


def preprocess(frames):
    """uint8 frames -> float32 in [-1, 1], as InceptionV3 expects."""
    return keras.applications.inception_v3.preprocess_input(tf.cast(frames, tf.float32))


class FrozenCnn(tf.Module):
    """InceptionV3 wrapped with its preprocessing; `embed` is one batched call."""

    def __init__(self, weights, image_size):
        super().__init__(name="frozen_cnn")
        self.image_size = image_size
        self.weights_spec = weights
        self.model = build_cnn(weights, image_size)
        self.checksum = weights_checksum(self.model)
        self._embed = tf.function(
            self._embed_frames,
            input_signature=[tf.TensorSpec([None, image_size, image_size, 3], tf.uint8)])

    def _embed_frames(self, frames):
        return self.model(preprocess(frames), training=False)

    def embed(self, frames):
        """uint8 [batch, size, size, 3] (NumPy or tensor) -> float32 NumPy [batch, 2048]."""
        frames = np.asarray(frames, dtype=np.uint8)
        if frames.shape[0] == 0:
            return np.zeros((0, schema.FEATURE_DIM), np.float32)
        return self._embed(frames).numpy()

    def describe(self):
        """What goes into manifests: which weights, their checksum, the input size."""
        return {"architecture": "InceptionV3", "include_top": False, "pooling": "avg",
                "weights": self.weights_spec, "weights_sha256": self.checksum,
                "image_size": self.image_size, "feature_dim": schema.FEATURE_DIM,
                "note": describe_weights(self.weights_spec)}
