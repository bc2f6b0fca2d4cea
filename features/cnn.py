"""The frozen CNN: a `features.backbones` model without its top, global average pooling.

Frames go in as uint8 RGB [batch, size, size, 3]; the backbone's own
`preprocess_input` prepares them; `feature_dim` pooled values come out per
frame. `FrozenCnn.embed` runs in the pipeline's model handler and the same
model runs inside the exported serving signature, so both see identical
inputs (resizing is `features.frames`).

Weights (`--cnn_weights`), for every backbone:
  imagenet        Keras downloads the ImageNet weights the first time (needs
                  internet; cached under ~/.keras/models afterwards).
  random[:SEED]   seeded He-normal kernels with batch-norm statistics calibrated
                  on seeded noise images (default seed 0), for offline tests
                  and demos; features are real CNN outputs but carry no
                  ImageNet knowledge. Output says so wherever it is used.
  PATH            a Keras weights file (.h5 / .weights.h5) for this
                  architecture without its top; gs:// and other Beam
                  filesystems work. A file for another architecture is refused.
Keras 2 (`tf_keras`) is used on purpose: see `features/__init__.py`.
"""

import collections
import hashlib
import importlib
import os
import tempfile
import threading

import numpy as np
import tensorflow as tf
import tf_keras as keras

from features import backbones, schema
from features import manifest as manifest_lib

RANDOM_WEIGHTS = "random"
IMAGENET_WEIGHTS = "imagenet"
FILE_WEIGHTS = "file"


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
    return FILE_WEIGHTS, weights


def validate_cnn_config(backbone_name, weights, image_size):
    """Raise ValueError before any work if the CNN cannot be built as asked."""
    backbone = backbones.get_backbone(backbone_name)
    backbones.check_image_size(backbone, image_size)
    kind, path = parse_weights(weights)
    if kind == FILE_WEIGHTS:
        from apache_beam.io.filesystems import FileSystems
        if not FileSystems.exists(path):
            raise ValueError(
                f"--cnn_weights {path!r}: no such weights file (expected 'imagenet', "
                f"'random[:SEED]' or the path of a Keras weights file)")
    return backbone


def describe_weights(backbone_name, weights):
    """Human-readable statement of which weights are in use, for logs and reports."""
    architecture = backbones.get_backbone(backbone_name).architecture
    kind, value = parse_weights(weights)
    if kind == RANDOM_WEIGHTS:
        return (f"RANDOM {architecture} weights (seeded He-normal, seed {value}): offline mode, "
                f"features carry no ImageNet knowledge")
    if kind == IMAGENET_WEIGHTS:
        return f"ImageNet {architecture} weights"
    return f"{architecture} weights from {value}"


# Random weights: batch-norm statistics are calibrated on this many seeded noise images.
CALIBRATION_IMAGES = 8


def _initialize_random(model, seed, preprocess_input, image_size):
    """Seeded He-normal kernels, then batch-norm statistics calibrated on seeded noise images.

    With Keras's default statistics (mean 0, variance 1) the pooled features of
    a randomly initialised network vanish or explode with depth (MobileNetV3
    about 1e-8, EfficientNetV2 1e-5, ResNet50 1e4). One forward pass in
    training mode with momentum 0 sets every batch-norm layer's moving
    statistics to those of its own input, so each layer normalises what it
    receives: the features of every backbone keep a usable scale. Everything
    is a function of the seed, so the weights (and their checksum) repeat.
    """
    generator = np.random.default_rng(seed)
    for variable in model.weights:
        if variable.name.split("/")[-1].startswith(("kernel", "depthwise_kernel")):
            fan_in = int(np.prod(variable.shape[:-1]))
            values = generator.normal(0.0, np.sqrt(2.0 / fan_in), size=variable.shape)
            variable.assign(values.astype(np.float32))
    normalizations = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    dropouts = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    momenta, rates = [layer.momentum for layer in normalizations], [layer.rate for layer in dropouts]
    for layer in normalizations:
        layer.momentum = 0.0
    for layer in dropouts:  # Training mode must not drop anything (EfficientNet's stochastic depth).
        layer.rate = 0.0
    images = generator.integers(0, 256, size=(CALIBRATION_IMAGES, image_size, image_size, 3)).astype(np.float32)
    model(preprocess_input(images), training=True)
    for layer, momentum in zip(normalizations, momenta):
        layer.momentum = momentum
    for layer, rate in zip(dropouts, rates):
        layer.rate = rate


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


def _load_weights_file(model, backbone, path):
    try:
        model.load_weights(_local_copy(path))
    except (OSError, ValueError) as error:
        raise ValueError(f"--cnn_weights {path!r} is not a Keras weights file for {backbone.architecture} "
                         f"without its top (--cnn {backbone.name}); a file for another architecture "
                         f"does not fit ({type(error).__name__}: {str(error)[:300]})") from None


def build_cnn(backbone_name, weights, image_size):
    """The frozen feature extractor for `image_size`x`image_size` frames."""
    backbone = validate_cnn_config(backbone_name, weights, image_size)
    kind, value = parse_weights(weights)
    constructor = getattr(keras.applications, backbone.application)
    model = constructor(include_top=False, pooling="avg", input_shape=(image_size, image_size, 3),
                        weights=IMAGENET_WEIGHTS if kind == IMAGENET_WEIGHTS else None)
    if kind == RANDOM_WEIGHTS:
        _initialize_random(model, value, preprocess_function(backbone_name), image_size)
    elif kind == FILE_WEIGHTS:
        _load_weights_file(model, backbone, value)
    model.trainable = False
    return model


def weights_checksum(model):
    """SHA-256 over every weight's bytes, in order: identifies the exact CNN."""
    digest = hashlib.sha256()
    for variable in model.weights:
        digest.update(np.ascontiguousarray(variable.numpy()).tobytes())
    return digest.hexdigest()


def preprocess_function(backbone_name):
    """The backbone's own `preprocess_input`: uint8 frames -> float32 inputs as it expects.

    Resolved outside traced code: importing inside a tf.function would make
    AutoGraph try (and fail) to convert the import machinery.
    """
    backbone = backbones.get_backbone(backbone_name)
    preprocess_input = importlib.import_module(f"tf_keras.applications.{backbone.preprocess_module}").preprocess_input
    return lambda frames: preprocess_input(tf.cast(frames, tf.float32))


class FrozenCnn(tf.Module):
    """A backbone wrapped with its preprocessing; `embed` is one batched call."""

    def __init__(self, backbone_name, weights, image_size):
        super().__init__(name="frozen_cnn")
        self.backbone = backbones.get_backbone(backbone_name)
        self.image_size = int(image_size)
        self.weights_spec = weights
        self.model = build_cnn(backbone_name, weights, self.image_size)
        self.preprocess = preprocess_function(backbone_name)
        self.checksum = weights_checksum(self.model)
        self._embed = tf.function(
            self.embed_tensor,
            input_signature=[tf.TensorSpec([None, self.image_size, self.image_size, 3], tf.uint8)])

    @property
    def feature_dim(self):
        return self.backbone.feature_dim

    def embed_tensor(self, frames):
        """uint8 tensor [batch, size, size, 3] -> float32 [batch, feature_dim] (traceable)."""
        return tf.cast(self.model(self.preprocess(frames), training=False), tf.float32)

    def embed(self, frames):
        """uint8 [batch, size, size, 3] (NumPy or tensor) -> float32 NumPy [batch, feature_dim]."""
        frames = np.asarray(frames, dtype=np.uint8)
        if frames.shape[0] == 0:
            return np.zeros((0, self.feature_dim), np.float32)
        return self._embed(frames).numpy()

    def describe(self):
        """What goes into manifests: the backbone, which weights, their checksum, the input size."""
        return {manifest_lib.CNN_BACKBONE: self.backbone.name, "architecture": self.backbone.architecture,
                "include_top": False, "pooling": "avg",
                manifest_lib.CNN_WEIGHTS: self.weights_spec, manifest_lib.CNN_WEIGHTS_SHA256: self.checksum,
                manifest_lib.CNN_IMAGE_SIZE: self.image_size, manifest_lib.CNN_FEATURE_DIM: self.feature_dim,
                manifest_lib.CNN_NOTE: describe_weights(self.backbone.name, self.weights_spec)}


# Built CNNs kept by `shared_frozen_cnn`: a few, since each holds a whole backbone's weights.
SHARED_CNNS_KEPT = 2
_shared_cnns = collections.OrderedDict()
_shared_cnns_lock = threading.Lock()


def shared_frozen_cnn(backbone_name, weights, image_size):
    """A FrozenCnn built once per process for (backbone, weights, size), as long as it is recently used.

    Building a backbone costs seconds; the pipeline builds it to record its
    checksum and again in each worker, and an in-process runner's workers are
    this process. Only `imagenet` and `random[:SEED]` weights are shared: they
    are the same whenever they are built. A weights file may change between
    calls, so it is read again each time.
    """
    if parse_weights(weights)[0] == FILE_WEIGHTS:
        return FrozenCnn(backbone_name, weights, image_size)
    key = (backbone_name, weights, int(image_size))
    with _shared_cnns_lock:
        if key in _shared_cnns:
            _shared_cnns.move_to_end(key)
            return _shared_cnns[key]
        frozen = FrozenCnn(backbone_name, weights, image_size)
        _shared_cnns[key] = frozen
        while len(_shared_cnns) > SHARED_CNNS_KEPT:
            _shared_cnns.popitem(last=False)
        return frozen


def forget_shared_cnns():
    """Drop the CNNs `shared_frozen_cnn` keeps (e.g. so that each timed run builds its own)."""
    with _shared_cnns_lock:
        _shared_cnns.clear()
