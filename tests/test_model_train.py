"""Training on the synthetic records: the loss falls, frame order is learnt, outputs on disk.

The synthetic set's order questions ("size_change", "appearance", "loading")
come in reversal twins (videos 2k and 2k+1) that share the question text: a
question-only model cannot beat 50% on them, and a bag-of-frames (mean) model
sees the same input for both twins. Comparisons are made on the training split,
which a small model can fit in seconds, whatever the held-out splits' size.
"""

import collections
import glob
import os

import pytest

from features import schema
from model import callbacks, checkpoint, data_info, evaluate, storage, train
from pipeline.synthetic import ORDER_QUESTION_TYPES

import model_helpers

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(pipeline_output, tmp_path_factory):
    models = {encoder: model_helpers.trained_model_dir(pipeline_output, tmp_path_factory, encoder)
              for encoder in ("mean", "none")}
    return dict(models, lstm=model_helpers.exported_model(pipeline_output, tmp_path_factory))


@pytest.fixture(scope="module")
def train_rows(pipeline_output, trained):
    """Per-question predictions of each model (final weights) on the training split."""
    info = data_info.load_data_info(pipeline_output)
    rows = {}
    for encoder, model_dir in trained.items():
        model, _, _ = checkpoint.load_trained_model(
            model_dir, info, storage.join(model_dir, storage.FINAL_WEIGHTS_FILE))
        rows[encoder] = evaluate.predict_split(model, info, schema.TRAIN_SPLIT, verbose=0)
    return rows


def order_accuracy(rows):
    order = [row for row in rows if row["question_type"] in ORDER_QUESTION_TYPES]
    assert order, "the synthetic training split has no order questions"
    return sum(row["correct"] for row in order) / len(order)


def twin_accuracy(rows):
    """Fraction of reversal-twin pairs whose order questions are both answered right."""
    pairs = collections.defaultdict(list)
    for row in rows:
        if row["question_type"] in ORDER_QUESTION_TYPES:
            pairs[int(row["video_id"]) // 2].append(row["correct"])
    complete = [answers for answers in pairs.values() if len(answers) == 2]
    assert complete, "no complete reversal twins in the training split"
    return sum(all(answers) for answers in complete) / len(complete)


def test_training_lowers_the_loss_and_writes_its_outputs(trained, pipeline_output):
    model_dir = trained["lstm"]
    history = callbacks.read_history(model_dir)
    epochs = model_helpers.epochs_for(pipeline_output)
    assert [entry["epoch"] for entry in history["epochs"]] == list(range(1, epochs + 1))
    assert history["completed"] is True
    losses = [entry["loss"] for entry in history["epochs"]]
    assert losses[-1] < 0.5 * losses[0]
    assert all(entry["examples_per_second"] > 0 for entry in history["epochs"])
    for name in (storage.CONFIG_FILE, storage.BEST_WEIGHTS_FILE, storage.FINAL_WEIGHTS_FILE,
                 storage.BEST_STATE_FILE):
        assert os.path.exists(os.path.join(model_dir, name)), name
    assert len(glob.glob(os.path.join(model_dir, storage.CHECKPOINTS_DIR, "*.weights.h5"))) == epochs
    assert glob.glob(os.path.join(model_dir, storage.LOGS_DIR, "train", "events.out.tfevents.*"))
    assert not os.path.exists(os.path.join(model_dir, storage.BACKUP_DIR))
    best = storage.read_json(os.path.join(model_dir, storage.BEST_STATE_FILE))
    validation = [entry.get(best["monitor"]) for entry in history["epochs"]]
    assert best["value"] == pytest.approx(max(validation))


def test_lstm_beats_the_question_only_baseline_on_order_questions(train_rows):
    lstm, question_only = order_accuracy(train_rows["lstm"]), order_accuracy(train_rows["none"])
    print(f"order questions, training split: lstm {lstm:.3f}, question-only {question_only:.3f}")
    assert question_only <= 0.5 + 1e-9  # Twins share the question: it cannot do better.
    assert lstm >= 0.8
    assert lstm >= question_only + 0.25


def test_lstm_beats_mean_on_reversal_twins(train_rows):
    lstm, mean = twin_accuracy(train_rows["lstm"]), twin_accuracy(train_rows["mean"])
    print(f"reversal twins both right, training split: lstm {lstm:.3f}, mean {mean:.3f}")
    assert mean <= 0.25
    assert lstm >= mean + 0.5


def test_single_frame_questions_are_learnt_by_both_video_encoders(train_rows):
    for encoder in ("lstm", "mean"):
        single = [row for row in train_rows[encoder] if row["question_type"] not in ORDER_QUESTION_TYPES]
        assert sum(row["correct"] for row in single) / len(single) >= 0.8, encoder


def test_a_finished_run_is_not_repeated_and_another_configuration_is_refused(
        trained, pipeline_output, capsys):
    model_dir = trained["lstm"]
    flags = model_helpers.train_flags(pipeline_output, model_dir, "lstm")
    assert train.run(flags + ["--no_export"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert train.run(model_helpers.train_flags(pipeline_output, model_dir, "mean") + ["--no_export"]) == 2
    error = capsys.readouterr().err
    assert "network.video_encoder: saved 'lstm', now 'mean'" in error
    assert "new --model_dir" in error and "Traceback" not in error
