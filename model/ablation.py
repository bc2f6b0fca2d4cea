"""The ablation table: accuracy of several trained models side by side, by question group.

    python -m model.ablation --model_dir lstm=M1 --model_dir mean=M2 --model_dir none=M3 \
        [--split test] [--question_groups D/question_groups.json] [--output table.md]

Reads each model's `M/eval/<split>.json` (written by `python -m model.evaluate`)
and prints one row per model: accuracy on every question group, then overall,
with the number of questions. `--question_groups` is a JSON object mapping a
group name to the question types in it (`pipeline.synthetic` writes one that
separates order questions from single-frame questions); without it every
question type is its own group.

If the order-aware model beats the bag-of-frames model only on the order
group, and the question-only model is near chance there, the questions do
need temporal modelling.
"""

if __name__ == "__main__":
    import sys as _sys

    from features import console as _console
    _console.quiet_tensorflow_startup(_sys.argv[1:])

import argparse
import sys

from features import cli, schema
from model import storage

OVERALL_GROUP = "all"


def parse_labelled_dir(value):
    """'name=path' -> (name, path)."""
    name, separator, path = value.partition("=")
    if not separator or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=MODEL_DIR, got {value!r}")
    return name, path


def read_results(model_dir, split):
    path = storage.join(model_dir, storage.EVAL_DIR, f"{split}.json")
    if not storage.exists(path):
        raise ValueError(f"{path} does not exist: run `python -m model.evaluate --data_dir OUT "
                         f"--model_dir {model_dir} --split {split}` first")
    return storage.read_json(path)


def read_groups(path, question_types):
    """{group: [types]} from the file, or one group per question type."""
    if not path:
        return {question_type: [question_type] for question_type in sorted(question_types)}
    if not storage.exists(path):
        raise ValueError(f"--question_groups {path} does not exist")
    groups = storage.read_json(path)
    if not isinstance(groups, dict) or not all(isinstance(types, list) for types in groups.values()):
        raise ValueError(f"--question_groups {path}: expected an object of group name -> list of types")
    return groups


def group_accuracy(results, question_types):
    """(correct, questions) over the given question types of one evaluation."""
    correct = questions = 0
    for question_type in question_types:
        row = results["per_type"].get(question_type)
        if row:
            correct += row["correct"]
            questions += row["questions"]
    return correct, questions


def group_mse(results, question_types):
    """Count models: the mean squared error over the given question types (None without questions)."""
    rows = [results["per_type"][name] for name in question_types if name in results["per_type"]]
    questions = sum(row["questions"] for row in rows)
    return sum(row["mse"] * row["questions"] for row in rows) / questions if questions else None


def ablation_rows(named_results, groups):
    """[(model name, {group: (correct, questions[, mse])})], the last group being all questions.

    A count model's cells carry the MSE too (TGIF-QA's metric), after its rounded accuracy.
    """
    rows = []
    for name, results in named_results:
        count = results.get("task") == schema.TASK_COUNT
        cells = {group: group_accuracy(results, types) + ((group_mse(results, types),) if count else ())
                 for group, types in groups.items()}
        cells[OVERALL_GROUP] = (results["overall"]["correct"], results["overall"]["questions"]) + (
            (results["overall"]["mse"],) if count else ())
        rows.append((name, cells))
    return rows


def format_table(rows, split):
    groups = list(rows[0][1]) if rows else [OVERALL_GROUP]
    # A group without questions in this split (say, single-frame ones in a Transition file) gets no column.
    groups = [group for group in groups if group == OVERALL_GROUP or any(cells[group][1] for _, cells in rows)]
    lines = [f"Ablation on the {split} split: accuracy (correct / questions); count models: MSE first", "",
             "| video encoder | " + " | ".join(groups) + " |",
             "|---|" + "---:|" * len(groups)]
    for name, cells in rows:
        formatted = []
        for group in groups:
            correct, questions, *mse = cells[group]
            accuracy = f"{100.0 * correct / questions:.1f}%" if questions else "n/a"
            error = f"MSE {mse[0]:.2f}, " if mse and mse[0] is not None else ""
            formatted.append(f"{error}{accuracy} ({correct}/{questions})")
        lines.append(f"| {name} | " + " | ".join(formatted) + " |")
    return "\n".join(lines) + "\n"


def run(argv=None):
    parser = cli.StrictArgumentParser(prog="python -m model.ablation",
                                     description="Compare evaluated models by question group.")
    parser.add_argument("--model_dir", action="append", type=parse_labelled_dir, required=True,
                        metavar="NAME=MODEL_DIR", help="an evaluated model dir and its row label (repeat)")
    parser.add_argument("--split", default="test", help="which M/eval/<split>.json to read")
    parser.add_argument("--question_groups", default=None,
                        help="JSON file {group: [question types]} (e.g. D/question_groups.json)")
    parser.add_argument("--output", default=None, help="also write the Markdown table here")
    cli.add_verbose_flag(parser)
    args = parser.parse_args(argv)
    try:
        named_results = [(name, read_results(model_dir, args.split)) for name, model_dir in args.model_dir]
        question_types = {question_type for _, results in named_results for question_type in results["per_type"]}
        groups = read_groups(args.question_groups, question_types)
    except ValueError as error:
        print(f"model.ablation: error: {error}", file=sys.stderr)
        return 2
    table = format_table(ablation_rows(named_results, groups), args.split)
    print(table)
    if args.output:
        storage.write_text(args.output, table)
    return 0


if __name__ == "__main__":
    sys.exit(run())
