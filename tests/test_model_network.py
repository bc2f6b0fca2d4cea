"""The Keras model: masking of padded frames and tokens, order awareness, the loss."""

import numpy as np
import pytest

from features import schema
from model import config, network

VOCABULARY_INPUT_DIM = 20
NUM_ANSWERS = 6


def small_model(encoder, seed=0):
    import tf_keras as keras
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    network_config = config.NetworkConfig(video_encoder=encoder, embedding_dim=8, question_units=8,
                                          video_units=8, hidden_units=8, dropout=0.5)
    return network.build_model(network_config, VOCABULARY_INPUT_DIM, NUM_ANSWERS,
                               rng.normal(size=schema.FEATURE_DIM),
                               rng.uniform(0.5, 2.0, size=schema.FEATURE_DIM))


def make_inputs(frames, tokens, frame_length, token_length, fill_frames):
    """Pad ragged frames/tokens to the given lengths; padded frames get `fill_frames(shape)`."""
    batch = len(frames)
    padded_frames = fill_frames((batch, frame_length, schema.FEATURE_DIM)).astype(np.float32)
    padded_tokens = np.zeros((batch, token_length), np.int32)
    for index, (video, question) in enumerate(zip(frames, tokens)):
        padded_frames[index, :len(video)] = video
        padded_tokens[index, :len(question)] = question
    return {schema.FRAME_FEATURES_KEY: padded_frames,
            schema.NUM_FRAMES_KEY: np.array([len(video) for video in frames], np.int32),
            schema.QUESTION_TOKEN_IDS_KEY: padded_tokens}


def example_batch(rng):
    frames = [rng.normal(size=(count, schema.FEATURE_DIM)).astype(np.float32) for count in (5, 3, 8, 1)]
    tokens = [rng.integers(1, VOCABULARY_INPUT_DIM, size=count) for count in (4, 2, 6, 1)]
    return frames, tokens


@pytest.mark.parametrize("encoder", config.VIDEO_ENCODERS)
def test_padded_frames_and_tokens_do_not_change_the_output(encoder):
    rng = np.random.default_rng(1)
    model = small_model(encoder)
    frames, tokens = example_batch(rng)
    tight = make_inputs(frames, tokens, 8, 6, np.zeros)
    garbage = make_inputs(frames, tokens, 20, 15, lambda shape: rng.normal(0, 1e3, size=shape))
    np.testing.assert_allclose(model(tight).numpy(), model(garbage).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("encoder", ("lstm", "mean"))
def test_real_frames_do_change_the_output(encoder):
    rng = np.random.default_rng(2)
    model = small_model(encoder)
    frames, tokens = example_batch(rng)
    before = model(make_inputs(frames, tokens, 8, 6, np.zeros)).numpy()
    changed = [video + rng.normal(0, 3.0, size=video.shape) for video in frames]
    after = model(make_inputs(changed, tokens, 8, 6, np.zeros)).numpy()
    assert np.abs(before - after).max() > 1e-4


def test_question_only_model_ignores_frames():
    rng = np.random.default_rng(3)
    model = small_model("none")
    frames, tokens = example_batch(rng)
    changed = [video + rng.normal(0, 3.0, size=video.shape) for video in frames]
    np.testing.assert_allclose(model(make_inputs(frames, tokens, 8, 6, np.zeros)).numpy(),
                               model(make_inputs(changed, tokens, 8, 6, np.zeros)).numpy(), atol=1e-7)


def test_lstm_sees_frame_order_and_mean_does_not():
    rng = np.random.default_rng(4)
    frames, tokens = example_batch(rng)
    reversed_frames = [video[::-1] for video in frames]
    outputs = {}
    for encoder in ("lstm", "mean"):
        model = small_model(encoder)
        outputs[encoder] = (model(make_inputs(frames, tokens, 8, 6, np.zeros)).numpy(),
                            model(make_inputs(reversed_frames, tokens, 8, 6, np.zeros)).numpy())
    np.testing.assert_allclose(*outputs["mean"], rtol=1e-5, atol=1e-6)
    assert np.abs(outputs["lstm"][0] - outputs["lstm"][1])[[0, 2]].max() > 1e-4


def test_output_is_a_float32_distribution_over_answers():
    model = network.compile_model(small_model("lstm"), 1e-3)
    frames, tokens = example_batch(np.random.default_rng(5))
    probabilities = model(make_inputs(frames, tokens, 8, 6, np.zeros)).numpy()
    assert probabilities.dtype == np.float32 and probabilities.shape == (4, NUM_ANSWERS)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_unknown_answers_are_left_out_of_the_loss_and_counted_wrong():
    model = network.compile_model(small_model("lstm"), 1e-3)
    frames, tokens = example_batch(np.random.default_rng(6))
    inputs = make_inputs(frames, tokens, 8, 6, np.zeros)
    probabilities = model(inputs).numpy()
    predicted = probabilities.argmax(axis=1)
    labels = np.array([schema.OUT_OF_VOCABULARY_LABEL, predicted[1], predicted[2],
                       schema.OUT_OF_VOCABULARY_LABEL], np.int64)
    loss, accuracy = model.evaluate(inputs, labels, verbose=0)
    expected_loss = -np.log(probabilities[[1, 2], predicted[[1, 2]]]).mean()
    assert loss == pytest.approx(expected_loss, rel=1e-4)
    assert accuracy == pytest.approx(0.5)


def test_configuration_errors_are_value_errors():
    with pytest.raises(ValueError, match="--video_encoder"):
        config.NetworkConfig(video_encoder="gru")
    with pytest.raises(ValueError, match="--dropout"):
        config.NetworkConfig(dropout=1.5)
    with pytest.raises(ValueError, match="--batch_size"):
        config.TrainingConfig(batch_size=0)
