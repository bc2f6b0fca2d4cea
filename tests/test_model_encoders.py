"""Every video encoder with every task: masking, frame order, frame weights, training, mixed
precision, MirroredStrategy, weights files, a plain-TensorFlow SavedModel, and the --explain picture.

Tiny models (feature_dim 16, see tests/network_helpers.py), built once per session and shared.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from features import schema
from model import encoders, network, storage
from network_helpers import (FEATURE_DIM, MAX_FRAMES, MODELS, PADDED_FRAMES, PADDED_TOKENS, TIGHT_FRAMES,
                             TIGHT_TOKENS, example_batch, make_inputs, run_model, small_model, with_frames)

WEIGHING_ENCODERS = ("attention", "transformer")
ORDER_AWARE_ENCODERS = ("lstm", "attention", "transformer")


@pytest.fixture(scope="module")
def models():
    return MODELS


def garbage(rng):
    return lambda shape: rng.normal(0, 1e3, size=shape)


def real_counts(inputs):
    return inputs[schema.NUM_FRAMES_KEY]


# Every encoder with every task. Models are shared with tests/test_model_network.py (lstm: all tasks).
@pytest.mark.parametrize("task", schema.TASKS)
@pytest.mark.parametrize("encoder", tuple(encoders.VIDEO_ENCODERS))
def test_padding_never_changes_the_output_and_real_frames_do(models, encoder, task):
    rng = np.random.default_rng(1)
    model = models.get(encoder, task)
    batch = example_batch(rng, task)
    tight_answer, tight_weights = run_model(model, make_inputs(batch, TIGHT_FRAMES, TIGHT_TOKENS))
    padded_answer, padded_weights = run_model(model, make_inputs(batch, PADDED_FRAMES, PADDED_TOKENS, garbage(rng)))
    np.testing.assert_allclose(padded_answer, tight_answer, rtol=1e-5, atol=1e-6)
    assert (tight_weights is None) == (encoder not in WEIGHING_ENCODERS)
    if tight_weights is not None:
        np.testing.assert_allclose(padded_weights[:, :TIGHT_FRAMES], tight_weights, rtol=1e-5, atol=1e-7)
        assert not padded_weights[:, TIGHT_FRAMES:].any()
    changed = [video + rng.normal(0, 3.0, size=video.shape).astype(np.float32) for video in batch[0]]
    changed_answer, _ = run_model(model, make_inputs(with_frames(batch, changed), TIGHT_FRAMES, TIGHT_TOKENS))
    if encoder == "none":
        np.testing.assert_allclose(changed_answer, tight_answer, atol=1e-7)
    else:
        assert np.abs(changed_answer - tight_answer).max() > 1e-4


@pytest.mark.parametrize("encoder", WEIGHING_ENCODERS)
def test_frame_weights_sum_to_one_over_the_real_frames_and_are_zero_on_padding(models, encoder):
    rng = np.random.default_rng(2)
    inputs = make_inputs(example_batch(rng), PADDED_FRAMES, TIGHT_TOKENS, garbage(rng))
    _, weights = run_model(models.get(encoder), inputs)
    assert weights.dtype == np.float32 and weights.shape == (4, PADDED_FRAMES)
    for row, count in zip(weights, real_counts(inputs)):
        assert row[:count].sum() == pytest.approx(1.0, abs=1e-6)
        assert (row[:count] > 0).all() and not row[count:].any()
    assert len(set(np.round(weights[2, :8], 6))) > 1  # Not merely uniform: the question and frames matter.


def test_only_weighing_encoders_have_a_frame_weights_model(models):
    for encoder in encoders.VIDEO_ENCODERS:
        model = models.get(encoder)
        has_weights = network.frame_weights_model(model) is not None
        assert has_weights == (encoder in WEIGHING_ENCODERS)
        assert (network.serving_model(model) is model) == (not has_weights)


def test_order_aware_encoders_see_frame_order_and_mean_does_not(models):
    rng = np.random.default_rng(4)
    batch = example_batch(rng)
    reversed_batch = with_frames(batch, [video[::-1] for video in batch[0]])
    for encoder in ORDER_AWARE_ENCODERS + ("mean",):
        model = models.get(encoder)
        forward, forward_weights = run_model(model, make_inputs(batch, TIGHT_FRAMES, TIGHT_TOKENS))
        backward, backward_weights = run_model(model, make_inputs(reversed_batch, TIGHT_FRAMES, TIGHT_TOKENS))
        if encoder == "mean":
            np.testing.assert_allclose(forward, backward, rtol=1e-5, atol=1e-6)
        else:  # Questions 0 and 2 have several frames (5 and 8).
            assert np.abs(forward - backward)[[0, 2]].max() > 1e-5, encoder


def order_task(rng, size):
    """Frames that sweep a bump up or down the feature dimensions; the answer is the direction.

    Forward and reversed clips hold the same frames, so a bag of frames cannot tell them apart.
    """
    frames = np.zeros((size, MAX_FRAMES, FEATURE_DIM), np.float32)
    counts = rng.integers(4, MAX_FRAMES + 1, size=size)
    labels = rng.integers(0, 2, size=size)
    for index, (count, label) in enumerate(zip(counts, labels)):
        sweep = np.eye(FEATURE_DIM, dtype=np.float32)[np.linspace(0, FEATURE_DIM - 1, count).astype(int)]
        frames[index, :count] = (sweep if label == 0 else sweep[::-1]) + rng.normal(0, 0.1, (count, FEATURE_DIM))
    questions = np.tile(np.array([[3, 7, 5]], np.int32), (size, 1))
    inputs = {schema.FRAME_FEATURES_KEY: frames, schema.NUM_FRAMES_KEY: counts.astype(np.int32),
              schema.QUESTION_TOKEN_IDS_KEY: questions}
    return inputs, labels.astype(np.int64)


# Steps and learning rates that learn order_task here (measured: attention by ~15 steps, transformer ~25).
ORDER_TRAINING = {"attention": (20, 0.03), "transformer": (30, 0.01)}


@pytest.mark.parametrize("encoder", WEIGHING_ENCODERS)
def test_training_under_mirrored_strategy_learns_the_order_of_frames(encoder):
    """Up to chance (ln 2) is the answer prior; below it needs the order of the frames."""
    import tensorflow as tf
    inputs, labels = order_task(np.random.default_rng(5), 64)
    steps, learning_rate = ORDER_TRAINING[encoder]
    with tf.distribute.MirroredStrategy(["/cpu:0"]).scope():
        model = network.compile_model(
            small_model(encoder, seed=3, num_answers=2, identity_statistics=True, video_units=16, hidden_units=16,
                        transformer_layers=1, transformer_width=16), schema.TASK_OPEN_ENDED, learning_rate)
    history = model.fit(inputs, labels, batch_size=len(labels), epochs=steps, verbose=0)
    losses = history.history["loss"]
    assert losses[0] > 0.6 and losses[-1] < 0.25, losses
    # One output: the metrics keep the plain names that BestWeights monitors (val_ + this).
    monitor = network.monitored_metric(model, schema.TASK_OPEN_ENDED, has_validation=False)[0]
    assert monitor == "accuracy" and history.history[monitor][-1] >= 0.9


@pytest.fixture
def mixed_precision():
    import tf_keras as keras
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")


# Each encoder and each task at least once (a model costs 5-10 s to build here). Count is the
# task whose first float16 gradients overflow the initial loss scale.
@pytest.mark.parametrize("encoder, task", [
    ("attention", schema.TASK_MULTIPLE_CHOICE), ("attention", schema.TASK_COUNT),
    ("transformer", schema.TASK_OPEN_ENDED), ("transformer", schema.TASK_COUNT)])
def test_mixed_precision_forward_pass_and_training_step(mixed_precision, encoder, task):
    """Training steps run eagerly: tracing a mixed-precision step costs ~30 s per model here."""
    rng = np.random.default_rng(6)
    model = small_model(encoder, task)
    assert model.get_layer(encoders.FRAME_WEIGHTS_LAYER).compute_dtype == "float16"
    inputs = make_inputs(example_batch(rng, task), TIGHT_FRAMES, TIGHT_TOKENS)
    answer, weights = run_model(model, inputs)
    assert answer.dtype == np.float32 and weights.dtype == np.float32 and np.isfinite(answer).all()
    for row, count in zip(weights, real_counts(inputs)):
        assert row[:count].sum() == pytest.approx(1.0, abs=1e-5) and not row[count:].any()
    labels = np.array([1, 0, 2, 1], np.float32 if task == schema.TASK_COUNT else np.int64)
    network.compile_model(model, task, 1e-3)
    model.run_eagerly = True
    before = [variable.numpy().copy() for variable in model.trainable_variables]
    # The dynamic loss scale starts high: a first step whose float16 gradients overflow is
    # skipped (and the scale halved), as on a GPU; so take up to three.
    for _ in range(3):
        loss = model.train_on_batch(inputs, labels, return_dict=True)["loss"]
        changed = [np.any(old != new.numpy()) for old, new in zip(before, model.trainable_variables)]
        if any(changed):
            break
    assert np.isfinite(loss) and all(changed), (task, sum(changed), len(changed))
    assert all(variable.dtype == "float32" for variable in model.trainable_variables)


@pytest.mark.parametrize("encoder", WEIGHING_ENCODERS)
def test_weights_file_round_trip(tmp_path, encoder):
    inputs = make_inputs(example_batch(np.random.default_rng(7)), TIGHT_FRAMES, TIGHT_TOKENS)
    trained = MODELS.get(encoder)
    path = str(tmp_path / "model.weights.h5")
    storage.save_weights(trained, path)
    restored = small_model(encoder, seed=1)
    expected, expected_weights = run_model(trained, inputs)
    assert np.abs(run_model(restored, inputs)[1] - expected_weights).max() > 1e-4  # Different before loading.
    storage.load_weights(restored, path)
    answer, weights = run_model(restored, inputs)
    np.testing.assert_allclose(answer, expected, rtol=1e-6)
    np.testing.assert_allclose(weights, expected_weights, rtol=1e-6)


LOAD_WITHOUT_OUR_PACKAGE = """
import sys
for name in ("model", "features", "pipeline"):  # Any import of ours now fails.
    sys.modules[name] = None
import numpy as np
import tensorflow as tf
arrays = np.load(sys.argv[2])
loaded = tf.saved_model.load(sys.argv[1])  # Keep it: it owns the variables.
outputs = loaded.answer(arrays["frames"], arrays["num_frames"], arrays["question"])
np.savez(sys.argv[3], **{key: value.numpy() for key, value in outputs.items()})
"""


def test_saved_model_with_frame_weights_loads_with_plain_tensorflow(models, tmp_path):
    """As model.export's ServingModule: the Keras model called in a tf.function, only variables saved.

    The transformer (its own weights, an assertion op); the attention encoder's export goes
    through the real ServingModule in the end-to-end tests.
    """
    import tensorflow as tf
    serving = network.serving_model(models.get("transformer"))
    module = tf.Module()
    module.model_variables = list(serving.variables)

    def answer(frames, num_frames, question):
        outputs = serving({schema.FRAME_FEATURES_KEY: frames, schema.NUM_FRAMES_KEY: num_frames,
                           schema.QUESTION_TOKEN_IDS_KEY: question}, training=False)
        return {key: tf.cast(value, tf.float32) for key, value in outputs.items()}
    module.answer = tf.function(answer, input_signature=[
        tf.TensorSpec([None, None, FEATURE_DIM], tf.float32), tf.TensorSpec([None], tf.int32),
        tf.TensorSpec([None, None], tf.int32)])
    inputs = make_inputs(example_batch(np.random.default_rng(8)), TIGHT_FRAMES, TIGHT_TOKENS)
    answer_values, weights = run_model(models.get("transformer"), inputs)
    expected = {network.ANSWER_OUTPUT: answer_values, network.VIDEO_WEIGHTS_OUTPUT: weights}
    export_dir, arrays, results = (str(tmp_path / name) for name in ("export", "inputs.npz", "results.npz"))
    tf.saved_model.save(module, export_dir)
    np.savez(arrays, frames=inputs[schema.FRAME_FEATURES_KEY], num_frames=inputs[schema.NUM_FRAMES_KEY],
             question=inputs[schema.QUESTION_TOKEN_IDS_KEY])
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    completed = subprocess.run([sys.executable, "-c", LOAD_WITHOUT_OUR_PACKAGE, export_dir, arrays, results],
                               cwd=str(tmp_path), env=environment, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    loaded = np.load(results)
    assert sorted(loaded.files) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(loaded[key], value, rtol=1e-5, atol=1e-7)


def moving_square_frames(count=24, width=64, height=48, size=12):
    """A bright square crossing a dark frame from left to right."""
    frames = np.full((count, height, width, 3), 30, np.uint8)
    for index in range(count):
        left = int(round(index * (width - size) / (count - 1)))
        frames[index, (height - size) // 2:(height + size) // 2, left:left + size] = (240, 200, 40)
    return frames


def brightness_grid(frames, cells=4):
    """uint8 [T, S, S, 3] -> float32 [T, cells * cells]: mean brightness per cell (a stand-in for the CNN)."""
    count, size = frames.shape[0], frames.shape[1]
    gray = frames.astype(np.float32).mean(axis=-1)[:, :size - size % cells, :size - size % cells]
    step = gray.shape[1] // cells
    return gray.reshape(count, cells, step, cells, step).mean(axis=(2, 4)).reshape(count, -1) / 255.0


def test_explain_draws_the_models_weights_under_the_real_frames(models, tmp_path):
    from matplotlib import image as image_lib

    from features import sampling, video
    from model import answering, explain
    from pipeline import synthetic
    clip = str(tmp_path / "clip.mp4")
    synthetic.write_video(clip, moving_square_frames(), fps=12)
    decoded = video.decode_video(clip, sampling.SamplingConfig(frames_per_video=MAX_FRAMES), 32)
    assert decoded.num_frames == MAX_FRAMES and (decoded.width, decoded.height) == (64, 48)
    features = brightness_grid(decoded.frames)
    assert features.shape == (MAX_FRAMES, FEATURE_DIM)
    inputs = {schema.FRAME_FEATURES_KEY: np.stack([features, features]),
              schema.NUM_FRAMES_KEY: np.array([MAX_FRAMES, MAX_FRAMES], np.int32),
              schema.QUESTION_TOKEN_IDS_KEY: np.array([[3, 7, 5], [4, 2, 0]], np.int32)}
    _, weights = run_model(models.get("attention"), inputs)
    answers = [answering.Answer("where does the square go?", [("right", 0.8), ("left", 0.2)],
                                frame_weights=weights[0].tolist()),
               answering.Answer("how many squares are there?", [("1", 1.0)], count=1.2,
                                frame_weights=weights[1].tolist())]
    drawing = explain.explain_answers(decoded, answers, str(tmp_path / "explain.png"), "clip.mp4", "attention")
    picture = image_lib.imread(drawing.path)
    assert picture.shape[:2] == (drawing.height_pixels, drawing.width_pixels)
    assert drawing.num_rows == 2 and drawing.thumbnail_panels == 2 * MAX_FRAMES and drawing.bar_panels == 2
    np.testing.assert_allclose(drawing.drawn_weights, weights, rtol=1e-6)
    assert np.abs(weights[0] - weights[1]).max() > 1e-5  # Each question weighs the frames its own way.
    # The thumbnails show the clip: some pixels carry the square's yellow.
    yellow = (picture[..., 0] > 0.8) & (picture[..., 1] > 0.6) & (picture[..., 2] < 0.4)
    assert yellow.sum() > 100
    one_row = explain.explain_answers(decoded, answers[:1], str(tmp_path / "one.png"), "clip.mp4")
    assert one_row.width_pixels == drawing.width_pixels and one_row.height_pixels < drawing.height_pixels
    with pytest.raises(ValueError, match="--video_encoder lstm"):
        explain.explain_answers(decoded, [answering.Answer("q?", [("a", 1.0)])], str(tmp_path / "no.png"),
                                "clip.mp4", "lstm")
    with pytest.raises(ValueError, match="has 3 frame weights for 8 frames"):
        explain.draw_frame_weights(decoded.frames, [explain.ExplainedQuestion("q?", "a", [0.2, 0.3, 0.5])],
                                   str(tmp_path / "bad.png"))
