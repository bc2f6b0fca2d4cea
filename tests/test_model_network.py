"""The Keras model's heads and loss: outputs per task, unknown answers, configuration errors.

Masking, order and frame weights of every video encoder are in
tests/test_model_encoders.py; the tiny models come from tests/network_helpers.py.
"""

import numpy as np
import pytest

from features import schema
from model import config, encoders, network, recurrent
from network_helpers import (FEATURE_DIM, MAX_FRAMES, MODELS, NUM_ANSWERS, NUM_CANDIDATES, TIGHT_FRAMES,
                             TIGHT_TOKENS, example_batch, make_inputs, run_model, small_model, with_frames)


@pytest.fixture(scope="module")
def models():
    return MODELS


def test_question_only_model_ignores_frames(models):
    rng = np.random.default_rng(3)
    batch = example_batch(rng)
    changed = [video + rng.normal(0, 3.0, size=video.shape) for video in batch[0]]
    model = models.get("none")
    np.testing.assert_allclose(run_model(model, make_inputs(batch, TIGHT_FRAMES, TIGHT_TOKENS))[0],
                               run_model(model, make_inputs(with_frames(batch, changed), TIGHT_FRAMES,
                                                            TIGHT_TOKENS))[0], atol=1e-7)


def test_each_task_has_its_float32_output(models):
    rng = np.random.default_rng(5)
    for task in schema.TASKS:
        batch = example_batch(rng, task)
        answer, weights = run_model(models.get("lstm", task), make_inputs(batch, TIGHT_FRAMES, TIGHT_TOKENS))
        assert answer.dtype == np.float32 and weights is None
        if task == schema.TASK_COUNT:
            assert answer.shape == (4,)
        else:
            assert answer.shape == (4, NUM_ANSWERS if task == schema.TASK_OPEN_ENDED else NUM_CANDIDATES)
            np.testing.assert_allclose(answer.sum(axis=1), 1.0, rtol=1e-5)


def test_candidates_are_scored_by_shared_layers(models):
    """Multiple choice: permuting the candidates permutes their probabilities, nothing else."""
    rng = np.random.default_rng(7)
    frames, tokens, candidates = example_batch(rng, schema.TASK_MULTIPLE_CHOICE)
    order = [2, 0, 3, 1]
    permuted = [[question[index] for index in order] for question in candidates]
    model = models.get("lstm", schema.TASK_MULTIPLE_CHOICE)
    before = run_model(model, make_inputs((frames, tokens, candidates), TIGHT_FRAMES, TIGHT_TOKENS))[0]
    after = run_model(model, make_inputs((frames, tokens, permuted), TIGHT_FRAMES, TIGHT_TOKENS))[0]
    np.testing.assert_allclose(after, before[:, order], rtol=1e-5, atol=1e-7)
    assert np.abs(before - before[:, order]).max() > 1e-4  # The candidates do differ.


def test_unknown_answers_are_left_out_of_the_loss_and_counted_wrong(models):
    model = network.compile_model(models.get("lstm"), schema.TASK_OPEN_ENDED, 1e-3)  # Evaluated, not trained.
    inputs = make_inputs(example_batch(np.random.default_rng(6)), TIGHT_FRAMES, TIGHT_TOKENS)
    probabilities = model(inputs).numpy()
    predicted = probabilities.argmax(axis=1)
    labels = np.array([schema.OUT_OF_VOCABULARY_LABEL, predicted[1], predicted[2],
                       schema.OUT_OF_VOCABULARY_LABEL], np.int64)
    loss, accuracy = model.evaluate(inputs, labels, verbose=0)
    expected_loss = -np.log(probabilities[[1, 2], predicted[[1, 2]]]).mean()
    assert loss == pytest.approx(expected_loss, rel=1e-4)
    assert accuracy == pytest.approx(0.5)


def test_count_loss_is_the_mean_squared_error(models):
    model = network.compile_model(models.get("lstm", schema.TASK_COUNT), schema.TASK_COUNT, 1e-3)
    inputs = make_inputs(example_batch(np.random.default_rng(8), schema.TASK_COUNT), TIGHT_FRAMES, TIGHT_TOKENS)
    predictions = model(inputs).numpy()
    labels = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    results = model.evaluate(inputs, labels, verbose=0, return_dict=True)
    assert results["loss"] == pytest.approx(np.mean((predictions - labels) ** 2), rel=1e-4)
    assert network.monitored_metric(model, schema.TASK_COUNT, True) == ("val_mse", "min")


def test_without_a_gpu_every_lstm_traces_its_generic_loop_only_and_answers_the_same(models):
    """`model.recurrent`: no cuDNN pair (and its gradients) is traced on a machine without a GPU; it was
    40% of a small training's time. The pair's generic half gives the same answers with the same weights."""
    import tf_keras as keras
    assert not recurrent.gpu_visible()
    model = models.get("attention", schema.TASK_MULTIPLE_CHOICE)
    lstms = [layer for layer in model.submodules if isinstance(layer, keras.layers.LSTM)]
    # Question, candidates, and the video's: Bidirectional keeps the layer it was given and two copies of it.
    assert len(lstms) == 5
    assert [layer._could_use_gpu_kernel for layer in lstms] == [False] * 5
    inputs = make_inputs(example_batch(np.random.default_rng(10), schema.TASK_MULTIPLE_CHOICE), TIGHT_FRAMES,
                         TIGHT_TOKENS)
    generic = model(inputs, training=False).numpy()
    try:
        for layer in lstms:
            layer._could_use_gpu_kernel = True
        paired = model(inputs, training=False).numpy()
    finally:
        recurrent.use_generic_loops(model)
    assert [layer._could_use_gpu_kernel for layer in lstms] == [False] * 5
    np.testing.assert_allclose(paired, generic, rtol=1e-5, atol=1e-7)


def test_configuration_errors_are_value_errors():
    with pytest.raises(ValueError, match="--video_encoder"):
        config.NetworkConfig(video_encoder="gru")
    with pytest.raises(ValueError, match="--dropout"):
        config.NetworkConfig(dropout=1.5)
    with pytest.raises(ValueError, match="--batch_size"):
        config.TrainingConfig(batch_size=0)
    with pytest.raises(ValueError, match="--transformer_width 100 must be a multiple of --transformer_heads 8"):
        config.NetworkConfig(video_encoder="transformer", transformer_width=100, transformer_heads=8)
    with pytest.raises(ValueError, match="--transformer_layers must be positive"):
        config.NetworkConfig(transformer_layers=0)
    with pytest.raises(ValueError, match="--transformer_max_frames"):
        config.NetworkConfig(transformer_max_frames=-1)
    with pytest.raises(ValueError, match="the answer vocabulary is empty"):
        network.build_model(config.NetworkConfig(), schema.TASK_OPEN_ENDED, 16, 20, 0, np.zeros(16), np.ones(16))


def test_transformer_positions_come_from_the_data_or_the_flag(models):
    with pytest.raises(ValueError, match="--transformer_max_frames"):
        small_model("transformer", max_frames=None)
    with pytest.raises(ValueError, match="--transformer_max_frames 4 is below the data's 8 frames"):
        small_model("transformer", max_frames=8, transformer_max_frames=4)
    table = small_model("transformer", max_frames=None, transformer_max_frames=12).get_layer(
        encoders.FRAME_WEIGHTS_LAYER).position_embeddings
    assert tuple(table.shape) == (12, 8)
    resolved = network.resolve_max_frames(config.NetworkConfig(video_encoder="transformer"), 16)
    assert resolved.transformer_max_frames == 16
    assert network.resolve_max_frames(config.NetworkConfig(), None) == config.NetworkConfig()  # lstm: no table.
    # More real frames than learned positions is an error, not a silent reuse of the last one.
    rng = np.random.default_rng(9)
    too_long = ([rng.normal(size=(MAX_FRAMES + 2, FEATURE_DIM)).astype(np.float32)], [np.array([3, 4])], None)
    import tensorflow as tf
    with pytest.raises(tf.errors.InvalidArgumentError, match="more frames than the transformer's 8 learned positions"):
        run_model(models.get("transformer"), make_inputs(too_long, MAX_FRAMES + 2, 2))
