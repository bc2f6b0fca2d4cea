"""Child: test accuracy of trained models, through the project's own evaluation.

    python -m benchmarks.accuracy --json_out F --model NAME MODEL_DIR DATA_DIR [--model ...]
        [--split test]

Calls `model.evaluate.evaluate` (best weights on the validation split, every
question of the split counted) for each model in one process.
"""

import argparse

from benchmarks import commands


def measure(models, split):
    from model import evaluate

    results = {}
    for name, model_dir, data_dir in models:
        summary, _ = evaluate.evaluate(model_dir, data_dir, split, verbose=0)
        results[name] = {"split": split, "model_dir": model_dir, "data_dir": data_dir,
                         "accuracy": summary["overall"]["accuracy"],
                         "questions": summary["overall"]["questions"],
                         "correct": summary["overall"]["correct"],
                         "per_type": {kind: round(values["accuracy"], 4)
                                      for kind, values in summary["per_type"].items()}}
    return results


def run(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.accuracy", description=__doc__.split("\n")[0])
    parser.add_argument("--json_out", required=True)
    parser.add_argument("--model", nargs=3, action="append", required=True,
                        metavar=("NAME", "MODEL_DIR", "DATA_DIR"))
    parser.add_argument("--split", default="test")
    args = parser.parse_args(argv)
    result = measure(args.model, args.split)
    commands.write_result(args.json_out, result)
    return result


if __name__ == "__main__":
    run()
