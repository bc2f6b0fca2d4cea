"""The serving SavedModel and model.predict.

The SavedModel's answers equal the Keras model's; the raw-frames signature
agrees with the features path; it loads in a process that imports nothing of
ours; saved_model_cli lists its signatures; model.predict answers questions
about a video file and reports unusable videos without a traceback.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from features import frames as frames_lib
from features import manifest as manifest_lib
from features import records, schema, serving, video
from model import checkpoint, data_info, export, predict, storage

import model_helpers
import shared_runs

pytestmark = pytest.mark.slow

QUESTIONS = ["what is happening to the square?", "how many circles are there?",
             "what color is the truck?", "Is the BALL appearing or disappearing?!", "unseen words here"]


@pytest.fixture(scope="module")
def info(pipeline_output):
    return data_info.load_data_info(pipeline_output)


@pytest.fixture(scope="module")
def exported(pipeline_output, tmp_path_factory):
    return model_helpers.exported_model(pipeline_output, tmp_path_factory)


@pytest.fixture(scope="module")
def loaded(exported):
    return tf.saved_model.load(os.path.join(exported, storage.EXPORT_DIR))


@pytest.fixture(scope="module")
def test_videos(pipeline_output, info):
    return shared_runs.read_parsed(pipeline_output)[schema.TEST_SPLIT]


def keras_top_k(model, frames, counts, token_ids, answers, k):
    probabilities = model({schema.FRAME_FEATURES_KEY: frames, schema.NUM_FRAMES_KEY: counts,
                           schema.QUESTION_TOKEN_IDS_KEY: token_ids}, training=False).numpy()
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return [[answers[index] for index in row] for row in order], np.take_along_axis(probabilities, order, 1)


def test_saved_model_answers_equal_the_keras_model(exported, loaded, info, test_videos):
    model, _, _ = checkpoint.load_trained_model(exported, info)
    questions, frames, counts, token_ids = [], [], [], []
    max_frames, max_tokens = info.max_frames, info.max_question_tokens
    for video_record in test_videos:
        for text, ids in zip(video_record[schema.QUESTION_KEY], video_record[schema.QUESTION_TOKEN_IDS_KEY]):
            features = video_record[schema.FRAME_FEATURES_KEY]
            padded = np.zeros((max_frames, info.feature_dim), np.float32)
            padded[:len(features)] = features
            questions.append(text)
            frames.append(padded)
            counts.append(len(features))
            token_ids.append(ids + [0] * (max_tokens - len(ids)))
    frames, counts = np.stack(frames), np.array(counts, np.int32)
    expected_answers, expected_probabilities = keras_top_k(
        model, frames, counts, np.array(token_ids, np.int32), info.answers, 4)
    outputs = loaded.signatures[serving.SIGNATURE_FEATURES](
        question=tf.constant(questions), frame_features=tf.constant(frames), num_frames=tf.constant(counts))
    answers = [[answer.decode() for answer in row] for row in outputs[serving.OUTPUT_ANSWERS].numpy()]
    assert answers == expected_answers
    np.testing.assert_allclose(outputs[serving.OUTPUT_PROBABILITIES].numpy(), expected_probabilities,
                               rtol=1e-5, atol=1e-6)


def test_raw_frames_signature_agrees_with_the_features_path(loaded, info, synthetic_dataset, test_videos):
    video_id = test_videos[0][schema.VIDEO_ID_KEY]
    path = os.path.join(synthetic_dataset, "videos", f"video{video_id}.mp4")
    decoded = video.decode_video(path, manifest_lib.sampling_config(info.manifest), info.signature.image_size)
    frozen = export.build_frozen_cnn(info.manifest)
    features = frozen.embed(decoded.frames)
    questions = tf.constant(QUESTIONS)
    count = len(QUESTIONS)
    from_frames = loaded.signatures[serving.SIGNATURE_FRAMES](
        frames=tf.constant(decoded.frames), question=questions)
    from_features = loaded.signatures[serving.SIGNATURE_FEATURES](
        question=questions, frame_features=tf.constant(np.repeat(features[np.newaxis], count, axis=0)),
        num_frames=tf.fill([count], len(features)))
    assert (from_frames[serving.OUTPUT_ANSWERS].numpy() == from_features[serving.OUTPUT_ANSWERS].numpy()).all()
    np.testing.assert_allclose(from_frames[serving.OUTPUT_PROBABILITIES].numpy(),
                               from_features[serving.OUTPUT_PROBABILITIES].numpy(), rtol=1e-4, atol=1e-5)
    # The pipeline stored the same video's features (in its feature dtype): same best answers.
    stored = test_videos[0][schema.FRAME_FEATURES_KEY]
    np.testing.assert_allclose(stored, features, rtol=2e-2, atol=2e-2)
    from_records = loaded.signatures[serving.SIGNATURE_FEATURES](
        question=questions, frame_features=tf.constant(np.repeat(stored[np.newaxis], count, axis=0)),
        num_frames=tf.fill([count], len(stored)))
    assert (from_records[serving.OUTPUT_ANSWERS].numpy()[:, 0] == from_frames[serving.OUTPUT_ANSWERS].numpy()[:, 0]).all()
    # Frames at another size go through the pipeline's resize first.
    larger = frames_lib.resize_frames(decoded.frames, info.signature.image_size + 32).numpy()
    resized = loaded.signatures[serving.SIGNATURE_FRAMES](frames=tf.constant(larger), question=questions)
    assert resized[serving.OUTPUT_ANSWERS].shape == (count, 4)


def test_raw_frames_longer_than_one_cnn_chunk_agree_with_the_features_path(
        loaded, info, synthetic_dataset, test_videos):
    """A clip of 1.5 CNN chunks: full chunk plus an unpadded rest, same answers as its features."""
    video_id = test_videos[1][schema.VIDEO_ID_KEY]
    path = os.path.join(synthetic_dataset, "videos", f"video{video_id}.mp4")
    decoded = video.decode_video(path, manifest_lib.sampling_config(info.manifest), info.signature.image_size)
    count = serving.CNN_CHUNK_FRAMES + serving.CNN_CHUNK_FRAMES // 2
    frames = np.resize(decoded.frames, (count, *decoded.frames.shape[1:]))
    frames[:, 0, 0, :] = np.arange(count, dtype=np.uint8)[:, np.newaxis]  # No two frames alike.
    features = export.build_frozen_cnn(info.manifest).embed(frames)
    questions = tf.constant(QUESTIONS[:2])
    from_frames = loaded.signatures[serving.SIGNATURE_FRAMES](frames=tf.constant(frames), question=questions)
    from_features = loaded.signatures[serving.SIGNATURE_FEATURES](
        question=questions, frame_features=tf.constant(np.repeat(features[np.newaxis], 2, axis=0)),
        num_frames=tf.fill([2], count))
    assert (from_frames[serving.OUTPUT_ANSWERS].numpy() == from_features[serving.OUTPUT_ANSWERS].numpy()).all()
    np.testing.assert_allclose(from_frames[serving.OUTPUT_PROBABILITIES].numpy(),
                               from_features[serving.OUTPUT_PROBABILITIES].numpy(), rtol=1e-4, atol=1e-5)


def test_saved_model_loads_without_our_code_and_lists_its_signatures(exported, test_videos):
    export_dir = os.path.join(exported, storage.EXPORT_DIR)
    script = textwrap.dedent(f"""
        import json, sys
        import numpy as np
        import tensorflow as tf
        model = tf.saved_model.load({export_dir!r})
        outputs = model.signatures["serving_features"](
            question=tf.constant(["how many circles are there?"]),
            frame_features=tf.zeros([1, 3, 2048]), num_frames=tf.constant([3]))
        ours = sorted(name for name in sys.modules if name.split(".")[0] in
                      ("features", "model", "pipeline", "tensorflow_transform", "tf_keras"))
        print(json.dumps({{"signatures": sorted(model.signatures),
                          "answers": outputs["answers"].shape.as_list(), "ours": ours}}))
    """)
    # A fresh environment: importing tensorflow_transform here set TF_USE_LEGACY_KERAS.
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("TF_USE_LEGACY_KERAS", "PYTHONPATH")}
    result = subprocess.run([sys.executable, "-c", script], cwd="/", capture_output=True, text=True,
                            timeout=300, env=dict(environment, TF_CPP_MIN_LOG_LEVEL="2"))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"signatures": [serving.SIGNATURE_FEATURES, serving.SIGNATURE_FRAMES],
                      "answers": [1, 4], "ours": []}
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    shown = subprocess.run([cli, "show", "--dir", export_dir, "--all"], capture_output=True, text=True,
                           timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert shown.returncode == 0, shown.stderr[-3000:]
    for name in (serving.SIGNATURE_FEATURES, serving.SIGNATURE_FRAMES, "num_frames", "frames", "question"):
        assert name in shown.stdout
    extra = os.path.join(export_dir, storage.EXPORT_EXTRA_DIR)
    assert json.load(open(os.path.join(extra, storage.EXPORT_MANIFEST_FILE)))[
        manifest_lib.MANIFEST_SCHEMA_VERSION] == schema.SCHEMA_VERSION


def test_predict_answers_questions_about_a_video(exported, synthetic_dataset, test_videos):
    video_id = test_videos[0][schema.VIDEO_ID_KEY]
    path = os.path.join(synthetic_dataset, "videos", f"video{video_id}.mp4")
    result = model_helpers.run_module("model.predict", "--model_dir", exported, "--video", path,
                                      "--question", QUESTIONS[0], "--question", QUESTIONS[1],
                                      "--top_k", "3", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    for noise in ("cudart_stub", "cpu_feature_guard", "All log messages before absl", "cuInit"):
        assert noise not in result.stderr  # Quiet by default (--verbose shows the libraries' lines).
    answers = json.loads(result.stdout)
    assert [entry["question"] for entry in answers] == QUESTIONS[:2]
    for entry in answers:
        probabilities = [answer["probability"] for answer in entry["answers"]]
        assert len(probabilities) == 3 and probabilities == sorted(probabilities, reverse=True)


def test_predict_refuses_undecodable_videos_and_missing_exports(exported, synthetic_dataset, test_videos,
                                                                tmp_path, capsys):
    path = os.path.join(synthetic_dataset, "videos", f"video{test_videos[0][schema.VIDEO_ID_KEY]}.mp4")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(open(path, "rb").read()[:2000])
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    cases = ((["--model_dir", exported, "--video", str(tmp_path / "absent.mp4")], ("absent.mp4: file not found",)),
             (["--model_dir", exported, "--video", str(broken)], ("broken.mp4", "truncated")),
             (["--model_dir", exported, "--video", str(empty)], ("empty.mp4", "empty")),
             (["--model_dir", str(tmp_path / "nomodel"), "--video", path], ("nomodel", "does not exist")),
             (["--model_dir", str(tmp_path), "--video", path], ("holds no SavedModel", "model.export")))
    for argv, fragments in cases:
        assert predict.run(argv + ["--question", "what?"]) == 2
        error = capsys.readouterr().err
        for fragment in fragments:
            assert fragment in error, (fragment, error)


def test_cnn_weights_that_differ_from_the_manifest_are_refused(info):
    """The manifest records other weights than those `--cnn_weights` gives here (as after a Keras upgrade).
    The CNN is the process's shared one: only the comparison is new."""
    manifest = json.loads(json.dumps(info.manifest))
    recorded = manifest[manifest_lib.MANIFEST_CONFIG][manifest_lib.CONFIG_CNN]
    assert export.build_frozen_cnn(manifest).checksum == recorded[manifest_lib.CNN_WEIGHTS_SHA256]
    recorded[manifest_lib.CNN_WEIGHTS_SHA256] = "0" * 64
    with pytest.raises(ValueError, match="sha256 .* but the pipeline's manifest records 0{64}"):
        export.build_frozen_cnn(manifest)


def test_the_export_stores_one_lstm_implementation_and_no_gradients(exported):
    """Only what answering needs: the generic LSTM loop, not tf_keras's cuDNN pair and its gradients
    (`recurrent.use_generic_loops`; they made exporting and loading a third slower)."""
    names = [function.signature.name for function in model_helpers.saved_function_library(exported).function]
    assert any("serving_features" in name for name in names)
    assert [name for name in names if "gpu_lstm" in name or "_grad_" in name or "backward" in name] == []
