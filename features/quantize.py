"""Storage of frame features: float32, float16, or YouTube-8M-style uint8.

Each frame's feature_dim values (the backbone's, see `backbones`) are stored as the raw bytes of one dtype.
uint8 maps [QUANTIZE_MIN, QUANTIZE_MAX] onto 0..255 with rounding (values
outside are clipped) and `dequantize` maps each code back to the centre of its
bin, so for in-range values |dequantize(quantize(x)) - x| <= half a bin.
(YouTube-8M's own dequantiser added a further half bin; ours is the inverse.)

`encode_frames` / `decode_frames` are the NumPy pair used by the pipeline and
tests; `decode_frames_tensor` is the TensorFlow decoder used by the trainer.
"""

import numpy as np

from features import schema

QUANTIZE_MIN = -2.0
QUANTIZE_MAX = 2.0
QUANTIZE_LEVELS = 255  # codes 0..255


def bin_width(minimum=QUANTIZE_MIN, maximum=QUANTIZE_MAX):
    """Width of one uint8 quantisation bin."""
    return (maximum - minimum) / QUANTIZE_LEVELS


def quantize(values, minimum=QUANTIZE_MIN, maximum=QUANTIZE_MAX):
    """Float array -> uint8 codes; values are clipped to [minimum, maximum]."""
    values = np.asarray(values, dtype=np.float32)
    clipped = np.clip(values, minimum, maximum)
    return np.rint((clipped - minimum) / bin_width(minimum, maximum)).astype(np.uint8)


def dequantize(codes, minimum=QUANTIZE_MIN, maximum=QUANTIZE_MAX):
    """uint8 codes -> float32 values at the centre of each code's bin."""
    codes = np.asarray(codes, dtype=np.float32)
    return (codes * bin_width(minimum, maximum) + minimum).astype(np.float32)


def check_feature_dtype(feature_dtype):
    """Raise ValueError unless `feature_dtype` is a supported storage dtype."""
    if feature_dtype not in schema.FEATURE_DTYPES:
        raise ValueError(
            f"--feature_dtype {feature_dtype!r} is not supported; "
            f"choose one of {', '.join(schema.FEATURE_DTYPES)}")
    return feature_dtype


def bytes_per_value(feature_dtype):
    """Bytes one stored feature value takes."""
    return np.dtype(check_feature_dtype(feature_dtype)).itemsize


def encode_frames(features, feature_dtype, feature_dim=None):
    """[num_frames, feature_dim] floats -> list of one bytes string per frame."""
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 2 or (feature_dim is not None and features.shape[1] != feature_dim):
        raise ValueError(
            f"frame features must have shape [frames, {feature_dim or 'feature_dim'}], "
            f"got {features.shape}")
    check_feature_dtype(feature_dtype)
    if feature_dtype == "uint8":
        stored = quantize(features)
    else:
        stored = features.astype(feature_dtype)
    return [row.tobytes() for row in stored]


def decode_frames(frame_bytes, feature_dtype, feature_dim):
    """List of per-frame bytes -> float32 [num_frames, feature_dim]."""
    check_feature_dtype(feature_dtype)
    if not frame_bytes:
        return np.zeros((0, feature_dim), np.float32)
    stored = np.stack([np.frombuffer(b, dtype=feature_dtype) for b in frame_bytes])
    if stored.shape[1] != feature_dim:
        raise ValueError(f"stored frames hold {stored.shape[1]} values each, expected {feature_dim}")
    if feature_dtype == "uint8":
        return dequantize(stored)
    return stored.astype(np.float32)


def frame_statistics(frame_bytes, feature_dtype, feature_dim):
    """(sum, sum of squares) over frames of the stored values, float32 [feature_dim] each.

    Accumulated in float64 and rounded once, so a clip embedded now and one
    read back from the feature cache give the same bits.
    """
    stored = decode_frames(list(frame_bytes), feature_dtype, feature_dim).astype(np.float64)
    return stored.sum(axis=0).astype(np.float32), np.square(stored).sum(axis=0).astype(np.float32)


def stored_values(features, feature_dtype):
    """What a reader gets back after storage: decode(encode(features))."""
    features = np.asarray(features, dtype=np.float32)
    return decode_frames(encode_frames(features, feature_dtype), feature_dtype, features.shape[-1])


def decode_frames_tensor(frame_bytes, feature_dtype):
    """TensorFlow decoder: string tensor [..., frames] -> float32 [..., frames, feature_dim]."""
    import tensorflow as tf  # Imported here so the NumPy half needs no TensorFlow.

    check_feature_dtype(feature_dtype)
    values = tf.io.decode_raw(frame_bytes, tf.dtypes.as_dtype(feature_dtype))
    values = tf.cast(values, tf.float32)
    if feature_dtype == "uint8":
        values = values * bin_width() + QUANTIZE_MIN
    return values
