"""The shared contract's small pieces: quantiser, text normalisation, CNN configuration, records."""

import numpy as np
import pytest
import tensorflow as tf

from features import cnn, quantize, records, schema, text


def test_quantise_round_trip_is_within_half_a_bin():
    rng = np.random.default_rng(0)
    values = rng.uniform(quantize.QUANTIZE_MIN, quantize.QUANTIZE_MAX, size=(64, schema.FEATURE_DIM))
    values = values.astype(np.float32)
    restored = quantize.stored_values(values, "uint8")
    half_bin = quantize.bin_width() / 2
    assert np.max(np.abs(restored - values)) <= half_bin + 1e-6
    # Every code decodes to the centre of its bin, so re-quantising is exact.
    codes = quantize.quantize(values)
    np.testing.assert_array_equal(quantize.quantize(quantize.dequantize(codes)), codes)
    # Values outside [-2, 2] are clipped to the ends.
    outside = np.full((1, schema.FEATURE_DIM), 9.0, np.float32)
    assert np.allclose(quantize.stored_values(outside, "uint8"), quantize.QUANTIZE_MAX, atol=half_bin + 1e-6)


@pytest.mark.parametrize("dtype, tolerance", [("float32", 0.0), ("float16", 1e-3), ("uint8", 2 / 255)])
def test_numpy_and_tensorflow_decoders_agree(dtype, tolerance):
    values = np.random.default_rng(1).normal(0, 0.5, size=(5, schema.FEATURE_DIM)).astype(np.float32)
    encoded = quantize.encode_frames(values, dtype)
    assert all(len(frame) == schema.FEATURE_DIM * quantize.bytes_per_value(dtype) for frame in encoded)
    from_numpy = quantize.decode_frames(encoded, dtype)
    from_tensorflow = quantize.decode_frames_tensor(tf.constant(encoded), dtype).numpy()
    np.testing.assert_array_equal(from_numpy, from_tensorflow)
    assert np.max(np.abs(np.clip(values, -2, 2) - from_numpy)) <= tolerance * max(1, np.abs(values).max())


def test_unknown_feature_dtype_is_refused():
    with pytest.raises(ValueError, match="float64"):
        quantize.encode_frames(np.zeros((1, schema.FEATURE_DIM)), "float64")


def test_questions_and_answers_are_normalised_the_same_way_everywhere():
    assert text.tokenize_python(["What is the MAN doing?!", "  where's   the ball  "]) == [
        ["what", "is", "the", "man", "doing"], ["where's", "the", "ball"]]
    assert text.normalize_answers_python(["Loading", " loading ", "LOADING!", "red car"]) == [
        "loading", "loading", "loading", "red car"]
    assert text.tokenize_python(["Qué hace el niño?"]) == [["qué", "hace", "el", "niño"]]
    assert text.tokenize_python(["a b c d e"], max_tokens=3) == [["a", "b", "c"]]
    assert text.question_type(["how", "many"]) == "how"
    assert text.question_type(["is", "it"]) == schema.OTHER_QUESTION_TYPE
    assert text.question_type(["what"], annotated_type="appearance") == "appearance"


@pytest.mark.parametrize("weights, image_size, message", [
    ("random", schema.MIN_IMAGE_SIZE - 1, "image_size"),
    ("/no/such/weights.h5", 96, "weights.h5"),
    ("random:notanumber", 96, "random"),
])
def test_bad_cnn_configurations_are_clear_errors(weights, image_size, message):
    with pytest.raises(ValueError, match=message):
        cnn.validate_cnn_config(weights, image_size)


def test_random_weights_are_seeded_and_described_as_random():
    first = cnn.FrozenCnn("random", 75)
    second = cnn.FrozenCnn("random", 75)
    frames = np.random.default_rng(2).integers(0, 256, size=(2, 75, 75, 3), dtype=np.uint8)
    features = np.asarray(first.embed(frames))
    assert features.shape == (2, schema.FEATURE_DIM)
    np.testing.assert_array_equal(features, np.asarray(second.embed(frames)))
    assert first.describe()["weights_sha256"] == second.describe()["weights_sha256"]
    assert "RANDOM" in first.describe()["note"]
    assert cnn.FrozenCnn("random:1", 75).describe()["weights_sha256"] != first.describe()["weights_sha256"]


def test_a_record_round_trips_through_both_parsers():
    features = np.random.default_rng(3).normal(0, 0.3, size=(3, schema.FEATURE_DIM)).astype(np.float32)
    questions = [{schema.QUESTION_KEY: "what grows?", schema.QUESTION_ID_KEY: "7",
                  schema.QUESTION_TYPE_KEY: "what", schema.ANSWER_KEY: "ball", schema.LABEL_KEY: 2,
                  "token_ids": [4, 9]}]
    example = records.build_video_example("v1", "train", quantize.encode_frames(features, "float16"), questions)
    parsed = records.parse_video_example_numpy(example.SerializeToString(), "float16")
    assert parsed[schema.VIDEO_ID_KEY] == "v1" and parsed[schema.NUM_FRAMES_KEY] == 3
    assert parsed[schema.QUESTION_TOKEN_IDS_KEY] == [[4, 9]] and parsed[schema.LABEL_KEY] == [2]
    np.testing.assert_allclose(parsed[schema.FRAME_FEATURES_KEY], features, rtol=1e-3, atol=1e-4)
