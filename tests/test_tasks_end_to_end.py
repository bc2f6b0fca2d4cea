"""Multiple choice and count, each from the pipeline to the answer, in the TGIF-QA layout as published.

`pipeline.synthetic --layout tgif_qa` writes real GIFs and the four task
files; one pipeline run reads the Transition files (multiple choice, five
candidates) and another the Count files. Each is trained (in this process,
with the attention encoder: the same model as test_encoders_end_to_end.py's),
evaluated with the benchmark's metric, exported and asked through
`model.predict`'s entry point.
"""

import csv
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from features import manifest as manifest_lib
from features import schema, serving
from model import evaluate, predict, storage

import model_helpers
import shared_runs
import task_helpers

pytestmark = pytest.mark.slow

ENCODER = "attention"
TASK_FILES = task_helpers.TASK_FILES
PIPELINE_FLAGS = task_helpers.PIPELINE_FLAGS
first_test_row = task_helpers.first_test_row


@pytest.fixture(scope="session")
def tgif_dataset(tmp_path_factory):
    return task_helpers.tgif_dataset(tmp_path_factory)


@pytest.fixture(scope="module", params=[schema.TASK_MULTIPLE_CHOICE, schema.TASK_COUNT])
def task(request):
    return request.param


@pytest.fixture(scope="module")
def run(tmp_path_factory, task):
    return task_helpers.task_run(tmp_path_factory, task)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, run, task):
    # test_encoders_end_to_end.py's attention model of this task: one training and export for both modules.
    return model_helpers.quick_model_dir(run["output_dir"], tmp_path_factory, ENCODER)


def test_every_row_of_the_task_files_is_written_and_the_manifest_names_the_task(run, task, tgif_dataset):
    manifest = manifest_lib.read_manifest(run["output_dir"])
    assert manifest_lib.task(manifest) == task
    assert manifest_lib.num_candidates(manifest) == (5 if task == schema.TASK_MULTIPLE_CHOICE else 0)
    rows = 0
    for name in os.listdir(tgif_dataset):
        if name.endswith(f"_{TASK_FILES[task]}_question.csv"):
            with open(os.path.join(tgif_dataset, name), encoding="utf-8", newline="") as handle:
                rows += sum(1 for _ in csv.DictReader(handle, delimiter="\t"))
    assert f"input questions: {rows} = written {rows} + rejected 0" in run["stdout"]
    assert "layout: tgif_qa" in run["stdout"]
    assert {entry["layout"] for entry in manifest[manifest_lib.MANIFEST_INPUTS]} == {"tgif_qa"}
    counts = manifest[manifest_lib.MANIFEST_COUNTS]
    assert all(counts[split]["videos"] for split in schema.SPLITS)  # val carved from Train.


def test_records_carry_what_the_task_needs(run, task):
    parsed = shared_runs.read_parsed(run["output_dir"])
    for video in [video for videos in parsed.values() for video in videos]:
        questions = len(video[schema.QUESTION_KEY])
        if task == schema.TASK_MULTIPLE_CHOICE:
            assert len(video[schema.CANDIDATE_KEY]) == len(video[schema.CANDIDATE_TOKEN_IDS_KEY]) == 5 * questions
            for index, label in enumerate(video[schema.LABEL_KEY]):
                assert 0 <= label < 5
                assert video[schema.CANDIDATE_KEY][5 * index + label] == video[schema.ANSWER_KEY][index]
        else:
            assert not video[schema.CANDIDATE_KEY]
            assert [str(label) for label in video[schema.LABEL_KEY]] == video[schema.ANSWER_KEY]


def test_evaluation_reports_the_benchmark_metric(model_dir, run, task, capsys):
    capsys.readouterr()
    assert evaluate.run(["--data_dir", run["output_dir"], "--model_dir", model_dir]) == 0
    printed = capsys.readouterr().out
    results = storage.read_json(os.path.join(model_dir, storage.EVAL_DIR, "test.json"))
    overall = results["overall"]
    assert results["task"] == task and 0.0 <= overall["accuracy"] <= 1.0 and overall["questions"] > 0
    if task == schema.TASK_COUNT:
        assert results["metric"] == "mse" and overall["mse"] >= 0.0 and "MSE" in printed
        assert "vocabulary_ceiling" not in results
    else:
        assert results["metric"] == "accuracy" and "mse" not in overall
        assert "multiple choice questions, test split" in printed


def test_the_export_takes_candidates_for_multiple_choice_and_returns_a_count_for_count(model_dir, task):
    loaded = tf.saved_model.load(os.path.join(model_dir, storage.EXPORT_DIR))
    inputs = loaded.signatures[serving.SIGNATURE_FRAMES].structured_input_signature[1]
    outputs = loaded.signatures[serving.SIGNATURE_FRAMES].structured_outputs
    frames = tf.zeros([3, 40, 40, 3], tf.uint8)
    if task == schema.TASK_MULTIPLE_CHOICE:
        assert serving.INPUT_CANDIDATES in inputs
        candidates = tf.constant([["growing", "shrinking", "appearing", "disappearing", "loading"]] * 2)
        result = loaded.signatures[serving.SIGNATURE_FRAMES](
            frames=frames, question=tf.constant(["what happens?", "what does the ball do?"]), candidates=candidates)
        assert result[serving.OUTPUT_ANSWERS].shape == (2, 5)
        assert sorted(result[serving.OUTPUT_ANSWERS].numpy()[0].tolist()) == sorted(candidates.numpy()[0].tolist())
        np.testing.assert_allclose(result[serving.OUTPUT_PROBABILITIES].numpy().sum(axis=1), 1.0, rtol=1e-5)
    else:
        assert serving.INPUT_CANDIDATES not in inputs and serving.OUTPUT_COUNT in outputs
        result = loaded.signatures[serving.SIGNATURE_FRAMES](frames=frames, question=tf.constant(["how many?"]))
        low, high = storage.read_json(os.path.join(model_dir, storage.EXPORT_DIR, storage.EXPORT_EXTRA_DIR,
                                                   storage.EXPORT_CONFIG_FILE))["export"]["count_range"]
        assert low <= float(result[serving.OUTPUT_COUNT].numpy()[0]) <= high


def test_predict_ranks_the_candidates_or_prints_the_count(model_dir, task, tgif_dataset, capsys):
    row = first_test_row(tgif_dataset, task)
    video = os.path.join(tgif_dataset, "videos", f"{row['gif_name']}.gif")
    arguments = ["--model_dir", model_dir, "--video", video, "--question", row["question"]]
    if task == schema.TASK_MULTIPLE_CHOICE:
        candidates = [row[f"a{index}"] for index in range(1, 6)]
        arguments += [flag for candidate in candidates for flag in ("--candidate", candidate)]
    capsys.readouterr()
    assert predict.run([*arguments, "--json"]) == 0  # In this process: test_model_export.py runs the command.
    [answer] = json.loads(capsys.readouterr().out)
    if task == schema.TASK_MULTIPLE_CHOICE:
        ranked = [entry["answer"] for entry in answer["answers"]]
        assert sorted(ranked) == sorted(candidates)
        probabilities = [entry["probability"] for entry in answer["answers"]]
        assert probabilities == sorted(probabilities, reverse=True) and abs(sum(probabilities) - 1) < 1e-4
    else:
        assert isinstance(answer["count"], float)
        assert answer["answers"][0]["answer"] == str(int(round(answer["count"])))


def test_predict_refuses_candidates_that_do_not_fit_the_model(model_dir, task, tgif_dataset, capsys):
    row = first_test_row(tgif_dataset, task)
    video = os.path.join(tgif_dataset, "videos", f"{row['gif_name']}.gif")
    capsys.readouterr()
    status = predict.run(["--model_dir", model_dir, "--video", video, "--question", "what?",
                          "--candidate", "one", "--candidate", "two"])
    assert status == 2
    error = capsys.readouterr().err
    if task == schema.TASK_MULTIPLE_CHOICE:
        assert "give exactly 5 candidates (got 2)" in error
    else:
        assert "candidates are only for a multiple-choice model" in error


def test_mixing_files_of_different_tasks_is_refused_before_any_work(tgif_dataset, tmp_path):
    output_dir = str(tmp_path / "out")
    completed = shared_runs.run_pipeline_in_process([
        "--annotations", os.path.join(tgif_dataset, "Train_*_question.csv"),
        "--video_dir", os.path.join(tgif_dataset, "videos"), "--output_dir", output_dir, *PIPELINE_FLAGS])
    assert completed["returncode"] == 2
    error = shared_runs.error_line(completed["stderr"])
    assert "Train_count_question.csv" in error and "Train_transition_question.csv" in error
    assert not os.path.exists(output_dir)
