"""The Keras VideoQA model (the original design, with padded frames masked).

  frame_features [B, T, 2048] --normalise (train mean/std)--> video encoder --> video vector
  question_token_ids [B, L] --Embedding(mask_zero)--> LSTM --> question vector
  concatenate --> Dense(relu) --> Dropout --> Dense softmax over the answer vocabulary

Video encoders (`NetworkConfig.video_encoder`):
  lstm   an LSTM over the real frames (order-aware)
  mean   the masked mean of the normalised frames, then a Dense layer (bag of frames)
  none   no video at all (question-only baseline; the frame inputs are ignored)

Inputs are the raw stored features and the real frame count (`num_frames`):
frames past the count are masked, so their values never reach the output. The
normalisation statistics are non-trainable weights, saved with the others.
The softmax runs in float32 under a mixed-precision policy.
"""

import numpy as np
import tensorflow as tf
import tf_keras as keras

from features import schema


class FrameMask(keras.layers.Layer):
    """(frames [B, T, D], num_frames [B]) -> bool mask [B, T] of the real frames."""

    def call(self, frames, num_frames):
        return tf.sequence_mask(num_frames, maxlen=tf.shape(frames)[1])


class FrameNormalization(keras.layers.Layer):
    """(x - mean) / stddev per dimension; padded frames set to zero."""

    def __init__(self, mean, stddev, **kwargs):
        super().__init__(**kwargs)
        self.initial_mean = np.asarray(mean, np.float32)
        self.initial_stddev = np.asarray(stddev, np.float32)

    def build(self, input_shape):
        dimension = int(input_shape[-1])
        if self.initial_mean.shape != (dimension,) or self.initial_stddev.shape != (dimension,):
            raise ValueError(f"feature statistics must have shape [{dimension}], got "
                             f"{self.initial_mean.shape} and {self.initial_stddev.shape}")
        self.mean = self.add_weight(
            name="mean", shape=[dimension], trainable=False,
            initializer=keras.initializers.Constant(self.initial_mean))
        self.stddev = self.add_weight(
            name="stddev", shape=[dimension], trainable=False,
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


def model_inputs():
    """The three Keras inputs, named with the record keys."""
    return {
        schema.FRAME_FEATURES_KEY: keras.Input(
            shape=(None, schema.FEATURE_DIM), dtype="float32", name=schema.FRAME_FEATURES_KEY),
        schema.NUM_FRAMES_KEY: keras.Input(shape=(), dtype="int32", name=schema.NUM_FRAMES_KEY),
        schema.QUESTION_TOKEN_IDS_KEY: keras.Input(
            shape=(None,), dtype="int32", name=schema.QUESTION_TOKEN_IDS_KEY),
    }


def encode_video(network_config, frames, num_frames, feature_mean, feature_stddev):
    """The video vector, or None for the question-only model."""
    if network_config.video_encoder == "none":
        return None
    mask = FrameMask(name="frame_mask")(frames, num_frames)
    normalized = FrameNormalization(feature_mean, feature_stddev, dtype="float32",
                                    name="frame_normalization")(frames, mask)
    if network_config.video_encoder == "lstm":
        return keras.layers.LSTM(network_config.video_units, name="video_lstm")(normalized, mask=mask)
    mean = MaskedMean(name="frame_mean")(normalized, mask)
    return keras.layers.Dense(network_config.video_units, activation="tanh", name="video_dense")(mean)


def encode_question(network_config, token_ids, embedding_input_dim):
    embedded = keras.layers.Embedding(embedding_input_dim, network_config.embedding_dim,
                                      mask_zero=True, name="question_embedding")(token_ids)
    return keras.layers.LSTM(network_config.question_units, name="question_lstm")(embedded)


def build_model(network_config, embedding_input_dim, num_answers, feature_mean, feature_stddev):
    """The uncompiled Keras model: inputs as `model_inputs()`, output softmax [B, num_answers]."""
    if num_answers <= 0:
        raise ValueError(f"the answer vocabulary is empty (num_answers={num_answers})")
    inputs = model_inputs()
    question_vector = encode_question(
        network_config, inputs[schema.QUESTION_TOKEN_IDS_KEY], embedding_input_dim)
    video_vector = encode_video(network_config, inputs[schema.FRAME_FEATURES_KEY],
                                inputs[schema.NUM_FRAMES_KEY], feature_mean, feature_stddev)
    if video_vector is None:
        joint = question_vector
    else:
        joint = keras.layers.Concatenate(name="joint")([video_vector, question_vector])
    hidden = keras.layers.Dense(network_config.hidden_units, activation="relu", name="hidden")(joint)
    hidden = keras.layers.Dropout(network_config.dropout, name="dropout")(hidden)
    logits = keras.layers.Dense(num_answers, name="answer_logits")(hidden)
    probabilities = keras.layers.Activation("softmax", dtype="float32", name="answer")(logits)
    return keras.Model(inputs=inputs, outputs=probabilities,
                       name=f"videoqa_{network_config.video_encoder}")


def compile_model(model, learning_rate):
    """Adam + cross-entropy that ignores unknown answers; accuracy counts them wrong."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(ignore_class=schema.OUT_OF_VOCABULARY_LABEL),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    return model


def build_from_data_info(network_config, data_info):
    """build_model with the vocabulary sizes and statistics of a `DataInfo`."""
    return build_model(network_config, data_info.embedding_input_dim, data_info.num_answers,
                       data_info.feature_mean, data_info.feature_stddev)
