"""The attention and Transformer video encoders, for each task, from the records to the answer.

Open-ended questions come from the mapped MSVD-QA run (EfficientNetV2B0
features), multiple-choice and count questions from the TGIF-QA runs of
tests/test_tasks_end_to_end.py. Each (task, encoder) is trained for a few
epochs, evaluated, exported and asked through the SavedModel
(`model.answering`, as `model.predict` and `model.serve` do); the frame
weights it returns sum to one over the real frames, and `--explain` draws
exactly those weights.
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from features import schema, serving
from model import answering, evaluate, explain, predict, storage

import bad_inputs
import model_helpers
import task_helpers

pytestmark = pytest.mark.slow

ENCODERS = ("attention", "transformer")


@pytest.fixture(scope="module", params=[(task, encoder) for task in schema.TASKS for encoder in ENCODERS],
                ids=lambda param: f"{param[0]}-{param[1]}")
def case(request, tmp_path_factory):
    task, encoder = request.param
    if task == schema.TASK_OPEN_ENDED:
        run = bad_inputs.mapped_run(tmp_path_factory)
        video = os.path.join(run["dataset"]["video_dir"], bad_inputs.MAPPED_CLIPS[1] + ".avi")
        question, candidates = "what color is the car?", None
        extra_flags = bad_inputs.MAPPED_MODEL_FLAGS  # The attention model is test_robustness_model's too.
    else:
        dataset = task_helpers.tgif_dataset(tmp_path_factory)
        run = task_helpers.task_run(tmp_path_factory, task)
        row = task_helpers.first_test_row(dataset, task)
        video = os.path.join(dataset, "videos", f"{row['gif_name']}.gif")
        question = row["question"]
        candidates = [row[f"a{index}"] for index in range(1, 6)] if task == schema.TASK_MULTIPLE_CHOICE else None
        extra_flags = ()
    model_dir = model_helpers.quick_model_dir(run["output_dir"], tmp_path_factory, encoder, extra_flags)
    return {"task": task, "encoder": encoder, "data_dir": run["output_dir"], "model_dir": model_dir,
            "video": video, "question": question, "candidates": candidates}


@pytest.fixture(scope="module")
def exported(case):
    """The case's SavedModel, loaded once (as `model.serve` holds it) for the tests that ask it directly."""
    return answering.ExportedModel(case["model_dir"])


def test_it_trains_and_evaluates_with_the_benchmark_metric(case, capsys):
    capsys.readouterr()
    assert evaluate.run(["--data_dir", case["data_dir"], "--model_dir", case["model_dir"], "--split", "test"]) == 0
    results = storage.read_json(os.path.join(case["model_dir"], storage.EVAL_DIR, "test.json"))
    assert results["task"] == case["task"] and results["overall"]["questions"] > 0
    assert ("mse" in results["overall"]) == (case["task"] == schema.TASK_COUNT)


def test_the_export_answers_with_frame_weights_that_sum_to_one_over_the_real_frames(case, exported):
    model = exported
    assert model.gives_frame_weights
    decoded = model.decode(case["video"])
    [answer] = model.answer(decoded, [case["question"]], case["candidates"])
    weights = np.asarray(answer.frame_weights)
    assert weights.shape == (decoded.num_frames,) and (weights >= 0).all()
    np.testing.assert_allclose(weights.sum(), 1.0, rtol=1e-4)
    # The features signature with padding: padded frames get exactly zero weight.
    signature = model.signature(serving.SIGNATURE_FEATURES)
    dim = signature.structured_input_signature[1][serving.INPUT_FRAME_FEATURES].shape[-1]
    frames = np.random.default_rng(0).normal(size=(1, decoded.num_frames + 3, dim)).astype(np.float32)
    inputs = {serving.INPUT_QUESTION: tf.constant([case["question"]]),
              serving.INPUT_FRAME_FEATURES: tf.constant(frames),
              serving.INPUT_NUM_FRAMES: tf.constant([decoded.num_frames], tf.int32)}
    if case["candidates"]:
        inputs[serving.INPUT_CANDIDATES] = tf.constant([case["candidates"]])
    padded = signature(**inputs)[serving.OUTPUT_FRAME_WEIGHTS].numpy()[0]
    assert (padded[decoded.num_frames:] == 0).all()
    np.testing.assert_allclose(padded[:decoded.num_frames].sum(), 1.0, rtol=1e-4)


def test_the_export_holds_no_gradient_functions(case):
    """Serving computes no gradients: EfficientNet's swish alone registered 55 custom gradient functions,
    a third of the export's time (`export.SAVE_OPTIONS`)."""
    library = model_helpers.saved_function_library(case["model_dir"])
    assert list(library.registered_gradients) == []
    assert [function.signature.name for function in library.function if "grad_fn" in function.signature.name] == []


def test_explain_draws_the_model_s_own_weights(case, exported, tmp_path, capsys):
    if case["encoder"] != "attention":
        pytest.skip("one picture per task is enough: the transformer's path is the same code")
    path = str(tmp_path / "explain.png")
    arguments = ["--model_dir", case["model_dir"], "--video", case["video"], "--question", case["question"],
                 "--explain", path, "--json"]
    for candidate in case["candidates"] or []:
        arguments += ["--candidate", candidate]
    capsys.readouterr()
    assert predict.run(arguments) == 0
    [answered] = json.loads(capsys.readouterr().out)
    with open(path, "rb") as image:
        assert image.read(8) == b"\x89PNG\r\n\x1a\n"
    decoded = exported.decode(case["video"])
    answers = exported.answer(decoded, [case["question"]], case["candidates"], predict.DEFAULT_TOP_K)
    drawing = explain.explain_answers(decoded, answers, str(tmp_path / "again.png"))
    np.testing.assert_allclose(drawing.drawn_weights[0], answered["frame_weights"], rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(sum(answered["frame_weights"]), 1.0, rtol=1e-4)
