"""Evaluate a trained model on one split: accuracy overall and per question type.

    python -m model.evaluate --data_dir OUT --model_dir M [--split test]

Every question of the split counts, including those whose answer is outside
the answer vocabulary (label OUT_OF_VOCABULARY_LABEL): they are always wrong.
Writes M/eval/<split>.json, M/eval/<split>.md (the table, also printed),
M/eval/<split>_accuracy_by_type.png and M/eval/training_curves.png (from
M/history.json). Refuses a missing model dir or data dir, and a data dir whose
schema version, vocabularies or features differ from the model's.
"""

import argparse
import collections
import sys

import numpy as np
import tensorflow as tf
import tf_keras as keras

from features import schema
from model import callbacks as callbacks_lib
from model import config as config_lib
from model import data, data_info, export, report, storage

DEFAULT_BATCH_SIZE = 256


def _text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def predict_split(model, info, split, batch_size=DEFAULT_BATCH_SIZE, verbose=1):
    """Per-question rows: question_id, video_id, question_type, label, prediction, correct."""
    signature = info.signature
    dataset = data.make_dataset(
        info.data_dir, split, signature.feature_dtype, signature.max_frames,
        signature.max_question_tokens, batch_size, keep_metadata=True)
    predict = tf.function(lambda inputs: model(inputs, training=False), reduce_retracing=True)
    progress = keras.utils.Progbar(data.count_examples(info.data_dir, split),
                                   unit_name="question", verbose=verbose)
    rows = []
    for batch in dataset:
        inputs = {key: batch[key] for key in data.MODEL_INPUT_KEYS}
        predictions = np.argmax(predict(inputs).numpy(), axis=-1)
        labels = batch[schema.LABEL_KEY].numpy()
        for index, (label, prediction) in enumerate(zip(labels, predictions)):
            rows.append({
                "question_id": _text(batch[schema.QUESTION_ID_KEY][index].numpy()),
                "video_id": _text(batch[schema.VIDEO_ID_KEY][index].numpy()),
                "question_type": _text(batch[schema.QUESTION_TYPE_KEY][index].numpy()),
                "label": int(label), "prediction": int(prediction),
                "correct": bool(label >= 0 and label == prediction)})
        progress.add(len(labels))
    return rows


def summarize(rows, split, weights):
    """Accuracy overall and per question type from per-question rows."""
    per_type = collections.defaultdict(lambda: {"questions": 0, "correct": 0})
    for row in rows:
        counts = per_type[row["question_type"]]
        counts["questions"] += 1
        counts["correct"] += int(row["correct"])
    for counts in per_type.values():
        counts["accuracy"] = counts["correct"] / counts["questions"]
    correct = sum(int(row["correct"]) for row in rows)
    return {
        "split": split, "weights": weights,
        "overall": {"questions": len(rows), "correct": correct,
                    "accuracy": correct / len(rows) if rows else 0.0},
        "per_type": dict(sorted(per_type.items())),
        "out_of_vocabulary": sum(1 for row in rows if row["label"] < 0),
    }


def write_reports(model_dir, results):
    """M/eval/<split>.json, .md and the PNG plots; returns the paths written."""
    eval_dir = storage.join(model_dir, storage.EVAL_DIR)
    storage.make_dirs(eval_dir)
    split = results["split"]
    paths = {"json": storage.join(eval_dir, f"{split}.json"),
             "markdown": storage.join(eval_dir, f"{split}.md"),
             "accuracy_plot": storage.join(eval_dir, f"{split}_accuracy_by_type.png"),
             "curves_plot": storage.join(eval_dir, "training_curves.png")}
    storage.write_json(paths["json"], results)
    storage.write_text(paths["markdown"], report.accuracy_table(results))
    report.plot_accuracy_by_type(results, paths["accuracy_plot"])
    if not report.plot_training_curves(callbacks_lib.read_history(model_dir), paths["curves_plot"]):
        del paths["curves_plot"]
    return paths


def evaluate(model_dir, data_dir, split, batch_size=DEFAULT_BATCH_SIZE, weights_path=None, verbose=1):
    """Evaluate, write the reports; returns (results dict, report paths)."""
    if split not in schema.SPLITS:
        raise ValueError(f"--split {split!r}: choose one of {', '.join(schema.SPLITS)}")
    config_lib.check_model_dir(model_dir)
    info = data_info.load_data_info(data_dir)
    model, _, weights_path = export.load_trained_model(model_dir, info, weights_path)
    data.record_files(data_dir, split)  # Refuses a split with no records before any work.
    rows = predict_split(model, info, split, batch_size, verbose)
    results = summarize(rows, split, weights_path)
    results["data_dir"] = data_dir
    return results, write_reports(model_dir, results)


def run(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m model.evaluate", description="Evaluate a trained VideoQA model on one split.")
    parser.add_argument("--data_dir", required=True, help="output dir of `python -m pipeline.run`")
    parser.add_argument("--model_dir", required=True, help="the --model_dir of a training run")
    parser.add_argument("--split", default=schema.TEST_SPLIT, choices=schema.SPLITS)
    parser.add_argument("--batch_size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--weights", default=None,
                        help=f"weights file (default: M/{storage.BEST_WEIGHTS_FILE})")
    args = parser.parse_args(argv)
    try:
        results, paths = evaluate(args.model_dir, args.data_dir, args.split, args.batch_size,
                                  args.weights, verbose=1 if sys.stdout.isatty() else 0)
    except ValueError as error:
        print(f"model.evaluate: error: {error}", file=sys.stderr)
        return 2
    print(report.accuracy_table(results))
    print("wrote " + ", ".join(paths.values()))
    return 0


if __name__ == "__main__":
    sys.exit(run())
