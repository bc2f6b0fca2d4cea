"""Keras layers that weigh frames: question-guided temporal attention and a small Transformer.

  masked_softmax(scores, mask)   softmax over the real frames only, in float32: exact
                                 zeros on padding, rows that sum to one (0 if no frame)
  QuestionAttention              additive attention of the question over per-frame
                                 states: ([B, T, S], [B, Q], mask) -> ([B, S], weights [B, T])
  TransformerBlock               pre-norm self-attention + feed-forward, padded keys masked
  FrameTransformer               frames -> projection + learned positions, a class token,
                                 N blocks -> (class token [B, W], weights [B, T]): the
                                 last block's class-token attention over the frames

The weights are float32 even under a mixed-precision policy; `model.encoders`
builds the encoders from these layers and `model.network` exposes the weights.
"""

import tensorflow as tf
import tf_keras as keras

# Feed-forward hidden size of a Transformer block, as a multiple of its width.
FEED_FORWARD_MULTIPLIER = 4
# Initial scale of the learned positions (as BERT/ViT): small next to the projected frames.
POSITION_INIT_STDDEV = 0.02
# The class token starts at the scale of a projected frame: a tiny one makes the first
# LayerNorm's gradient 1/stddev times larger, which overflows float16 under mixed precision.
CLASS_TOKEN_INIT_STDDEV = 1.0


def masked_softmax(scores, mask):
    """Softmax of scores [B, T] over the True entries of mask [B, T] (float32)."""
    scores = tf.cast(scores, tf.float32)
    mask = tf.cast(mask, tf.bool)
    lowest = tf.fill(tf.shape(scores), tf.float32.min)
    weights = tf.nn.softmax(tf.where(mask, scores, lowest), axis=-1)
    return normalize_over_mask(weights, mask)


def normalize_over_mask(weights, mask):
    """Zero the weights [B, T] outside the mask and rescale each row to sum to one (0 if empty)."""
    weights = tf.where(tf.cast(mask, tf.bool), tf.cast(weights, tf.float32), tf.zeros_like(weights, tf.float32))
    total = tf.reduce_sum(weights, axis=-1, keepdims=True)
    return tf.math.divide_no_nan(weights, total)


class QuestionAttention(keras.layers.Layer):
    """score_t = v . tanh(W_s state_t + W_q question); weights = masked softmax; summary = sum_t w_t state_t."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_projection = keras.layers.Dense(units, use_bias=False, name="state_projection")
        self.question_projection = keras.layers.Dense(units, name="question_projection")
        self.score = keras.layers.Dense(1, use_bias=False, name="score")

    def call(self, states, question_vector, mask):
        projected = self.state_projection(states) + self.question_projection(question_vector)[:, tf.newaxis, :]
        scores = tf.squeeze(self.score(tf.tanh(projected)), axis=-1)
        weights = masked_softmax(scores, mask)
        summary = tf.reduce_sum(states * tf.cast(weights, states.dtype)[..., tf.newaxis], axis=1)
        return summary, weights

    def get_config(self):
        return dict(super().get_config(), units=self.units)


class TransformerBlock(keras.layers.Layer):
    """x + MHA(LN(x)) then x + FFN(LN(x)); returns (tokens, attention scores [B, heads, T, T])."""

    def __init__(self, width, heads, dropout, **kwargs):
        super().__init__(**kwargs)
        self.width, self.heads, self.dropout_rate = width, heads, dropout
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="attention_norm")
        self.attention = keras.layers.MultiHeadAttention(num_heads=heads, key_dim=width // heads,
                                                         dropout=dropout, name="attention")
        self.feed_forward_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="feed_forward_norm")
        self.feed_forward_hidden = keras.layers.Dense(FEED_FORWARD_MULTIPLIER * width, activation="gelu",
                                                      name="feed_forward_hidden")
        self.feed_forward_output = keras.layers.Dense(width, name="feed_forward_output")
        self.dropout = keras.layers.Dropout(dropout, name="dropout")

    def call(self, tokens, key_mask, training=None):
        normalized = self.attention_norm(tokens)
        attended, scores = self.attention(normalized, normalized, attention_mask=key_mask[:, tf.newaxis, :],
                                          return_attention_scores=True, training=training)
        tokens = tokens + self.dropout(attended, training=training)
        hidden = self.feed_forward_output(self.feed_forward_hidden(self.feed_forward_norm(tokens)))
        return tokens + self.dropout(hidden, training=training), scores

    def get_config(self):
        return dict(super().get_config(), width=self.width, heads=self.heads, dropout=self.dropout_rate)


class FrameTransformer(keras.layers.Layer):
    """A Transformer encoder over frames [B, T, D], pooled by a class token.

    Each frame is projected to `width` and gets the learned embedding of its
    position (0 .. max_frames - 1); a learned class token goes in front. Padded
    frames are masked as keys in every block, so they never reach the class
    token. A clip with more real frames than `max_frames` is an error (the
    positions past the table are undefined); padded positions past it are
    clamped, which is harmless as they are masked.
    """

    def __init__(self, width, heads, num_layers, max_frames, dropout, **kwargs):
        super().__init__(**kwargs)
        if width % heads:
            raise ValueError(f"--transformer_width {width} must be a multiple of --transformer_heads {heads}")
        self.width, self.heads, self.num_layers = width, heads, num_layers
        self.max_frames, self.dropout_rate = max_frames, dropout
        self.frame_projection = keras.layers.Dense(width, name="frame_projection")
        self.input_dropout = keras.layers.Dropout(dropout, name="input_dropout")
        self.blocks = [TransformerBlock(width, heads, dropout, name=f"block_{index}") for index in range(num_layers)]
        self.output_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="output_norm")

    def build(self, input_shape):
        self.position_embeddings = self.add_weight(
            name="position_embeddings", shape=[self.max_frames, self.width],
            initializer=keras.initializers.TruncatedNormal(stddev=POSITION_INIT_STDDEV))
        self.class_token = self.add_weight(
            name="class_token", shape=[self.width],
            initializer=keras.initializers.TruncatedNormal(stddev=CLASS_TOKEN_INIT_STDDEV))
        super().build(input_shape)

    def call(self, frames, mask, training=None):
        mask = tf.cast(mask, tf.bool)
        real_frames = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
        check = tf.debugging.assert_less_equal(
            real_frames, tf.constant(self.max_frames, tf.int32),
            message=f"a clip has more frames than the transformer's {self.max_frames} learned positions "
                    f"(--transformer_max_frames, or the data's max frames)")
        with tf.control_dependencies([check]):
            positions = tf.minimum(tf.range(tf.shape(frames)[1]), self.max_frames - 1)
        tokens = self.frame_projection(frames)
        tokens = tokens + tf.cast(tf.gather(self.position_embeddings, positions), tokens.dtype)[tf.newaxis]
        batch = tf.shape(tokens)[0]
        class_tokens = tf.tile(tf.cast(self.class_token, tokens.dtype)[tf.newaxis, tf.newaxis, :], [batch, 1, 1])
        tokens = self.input_dropout(tf.concat([class_tokens, tokens], axis=1), training=training)
        key_mask = tf.concat([tf.ones_like(mask[:, :1]), mask], axis=1)
        scores = None
        for block in self.blocks:
            tokens, scores = block(tokens, key_mask, training=training)
        # The class token's attention over the frames in the last block, averaged over heads and
        # renormalised over the real frames (its share on itself left out).
        class_attention = tf.reduce_mean(tf.cast(scores[:, :, 0, 1:], tf.float32), axis=1)
        return self.output_norm(tokens[:, 0]), normalize_over_mask(class_attention, mask)

    def get_config(self):
        return dict(super().get_config(), width=self.width, heads=self.heads, num_layers=self.num_layers,
                    max_frames=self.max_frames, dropout=self.dropout_rate)
