"""M/config.json: saving, resume checks and data compatibility messages."""

import dataclasses

import pytest

from model import config, storage

SIGNATURE = config.DataSignature(
    schema_version=2, task="open_ended", num_candidates=0, backbone="inception_v3", feature_dim=2048,
    feature_dtype="float16", max_frames=16, max_question_tokens=32,
    question_vocabulary_size=35, answer_vocabulary_size=14, question_vocabulary_sha256="a" * 64,
    answer_vocabulary_sha256="b" * 64, cnn_weights="random", cnn_weights_sha256="c" * 64, image_size=96)


def run_config(**training):
    return config.RunConfig(config.NetworkConfig(), config.TrainingConfig(**training), SIGNATURE)


def test_round_trip_and_resume_with_the_same_configuration(tmp_path):
    model_dir = str(tmp_path / "model")
    assert config.check_resume(model_dir, run_config()) is False
    config.save_run_config(model_dir, run_config())
    assert config.load_run_config(model_dir) == run_config()
    assert config.check_resume(model_dir, run_config()) is True


def test_resume_with_another_configuration_is_refused(tmp_path):
    model_dir = str(tmp_path)
    config.save_run_config(model_dir, run_config(epochs=3))
    with pytest.raises(ValueError) as error:
        config.check_resume(model_dir, run_config(epochs=5, batch_size=8))
    message = str(error.value)
    assert "training.epochs: saved 3, now 5" in message
    assert "training.batch_size: saved 64, now 8" in message
    assert "new --model_dir" in message


def test_data_mismatch_names_what_differs(tmp_path):
    other = dataclasses.replace(SIGNATURE, answer_vocabulary_size=15, answer_vocabulary_sha256="d" * 64)
    with pytest.raises(ValueError, match="answer_vocabulary_size: saved 14, now 15"):
        config.check_data_matches(str(tmp_path), SIGNATURE, other, "/data")
    config.check_data_matches(str(tmp_path), SIGNATURE, SIGNATURE, "/data")


def test_missing_or_foreign_model_dirs(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        config.load_run_config(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="holds no config.json"):
        config.load_run_config(str(tmp_path))
    (tmp_path / storage.CONFIG_FILE).write_text('{"network": {')
    with pytest.raises(ValueError, match="not valid JSON"):
        config.load_run_config(str(tmp_path))
    storage.write_json(str(tmp_path / storage.CONFIG_FILE), {"network": {}})
    with pytest.raises(ValueError, match="another version"):
        config.load_run_config(str(tmp_path))


def test_an_unknown_video_encoder_is_refused_not_replaced():
    with pytest.raises(ValueError, match="--video_encoder 'meen': choose one of lstm, mean, attention, transformer, none"):
        config.NetworkConfig(video_encoder="meen")


def test_data_from_another_backbone_or_task_is_refused(tmp_path):
    other = dataclasses.replace(SIGNATURE, backbone="efficientnet_v2_b0", feature_dim=1280, task="count")
    with pytest.raises(ValueError) as error:
        config.check_data_matches(str(tmp_path), SIGNATURE, other, "/data")
    for difference in ("backbone: saved 'inception_v3', now 'efficientnet_v2_b0'",
                       "feature_dim: saved 2048, now 1280", "task: saved 'open_ended', now 'count'"):
        assert difference in str(error.value)
