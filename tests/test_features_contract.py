"""The shared contract's small pieces: quantiser, text normalisation, CNN configuration, records."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from features import backbones, cnn, quantize, questions, records, schema, text


def test_quantise_round_trip_is_within_half_a_bin():
    rng = np.random.default_rng(0)
    values = rng.uniform(quantize.QUANTIZE_MIN, quantize.QUANTIZE_MAX, size=(64, 2048))
    values = values.astype(np.float32)
    restored = quantize.stored_values(values, "uint8")
    half_bin = quantize.bin_width() / 2
    assert np.max(np.abs(restored - values)) <= half_bin + 1e-6
    # Every code decodes to the centre of its bin, so re-quantising is exact.
    codes = quantize.quantize(values)
    np.testing.assert_array_equal(quantize.quantize(quantize.dequantize(codes)), codes)
    # Values outside [-2, 2] are clipped to the ends.
    outside = np.full((1, 2048), 9.0, np.float32)
    assert np.allclose(quantize.stored_values(outside, "uint8"), quantize.QUANTIZE_MAX, atol=half_bin + 1e-6)


@pytest.mark.parametrize("dtype, tolerance", [("float32", 0.0), ("float16", 1e-3), ("uint8", 2 / 255)])
def test_numpy_and_tensorflow_decoders_agree(dtype, tolerance):
    values = np.random.default_rng(1).normal(0, 0.5, size=(5, 2048)).astype(np.float32)
    encoded = quantize.encode_frames(values, dtype)
    assert all(len(frame) == 2048 * quantize.bytes_per_value(dtype) for frame in encoded)
    from_numpy = quantize.decode_frames(encoded, dtype, 2048)
    from_tensorflow = quantize.decode_frames_tensor(tf.constant(encoded), dtype).numpy()
    np.testing.assert_array_equal(from_numpy, from_tensorflow)
    assert np.max(np.abs(np.clip(values, -2, 2) - from_numpy)) <= tolerance * max(1, np.abs(values).max())


def test_unknown_feature_dtype_is_refused():
    with pytest.raises(ValueError, match="float64"):
        quantize.encode_frames(np.zeros((1, 2048)), "float64")


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


@pytest.mark.parametrize("backbone, weights, image_size, message", [
    ("inception_v3", "random", 74, "below InceptionV3's minimum input of 75x75"),
    ("efficientnet_v2_b0", "random", 31, "below EfficientNetV2B0's minimum input of 32x32"),
    ("inception_v3", "/no/such/weights.h5", 96, "weights.h5"),
    ("inception_v3", "random:notanumber", 96, "random"),
    ("vgg16", "random", 96, "not a known backbone; choose one of inception_v3, resnet50"),
])
def test_bad_cnn_configurations_are_clear_errors(backbone, weights, image_size, message):
    with pytest.raises(ValueError, match=message):
        cnn.validate_cnn_config(backbone, weights, image_size)


def test_the_backbone_registry_matches_keras_applications():
    assert {name: (b.feature_dim, b.native_image_size) for name, b in backbones.BACKBONES.items()} == {
        "inception_v3": (2048, 299), "resnet50": (2048, 224), "efficientnet_v2_b0": (1280, 224),
        "efficientnet_v2_s": (1280, 384), "convnext_tiny": (768, 224), "mobilenet_v3_large": (960, 224)}
    assert backbones.image_size_or_native(backbones.get_backbone("resnet50"), 0) == 224


# Building a Keras application takes seconds: each CNN below is built once for the module. MobileNetV3
# and EfficientNetV2B0 at 32 px are the small ones; seeding is the same code for every backbone, and the
# session's pipeline run embeds with the default InceptionV3.
@pytest.fixture(scope="module")
def mobilenet():
    return cnn.shared_frozen_cnn("mobilenet_v3_large", "random", 32)


@pytest.fixture(scope="module")
def mobilenet_rebuilt():
    """A second, independent build from the same seed."""
    return cnn.FrozenCnn("mobilenet_v3_large", "random", 32)


@pytest.fixture(scope="module")
def efficientnet():
    return cnn.FrozenCnn("efficientnet_v2_b0", "random", 32)


@pytest.fixture(scope="module")
def efficientnet_rebuilt():
    return cnn.FrozenCnn("efficientnet_v2_b0", "random", 32)


def test_random_weights_are_seeded_and_described_as_random(mobilenet, mobilenet_rebuilt):
    frames = np.random.default_rng(2).integers(0, 256, size=(2, 32, 32, 3), dtype=np.uint8)
    features = np.asarray(mobilenet.embed(frames))
    assert features.shape == (2, 960)
    np.testing.assert_array_equal(features, np.asarray(mobilenet_rebuilt.embed(frames)))
    assert mobilenet.describe()["weights_sha256"] == mobilenet_rebuilt.describe()["weights_sha256"]
    assert "RANDOM MobileNetV3Large weights" in mobilenet.describe()["note"]
    assert "RANDOM InceptionV3 weights" in cnn.describe_weights("inception_v3", "random")
    assert cnn.FrozenCnn("mobilenet_v3_large", "random:1", 32).describe()["weights_sha256"] != \
        mobilenet.describe()["weights_sha256"]


def test_another_backbone_gives_its_own_feature_dimension_with_its_own_preprocessing(efficientnet):
    frames = np.random.default_rng(4).integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
    assert efficientnet.embed(frames).shape == (3, 1280)
    assert efficientnet.describe()["feature_dim"] == 1280
    assert efficientnet.describe()["backbone"] == "efficientnet_v2_b0"
    # EfficientNetV2 rescales inside the model: its preprocess_input passes pixels through.
    np.testing.assert_array_equal(efficientnet.preprocess(frames).numpy(), frames.astype(np.float32))
    assert cnn.preprocess_function("inception_v3")(frames).numpy().max() <= 1.0


@pytest.mark.parametrize("backbone", ["mobilenet", "efficientnet"])
def test_random_weights_give_every_backbone_features_that_tell_frames_apart(backbone, request):
    """Batch-norm statistics calibrated on seeded noise: without it these backbones' features vanish (1e-8)."""
    model = request.getfixturevalue(backbone)
    frames = np.random.default_rng(6).integers(0, 256, size=(4, 32, 32, 3), dtype=np.uint8)
    features = model.embed(frames)
    assert np.isfinite(features).all() and features.std() > 0.1
    assert np.abs(features[0] - features[1]).max() > 0.1 * np.abs(features).max()
    assert request.getfixturevalue(f"{backbone}_rebuilt").checksum == model.checksum  # Still a function of the seed.


def test_a_process_builds_each_cnn_once_but_reads_a_weights_file_each_time(mobilenet, tmp_path):
    first = cnn.shared_frozen_cnn("mobilenet_v3_large", "random", 32)  # Built by now (the fixture), or here.
    assert cnn.shared_frozen_cnn("mobilenet_v3_large", "random", 32) is first
    path = str(tmp_path / "mobilenet.weights.h5")
    first.model.save_weights(path)
    from_file = cnn.shared_frozen_cnn("mobilenet_v3_large", path, 32)
    assert from_file.checksum == first.checksum and cnn.shared_frozen_cnn("mobilenet_v3_large", path, 32) is not from_file
    cnn.forget_shared_cnns()
    assert cnn.shared_frozen_cnn("mobilenet_v3_large", "random", 32) is not first


def test_a_weights_file_of_another_architecture_is_a_clear_error(mobilenet, tmp_path):
    path = str(tmp_path / "mobilenet.weights.h5")
    mobilenet.model.save_weights(path)
    with pytest.raises(ValueError, match="is not a Keras weights file for EfficientNetV2B0"):
        cnn.FrozenCnn("efficientnet_v2_b0", path, 32)


def test_a_record_round_trips_through_both_parsers():
    features = np.random.default_rng(3).normal(0, 0.3, size=(3, 1280)).astype(np.float32)
    question = questions.Question(question_id="7", question="what grows?", answer="ball",
                                  question_type="what", source="f:1")
    example = records.build_video_example("v1", "train", quantize.encode_frames(features, "float16"),
                                          [question], labels=[2], token_ids=[[4, 9]])
    parsed = records.parse_video_example_numpy(example.SerializeToString(), "float16", 1280)
    assert parsed[schema.VIDEO_ID_KEY] == "v1" and parsed[schema.NUM_FRAMES_KEY] == 3
    assert parsed[schema.QUESTION_TOKEN_IDS_KEY] == [[4, 9]] and parsed[schema.LABEL_KEY] == [2]
    assert parsed[schema.SCHEMA_VERSION_KEY] == schema.SCHEMA_VERSION == 2
    np.testing.assert_allclose(parsed[schema.FRAME_FEATURES_KEY], features, rtol=1e-3, atol=1e-4)
    tensors = records.parse_video_example(tf.constant(example.SerializeToString()), "float16", 1280)
    assert tensors[schema.FRAME_FEATURES_KEY].shape == (3, 1280)
    assert tensors[schema.CANDIDATE_TOKEN_IDS_KEY].shape[0] == 0


def test_a_multiple_choice_record_keeps_each_question_s_candidates_in_order():
    question = questions.Question(question_id="q", question="what happens?", answer="shrinks",
                                  question_type="transition", source="f:2",
                                  candidates=("grows", "shrinks", "stays"), answer_index=1)
    example = records.build_video_example("v2", "test", quantize.encode_frames(np.zeros((1, 8)), "float32"),
                                          [question], labels=[question.label_for(schema.TASK_MULTIPLE_CHOICE)],
                                          token_ids=[[3]], candidate_token_ids=[[[5], [6, 7], [8]]])
    parsed = records.parse_video_example_numpy(example.SerializeToString(), "float32", 8)
    assert parsed[schema.CANDIDATE_KEY] == ["grows", "shrinks", "stays"]
    assert parsed[schema.CANDIDATE_TOKEN_IDS_KEY] == [[5], [6, 7], [8]] and parsed[schema.LABEL_KEY] == [1]


def test_importing_the_contract_does_not_switch_keras():
    code = ("import os, features, features.schema, features.serving, features.backbones, features.manifest, "
            "features.questions; print(os.environ.get('TF_USE_LEGACY_KERAS'))")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                               env={key: value for key, value in os.environ.items() if key != "TF_USE_LEGACY_KERAS"})
    assert completed.stdout.strip() == "None"
