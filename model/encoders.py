"""Video encoders: normalised frame features (+ the question vector) -> one video vector.

Chosen by name through VIDEO_ENCODERS, which fails on an unknown name:

  lstm         an LSTM over the real frames, its last state (order-aware; the original design)
  mean         the masked mean of the frames, then a Dense layer (bag of frames)
  attention    a bidirectional LSTM over the frames; the question attends over its per-frame
               states (additive attention, padded frames masked out of the softmax); the
               attended summary joins the final states: concat -> Dense (order-aware)
  transformer  a small Transformer encoder over the frames with learned positions and a
               class token (`--transformer_layers/_heads/_width/_max_frames`; order-aware)
  none         no video at all: the question-only baseline (returns None)

Every encoder gets `(network_config, frames [B, T, D] normalised, mask [B, T]
of the real frames, question_vector [B, H])` and must ignore padded frames.
It returns (video vector [B, video_units] or None, frame weights [B, T] or
None). Frame weights (attention, transformer) sum to one over the real frames,
are zero on padding, and come out of the layer named FRAME_WEIGHTS_LAYER (its
second output), where `model.network.frame_weights_model` finds them.
"""

import numpy as np
import tensorflow as tf
import tf_keras as keras

from model import attention_layers, recurrent

# The layer whose outputs are (video summary, frame weights [B, T]) in encoders that weigh frames.
FRAME_WEIGHTS_LAYER = "frame_attention"


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
    return recurrent.lstm(network_config.video_units, name="video_lstm")(frames, mask=mask), None


def encode_mean(network_config, frames, mask, question_vector):
    mean = MaskedMean(name="frame_mean")(frames, mask)
    return keras.layers.Dense(network_config.video_units, activation="tanh", name="video_dense")(mean), None


def encode_attention(network_config, frames, mask, question_vector):
    """Question-guided attention over bidirectional LSTM states, joined with the final states."""
    units_per_direction = max(1, network_config.video_units // 2)
    states, forward_h, _, backward_h, _ = recurrent.bidirectional(
        recurrent.lstm(units_per_direction, return_sequences=True, return_state=True),
        name="video_bilstm")(frames, mask=mask)
    summary, weights = attention_layers.QuestionAttention(network_config.video_units, name=FRAME_WEIGHTS_LAYER)(
        states, question_vector, mask)
    joined = keras.layers.Concatenate(name="video_attended_and_final")([summary, forward_h, backward_h])
    return keras.layers.Dense(network_config.video_units, activation="tanh", name="video_dense")(joined), weights


def encode_transformer(network_config, frames, mask, question_vector):
    """A Transformer over the frames, pooled by its class token (network_config.transformer_*)."""
    pooled, weights = attention_layers.FrameTransformer(
        network_config.transformer_width, network_config.transformer_heads, network_config.transformer_layers,
        network_config.transformer_max_frames, network_config.dropout, name=FRAME_WEIGHTS_LAYER)(frames, mask)
    return keras.layers.Dense(network_config.video_units, activation="tanh", name="video_dense")(pooled), weights


def encode_none(network_config, frames, mask, question_vector):
    return None, None


VIDEO_ENCODERS = {
    "lstm": encode_lstm,
    "mean": encode_mean,
    "attention": encode_attention,
    "transformer": encode_transformer,
    "none": encode_none,
}
# Encoders whose position embeddings need the most frames per clip (`transformer_max_frames`).
ENCODERS_WITH_POSITIONS = ("transformer",)


def get_encoder(name):
    """The encoder function called `name`; ValueError lists the known ones."""
    try:
        return VIDEO_ENCODERS[name]
    except KeyError:
        raise ValueError(f"--video_encoder {name!r}: choose one of {', '.join(VIDEO_ENCODERS)}") from None
