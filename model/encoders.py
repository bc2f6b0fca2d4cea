"""Video encoders: normalised frame features (+ the question vector) -> one video vector.

Chosen by name through VIDEO_ENCODERS, which fails on an unknown name:

  lstm   an LSTM over the real frames, its last state (order-aware; the original design)
  mean   the masked mean of the frames, then a Dense layer (bag of frames)
  none   no video at all: the question-only baseline (returns None)

Every encoder gets `(network_config, frames [B, T, D] normalised, mask [B, T]
of the real frames, question_vector [B, H])` and must ignore padded frames.
Encoders that attend over frames return (video vector, frame weights [B, T]);
the others return (video vector, None).
"""

import numpy as np
import tensorflow as tf
import tf_keras as keras


class FrameMask(keras.layers.Layer):
    """(frames [B, T, D], num_frames [B]) -> bool mask [B, T] of the real frames."""

    def call(self, frames, num_frames):
        return tf.sequence_mask(num_frames, maxlen=tf.shape(frames)[1])


class FrameNormalization(keras.layers.Layer):
    """(x - mean) / stddev per dimension (the train split's statistics); padded frames set to zero."""

    def __init__(self, mean, stddev, **kwargs):
        super().__init__(**kwargs)
        self.initial_mean = np.asarray(mean, np.float32)
        self.initial_stddev = np.asarray(stddev, np.float32)

    def build(self, input_shape):
        dimension = int(input_shape[-1])
        if self.initial_mean.shape != (dimension,) or self.initial_stddev.shape != (dimension,):
            raise ValueError(f"feature statistics must have shape [{dimension}], got "
                             f"{self.initial_mean.shape} and {self.initial_stddev.shape}")
        self.mean = self.add_weight(name="mean", shape=[dimension], trainable=False,
                                    initializer=keras.initializers.Constant(self.initial_mean))
        self.stddev = self.add_weight(name="stddev", shape=[dimension], trainable=False,
                                      initializer=keras.initializers.Constant(self.initial_stddev))
        super().build(input_shape)

    def call(self, frames, mask):
        normalized = (frames - self.mean) / self.stddev
        return tf.where(mask[..., tf.newaxis], normalized, tf.zeros_like(normalized))

    def get_config(self):
        config = super().get_config()
        config.update(mean=self.initial_mean.tolist(), stddev=self.initial_stddev.tolist())
        return config


class MaskedMean(keras.layers.Layer):
    """Mean over the real frames: (x [B, T, D], mask [B, T]) -> [B, D]."""

    def call(self, values, mask):
        weights = tf.cast(mask, values.dtype)[..., tf.newaxis]
        total = tf.reduce_sum(values * weights, axis=1)
        count = tf.maximum(tf.reduce_sum(weights, axis=1), tf.ones_like(total[:, :1]))
        return total / count


def encode_lstm(network_config, frames, mask, question_vector):
    return keras.layers.LSTM(network_config.video_units, name="video_lstm")(frames, mask=mask), None


def encode_mean(network_config, frames, mask, question_vector):
    mean = MaskedMean(name="frame_mean")(frames, mask)
    return keras.layers.Dense(network_config.video_units, activation="tanh", name="video_dense")(mean), None


def encode_none(network_config, frames, mask, question_vector):
    return None, None


VIDEO_ENCODERS = {
    "lstm": encode_lstm,
    "mean": encode_mean,
    "none": encode_none,
}


def get_encoder(name):
    """The encoder function called `name`; ValueError lists the known ones."""
    try:
        return VIDEO_ENCODERS[name]
    except KeyError:
        raise ValueError(f"--video_encoder {name!r}: choose one of {', '.join(VIDEO_ENCODERS)}") from None
