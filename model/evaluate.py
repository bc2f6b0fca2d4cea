"""Evaluate a trained model on one split with the benchmark's own metric, overall and per type.

    python -m model.evaluate --data_dir OUT --model_dir M [--split test]

Every question of the split counts. Open-ended: accuracy; answers outside
the answer vocabulary are always wrong, and the report states the vocabulary
ceiling (the share of the split's answers that are in the vocabulary).
Multiple choice: accuracy. Count: mean squared error (TGIF-QA's metric) of
the prediction clipped to the training range, and the accuracy of the
rounded prediction. Per-type tables use the data set's own type names, and
NExT-QA's types are also grouped (Causal, Temporal, Descriptive; see
`model.report`). Writes M/eval/<split>.json (`overall.accuracy`, plus
`overall.mse` for count), M/eval/<split>.md (the table, also printed) and PNG
plots. Refuses a missing model dir or data dir, and a data dir whose schema,
task, vocabularies or features differ from the model's.
"""

if __name__ == "__main__":
    import sys as _sys

    from features import console as _console
    _console.quiet_tensorflow_startup(_sys.argv[1:])

import collections
import sys

import numpy as np

from features import cli, schema
from model import callbacks as callbacks_lib
from model import checkpoint, data, report, storage
from model import config as config_lib

DEFAULT_BATCH_SIZE = 256


def _text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def predict_split(model, info, split, batch_size=DEFAULT_BATCH_SIZE, verbose=1):
    """Per-question rows: question_id, video_id, question_type, label, prediction, correct."""
    import tensorflow as tf
    import tf_keras as keras
    from model import network
    spec = data.InputSpec.from_data_info(info)
    dataset = data.make_dataset(info.data_dir, split, spec, batch_size, keep_metadata=True)
    predict = tf.function(lambda inputs: network.answer_output(model(inputs, training=False)),
                          reduce_retracing=True)
    progress = keras.utils.Progbar(data.count_examples(info.data_dir, split), unit_name="question", verbose=verbose)
    rows = []
    for batch in dataset:
        outputs = predict({key: batch[key] for key in spec.input_keys}).numpy()
        labels = batch[schema.LABEL_KEY].numpy()
        if info.task == schema.TASK_COUNT:
            low, high = info.count_range
            predictions = np.clip(outputs.astype(np.float64), low, high)
            correct = [np.round(prediction) == label for prediction, label in zip(predictions, labels)]
        else:
            predictions = np.argmax(outputs, axis=-1)
            correct = [label >= 0 and label == prediction for prediction, label in zip(predictions, labels)]
        for index, label in enumerate(labels):
            rows.append({
                "question_id": _text(batch[schema.QUESTION_ID_KEY][index].numpy()),
                "video_id": _text(batch[schema.VIDEO_ID_KEY][index].numpy()),
                "question_type": _text(batch[schema.QUESTION_TYPE_KEY][index].numpy()),
                "label": int(label), "prediction": float(predictions[index]) if info.task == schema.TASK_COUNT
                else int(predictions[index]), "correct": bool(correct[index])})
        progress.add(len(labels))
    return rows


def _scores(rows, task):
    scores = {"questions": len(rows), "correct": sum(int(row["correct"]) for row in rows)}
    scores["accuracy"] = scores["correct"] / len(rows) if rows else 0.0
    if task == schema.TASK_COUNT:
        scores["mse"] = float(np.mean([(row["prediction"] - row["label"]) ** 2 for row in rows])) if rows else 0.0
    return scores


def summarize(rows, split, weights, task):
    """The benchmark's metric overall, per question type and per type group."""
    by_type = collections.defaultdict(list)
    for row in rows:
        by_type[row["question_type"]].append(row)
    results = {
        "split": split, "weights": weights, "task": task,
        "metric": "mse" if task == schema.TASK_COUNT else "accuracy",
        "overall": _scores(rows, task),
        "per_type": {question_type: _scores(type_rows, task) for question_type, type_rows in sorted(by_type.items())},
        "groups": {group: _scores([row for row in rows if row["question_type"] in types], task)
                   for group, types in report.type_groups(by_type).items()},
    }
    if task == schema.TASK_OPEN_ENDED:
        out_of_vocabulary = sum(1 for row in rows if row["label"] < 0)
        results["out_of_vocabulary"] = out_of_vocabulary
        results["vocabulary_ceiling"] = (len(rows) - out_of_vocabulary) / len(rows) if rows else 0.0
    return results


def write_reports(model_dir, results):
    """M/eval/<split>.json, .md and the PNG plots; returns the paths written."""
    eval_dir = storage.join(model_dir, storage.EVAL_DIR)
    storage.make_dirs(eval_dir)
    split = results["split"]
    paths = {"json": storage.join(eval_dir, f"{split}.json"),
             "markdown": storage.join(eval_dir, f"{split}.md"),
             "type_plot": storage.join(eval_dir, f"{split}_{results['metric']}_by_type.png"),
             "curves_plot": storage.join(eval_dir, "training_curves.png")}
    storage.write_json(paths["json"], results)
    storage.write_text(paths["markdown"], report.results_table(results))
    report.plot_by_type(results, paths["type_plot"])
    if not report.plot_training_curves(callbacks_lib.read_history(model_dir), paths["curves_plot"]):
        del paths["curves_plot"]
    return paths


def evaluate(model_dir, data_dir, split, batch_size=DEFAULT_BATCH_SIZE, weights_path=None, verbose=1):
    """Evaluate, write the reports; returns (results dict, report paths)."""
    from model import data_info  # Imports tf.Transform.
    if split not in schema.SPLITS:
        raise ValueError(f"--split {split!r}: choose one of {', '.join(schema.SPLITS)}")
    config_lib.check_model_dir(model_dir)
    info = data_info.load_data_info(data_dir)
    model, _, weights_path = checkpoint.load_trained_model(model_dir, info, weights_path)
    data.record_files(data_dir, split)  # Refuses a split with no records before any work.
    rows = predict_split(model, info, split, batch_size, verbose)
    results = summarize(rows, split, weights_path, info.task)
    results["data_dir"] = data_dir
    return results, write_reports(model_dir, results)


def run(argv=None):
    parser = cli.StrictArgumentParser(
        prog="python -m model.evaluate", description="Evaluate a trained VideoQA model on one split.")
    parser.add_argument("--data_dir", required=True, help="output dir of `python -m pipeline.run`")
    parser.add_argument("--model_dir", required=True, help="the --model_dir of a training run")
    parser.add_argument("--split", default=schema.TEST_SPLIT, choices=schema.SPLITS)
    parser.add_argument("--batch_size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--weights", default=None, help=f"weights file (default: M/{storage.BEST_WEIGHTS_FILE})")
    cli.add_verbose_flag(parser)
    args = parser.parse_args(argv)
    try:
        results, paths = evaluate(args.model_dir, args.data_dir, args.split, args.batch_size,
                                  args.weights, verbose=1 if sys.stdout.isatty() else 0)
    except ValueError as error:
        print(f"model.evaluate: error: {error}", file=sys.stderr)
        return 2
    print(report.results_table(results))
    print("wrote " + ", ".join(paths.values()))
    return 0


if __name__ == "__main__":
    sys.exit(run())
