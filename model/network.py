"""The Keras VideoQA model: one design, three answer heads (the task in the manifest).

  frame_features [B, T, D] --normalise (train mean/std)--> video encoder --> video vector
  question_token_ids [B, L] --Embedding(mask_zero)--> LSTM --> question vector
  open_ended       concat(video, question) -> Dense(relu) -> Dropout -> softmax over the answers
  multiple_choice  candidate_token_ids [B, C, L] --same Embedding--> candidate LSTM; for each
                   candidate concat(video, question, candidate) -> Dense(relu) -> Dropout -> score;
                   softmax over the C candidates (as the TGIF-QA and NExT-QA baselines)
  count            concat(video, question) -> Dense(relu) -> Dropout -> Dense(1), linear
                   (MSE; predictions are clipped to the training range when answering)

Video encoders come from `model.encoders` (lstm, mean, attention, transformer,
none). Inputs are the raw stored features and the real frame count
(`num_frames`): frames past the count are masked, so their values never reach
the output. The normalisation statistics are non-trainable weights, saved
with the others. Outputs run in float32 under a mixed-precision policy.

The model trained and saved has one output, the answer, so its metrics keep
their plain names (`accuracy`, `val_accuracy`, `mse`). For encoders that weigh
frames (attention, transformer), `frame_weights_model(model)` returns a second
Keras model on the same layers and variables with the outputs
{"answer": ..., "frame_weights": [B, T]}: the export serves that one.
"""

import dataclasses

import tensorflow as tf
import tf_keras as keras

from features import schema, serving
from model import encoders, recurrent

ANSWER_OUTPUT = "answer"
VIDEO_WEIGHTS_OUTPUT = serving.OUTPUT_FRAME_WEIGHTS  # The Keras output key is the serving name.


def model_inputs(task, feature_dim):
    """The Keras inputs, named with the record keys."""
    inputs = {
        schema.FRAME_FEATURES_KEY: keras.Input(shape=(None, feature_dim), dtype="float32",
                                               name=schema.FRAME_FEATURES_KEY),
        schema.NUM_FRAMES_KEY: keras.Input(shape=(), dtype="int32", name=schema.NUM_FRAMES_KEY),
        schema.QUESTION_TOKEN_IDS_KEY: keras.Input(shape=(None,), dtype="int32",
                                                   name=schema.QUESTION_TOKEN_IDS_KEY),
    }
    if task == schema.TASK_MULTIPLE_CHOICE:
        inputs[schema.CANDIDATE_TOKEN_IDS_KEY] = keras.Input(shape=(None, None), dtype="int32",
                                                             name=schema.CANDIDATE_TOKEN_IDS_KEY)
    return inputs


class CandidateScores(keras.layers.Layer):
    """Scores every candidate with shared layers: ([B, H] context, [B, C, Hc] candidates) -> [B, C]."""

    def __init__(self, hidden_units, dropout, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(hidden_units, activation="relu", name="hidden")
        self.dropout = keras.layers.Dropout(dropout, name="dropout")
        self.score = keras.layers.Dense(1, name="candidate_score")

    def call(self, context, candidates, training=None):
        count = tf.shape(candidates)[1]
        tiled = tf.tile(context[:, tf.newaxis, :], tf.stack([1, count, 1]))
        joint = tf.concat([tiled, tf.cast(candidates, tiled.dtype)], axis=-1)
        return tf.squeeze(self.score(self.dropout(self.hidden(joint), training=training)), axis=-1)


def _encode_candidates(network_config, embedding, candidate_token_ids):
    """[B, C, L] token ids -> [B, C, question_units]: each candidate read like a question."""
    flat = keras.layers.Lambda(lambda ids: tf.reshape(ids, [-1, tf.shape(ids)[-1]]),
                               name="flatten_candidates")(candidate_token_ids)
    units = int(network_config.question_units)  # The Lambda's closure holds an int: Keras can serialise it.
    vectors = recurrent.lstm(units, name="candidate_lstm")(embedding(flat))
    return keras.layers.Lambda(lambda args: tf.reshape(args[0], [tf.shape(args[1])[0], tf.shape(args[1])[1], units]),
                               name="unflatten_candidates")([vectors, candidate_token_ids])


def resolve_max_frames(network_config, max_frames):
    """network_config with `transformer_max_frames` set (0 means the data's `max_frames`)."""
    if network_config.video_encoder not in encoders.ENCODERS_WITH_POSITIONS:
        return network_config
    if network_config.transformer_max_frames == 0:
        if not max_frames:
            raise ValueError(f"--video_encoder {network_config.video_encoder} learns one embedding per frame "
                             f"position: give the data's max frames per clip or --transformer_max_frames")
        return dataclasses.replace(network_config, transformer_max_frames=int(max_frames))
    if max_frames and network_config.transformer_max_frames < max_frames:
        raise ValueError(f"--transformer_max_frames {network_config.transformer_max_frames} is below the "
                         f"data's {max_frames} frames per clip: raise it, or leave it 0 to use the data's")
    return network_config


def build_model(network_config, task, feature_dim, embedding_input_dim, num_answers, feature_mean,
                feature_stddev, max_frames=None):
    """The uncompiled Keras model for `task`.

    Output: open_ended softmax [B, num_answers]; multiple_choice softmax [B, C];
    count [B] (float32). `max_frames` (the data's most frames per clip) sizes
    the transformer's position table unless `--transformer_max_frames` does.
    """
    if task == schema.TASK_OPEN_ENDED and num_answers <= 0:
        raise ValueError(f"the answer vocabulary is empty (num_answers={num_answers})")
    if task not in schema.TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(schema.TASKS)}")
    encode_video = encoders.get_encoder(network_config.video_encoder)
    network_config = resolve_max_frames(network_config, max_frames)
    inputs = model_inputs(task, feature_dim)
    embedding = keras.layers.Embedding(embedding_input_dim, network_config.embedding_dim,
                                       mask_zero=True, name="question_embedding")
    question_vector = recurrent.lstm(network_config.question_units, name="question_lstm")(
        embedding(inputs[schema.QUESTION_TOKEN_IDS_KEY]))
    frames = inputs[schema.FRAME_FEATURES_KEY]
    mask = encoders.FrameMask(name="frame_mask")(frames, inputs[schema.NUM_FRAMES_KEY])
    normalized = encoders.FrameNormalization(feature_mean, feature_stddev, dtype="float32",
                                             name="frame_normalization")(frames, mask)
    video_vector, _ = encode_video(network_config, normalized, mask, question_vector)
    context = question_vector if video_vector is None else keras.layers.Concatenate(name="joint")(
        [video_vector, question_vector])
    if task == schema.TASK_MULTIPLE_CHOICE:
        candidates = _encode_candidates(network_config, embedding, inputs[schema.CANDIDATE_TOKEN_IDS_KEY])
        scores = CandidateScores(network_config.hidden_units, network_config.dropout,
                                 name="candidate_scores")(context, candidates)
        output = keras.layers.Activation("softmax", dtype="float32", name=ANSWER_OUTPUT)(scores)
    else:
        hidden = keras.layers.Dense(network_config.hidden_units, activation="relu", name="hidden")(context)
        hidden = keras.layers.Dropout(network_config.dropout, name="dropout")(hidden)
        if task == schema.TASK_OPEN_ENDED:
            logits = keras.layers.Dense(num_answers, name="answer_logits")(hidden)
            output = keras.layers.Activation("softmax", dtype="float32", name=ANSWER_OUTPUT)(logits)
        else:
            value = keras.layers.Dense(1, name="count_value")(hidden)
            output = keras.layers.Reshape((), dtype="float32", name=ANSWER_OUTPUT)(value)
    return keras.Model(inputs=inputs, outputs=output, name=f"videoqa_{task}_{network_config.video_encoder}")


def frame_weights_model(model):
    """A model sharing `model`'s layers with outputs {"answer", "frame_weights" [B, T] float32}.

    None when the model's video encoder does not weigh frames (lstm, mean,
    none). It creates no variables: weights loaded into `model` are its own.
    """
    try:
        layer = model.get_layer(encoders.FRAME_WEIGHTS_LAYER)
    except ValueError:
        return None
    weights = keras.layers.Activation("linear", dtype="float32", name=VIDEO_WEIGHTS_OUTPUT)(layer.output[1])
    return keras.Model(inputs=model.inputs, outputs={ANSWER_OUTPUT: model.output, VIDEO_WEIGHTS_OUTPUT: weights},
                       name=f"{model.name}_with_frame_weights")


def serving_model(model):
    """What the export serves: the frame-weights model when there is one, else `model`."""
    return frame_weights_model(model) or model


def answer_output(outputs):
    """The answer tensor of a model call (a frame-weights model returns a dict)."""
    return outputs[ANSWER_OUTPUT] if isinstance(outputs, dict) else outputs


class RoundedAccuracy(keras.metrics.MeanMetricWrapper):
    """Count accuracy: the prediction, rounded, equals the label."""

    def __init__(self, name="accuracy", **kwargs):
        super().__init__(lambda labels, predictions: tf.cast(tf.equal(
            tf.round(tf.cast(predictions, tf.float32)), tf.cast(labels, tf.float32)), tf.float32),
            name=name, **kwargs)


def compile_model(model, task, learning_rate):
    """Adam; cross-entropy (open-ended ignores unknown answers) or MSE for count."""
    if task == schema.TASK_COUNT:
        loss = keras.losses.MeanSquaredError()
        metrics = [keras.metrics.MeanSquaredError(name="mse"), RoundedAccuracy()]
    else:
        ignore = schema.OUT_OF_VOCABULARY_LABEL if task == schema.TASK_OPEN_ENDED else None
        loss = keras.losses.SparseCategoricalCrossentropy(ignore_class=ignore)
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=metrics)
    return model


def build_from_data_info(network_config, data_info):
    """build_model with the task, sizes and statistics of a `DataInfo`."""
    return build_model(network_config, data_info.task, data_info.feature_dim, data_info.embedding_input_dim,
                       data_info.num_answers, data_info.feature_mean, data_info.feature_stddev,
                       max_frames=data_info.max_frames)


def monitored_metric(model, task, has_validation):
    """(the metric that picks the best epoch, "max" or "min"): accuracy, or MSE for count."""
    name = "mse" if task == schema.TASK_COUNT else "accuracy"
    return (f"val_{name}" if has_validation else name), ("min" if task == schema.TASK_COUNT else "max")
