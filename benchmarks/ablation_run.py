"""The encoder ablation, end to end: synthetic kinds -> pipeline -> every video encoder -> one table.

    python -m benchmarks.ablation_run --output_dir D [--quick] [--seed 0] [--encoders lstm,attention,...]

For each data set (the demo's MSRVTT-QA clips, open-ended, with their order
and single-frame questions; the demo's TGIF-QA Transition clips, multiple
choice; and every harder kind of `pipeline.synthetic_kinds`) this writes the
synthetic data (D/data/), runs `pipeline.run` once (D/records/<data set>),
trains every encoder with the same seed and sizes (D/models/<data set>/<encoder>,
`model.train`), evaluates it on the test split (`model.evaluate`) and writes
D/ablation.md and D/ablation.json: per task and kind, each encoder's test
accuracy (for count also the MSE), its parameter count and its median
training seconds per epoch on this machine, the goals checked, and the seeds.
The entry points run in this process; a step whose output exists is skipped,
so an interrupted run continues where it stopped. --quick is a smoke test
(tiny clips, one epoch): its numbers mean nothing.
"""

if __name__ == "__main__":
    import sys as _sys

    from features import console as _console
    _console.quiet_tensorflow_startup(_sys.argv[1:])

import dataclasses
import json
import os
import statistics
import sys
import time

from features import cli, schema
from model import ablation, storage

ENCODERS = ("lstm", "attention", "transformer", "mean", "none")
NEW_ENCODERS = ("attention", "transformer")
DEMO, DEMO_CHOICE = "demo", "demo_choice"
ORDER_GROUP = "order"
GOAL_ACCURACY = 0.95   # Below this lstm accuracy, the best new encoder must close half the gap to 100%.
CNN_WEIGHTS = "random"
RESULTS_MARKDOWN, RESULTS_JSON = "ablation.md", "ablation.json"


@dataclasses.dataclass(frozen=True)
class RunSizes:
    """How big the data and the training are (clips per data set; epochs, batch of every encoder)."""

    num_videos: int
    width: int
    height: int
    demo_seconds: float
    demo_frames: int       # frames sampled from a demo clip (the kinds sample every frame)
    epochs: int
    batch_size: int
    units: int             # --video_units and --hidden_units of every encoder (transformer: its own width)
    image_size: int = 75   # InceptionV3's smallest input


FULL = RunSizes(num_videos=200, width=96, height=72, demo_seconds=2.0, demo_frames=16, epochs=20, batch_size=16,
                units=128)
QUICK = RunSizes(num_videos=8, width=64, height=48, demo_seconds=0.5, demo_frames=6, epochs=1, batch_size=4,
                 units=16)


@dataclasses.dataclass(frozen=True)
class DataSet:
    """One pipeline run: where its files are, how the pipeline reads them, its task and table rows."""

    name: str
    task: str
    data_dir: str
    annotations: str        # glob, relative to data_dir
    video_pattern: object   # --video_pattern, or None
    frames_per_video: int
    groups: dict            # {row label: [question types]}


def _read_groups(data_dir, only=None):
    """{group: [question types]} of a synthetic data set (only the groups named in `only`, if given)."""
    from pipeline import synthetic
    groups = storage.read_json(os.path.join(data_dir, synthetic.QUESTION_GROUPS_FILE))
    return {name: types for name, types in groups.items() if only is None or name in only}


def make_data(data_root, sizes, seed, kinds):
    """Write the synthetic data (unless there) and return the DataSets, demo ones first."""
    from pipeline import synthetic, synthetic_hard
    demo_dir, choice_dir = os.path.join(data_root, DEMO), os.path.join(data_root, DEMO_CHOICE)
    common = dict(width=sizes.width, height=sizes.height, seconds=sizes.demo_seconds)
    if not os.path.exists(os.path.join(demo_dir, synthetic.QUESTION_GROUPS_FILE)):
        synthetic.generate(demo_dir, sizes.num_videos, seed, layout=synthetic.DEFAULT_LAYOUT, **common)
    if not os.path.exists(os.path.join(choice_dir, synthetic.QUESTION_GROUPS_FILE)):
        synthetic.generate(choice_dir, sizes.num_videos, seed, layout="tgif_qa", **common)
    data_sets = [
        DataSet(DEMO, schema.TASK_OPEN_ENDED, demo_dir, synthetic.QA_FILE_PATTERN.format(split="*"),
                synthetic.VIDEO_FILE_PATTERN, sizes.demo_frames, _read_groups(demo_dir)),
        DataSet(DEMO_CHOICE, schema.TASK_MULTIPLE_CHOICE, choice_dir,
                synthetic.LAYOUTS["tgif_qa"].file_pattern.format(split="*", task="transition"), None,
                sizes.demo_frames, _read_groups(choice_dir, only=(ORDER_GROUP,))),
    ]
    kinds_dir = os.path.join(data_root, "kinds")
    kinds_file = os.path.join(kinds_dir, synthetic_hard.KINDS_FILE)
    if kinds and not (os.path.exists(kinds_file) and list(storage.read_json(kinds_file)["kinds"]) == list(kinds)):
        synthetic_hard.generate_kinds(kinds_dir, kinds, sizes.num_videos, seed, sizes.width, sizes.height)
    for name, entry in (storage.read_json(kinds_file)["kinds"].items() if kinds else ()):
        kind_dir = os.path.join(kinds_dir, entry["directory"])
        data_sets.append(DataSet(name, entry["task"], kind_dir, entry["annotations"], entry["video_pattern"],
                                 entry["frames_per_video"], _read_groups(kind_dir)))
    return data_sets


def run_pipeline(data_set, records_dir, sizes):
    """`pipeline.run` on one data set, unless its records exist; returns the argv."""
    argv = ["--annotations", os.path.join(data_set.data_dir, data_set.annotations),
            "--video_dir", os.path.join(data_set.data_dir, "videos"), "--output_dir", records_dir,
            "--cnn_weights", CNN_WEIGHTS, "--image_size", str(sizes.image_size),
            "--frames_per_video", str(data_set.frames_per_video)]
    if data_set.video_pattern:
        argv += ["--video_pattern", data_set.video_pattern]
    if not os.path.exists(os.path.join(records_dir, schema.MANIFEST_FILE)):
        from pipeline import run as pipeline_run
        pipeline_run.run(argv)
    return argv


def train_and_evaluate(records_dir, model_dir, encoder, sizes, seed):
    """`model.train` then `model.evaluate` on the test split (each unless done); returns the train argv."""
    import tf_keras as keras
    from model import evaluate, train
    argv = ["--data_dir", records_dir, "--model_dir", model_dir, "--video_encoder", encoder,
            "--epochs", str(sizes.epochs), "--batch_size", str(sizes.batch_size), "--seed", str(seed),
            "--video_units", str(sizes.units), "--hidden_units", str(sizes.units),
            "--progress", "none", "--no_export", "--cache_input", "memory"]
    from model import callbacks
    if not callbacks.read_history(model_dir).get("completed") and train.run(argv):
        raise ValueError(f"model.train failed (see above): python -m model.train {' '.join(argv)}")
    if not os.path.exists(os.path.join(model_dir, storage.EVAL_DIR, f"{schema.TEST_SPLIT}.json")):
        if evaluate.run(["--data_dir", records_dir, "--model_dir", model_dir, "--split", schema.TEST_SPLIT]):
            raise ValueError(f"model.evaluate failed on {model_dir} (see above)")
    keras.backend.clear_session()
    return argv


def parameter_count(weights_path):
    """Weights in a Keras .weights.h5 file (its `layers` group: what count_params() counts, no optimizer)."""
    import h5py
    import numpy as np
    sizes = []
    with h5py.File(weights_path, "r") as weights_file:
        weights_file["layers"].visititems(
            lambda name, item: sizes.append(int(np.prod(item.shape))) if isinstance(item, h5py.Dataset) else None)
    return sum(sizes)


def model_facts(model_dir):
    """(test results, parameter count, median training seconds per epoch) of a trained, evaluated model."""
    from model import checkpoint
    epochs = storage.read_json(os.path.join(model_dir, storage.HISTORY_FILE))["epochs"]
    seconds = statistics.median(epoch["epoch_seconds"] for epoch in epochs[1:] or epochs)  # 1st: tracing.
    return (ablation.read_results(model_dir, schema.TEST_SPLIT), parameter_count(checkpoint.weights_to_use(model_dir)),
            seconds)


def cell(results, types, task):
    """{questions, accuracy[, mse]} of one encoder over some question types."""
    correct, questions = ablation.group_accuracy(results, types)
    values = {"questions": questions, "accuracy": correct / questions if questions else None}
    if task == schema.TASK_COUNT:
        values["mse"] = ablation.group_mse(results, types)
    return values


def check_goals(rows):
    """The issue's goals, each with the numbers it was judged on."""
    goals = []
    for row in rows:
        accuracy = {encoder: values["accuracy"] for encoder, values in row["encoders"].items()}
        if "lstm" not in accuracy or row["group"] != ORDER_GROUP and row["kind"] in (DEMO, DEMO_CHOICE):
            continue
        new = {encoder: accuracy[encoder] for encoder in NEW_ENCODERS if encoder in accuracy}
        label = f"{row['task']} / {row['kind']}" + (f" ({row['group']})" if row["group"] != row["kind"] else "")
        if row["kind"] in (DEMO, DEMO_CHOICE) and new:
            goals.append({"goal": f"{label}: no new encoder below lstm", "met": min(new.values()) >= accuracy["lstm"],
                          "lstm": accuracy["lstm"], **new})
        if accuracy["lstm"] < GOAL_ACCURACY and new:
            best = max(new, key=new.get)
            closed = (new[best] - accuracy["lstm"]) / (1 - accuracy["lstm"])
            goals.append({"goal": f"{label}: lstm below {GOAL_ACCURACY:.0%}; the best new encoder ({best}) "
                                  f"closes {closed:.0%} of the gap (half needed)", "met": closed >= 0.5,
                          "lstm": accuracy["lstm"], **new})
    return goals


def _percent(value):
    return "n/a" if value is None else f"{100 * value:.1f}%"


def format_markdown(report):
    encoders = report["encoders"]
    lines = [f"Encoder ablation on the test split (data seed {report['seeds']['data']}, training seed "
             f"{report['seeds']['training']}, CNN weights {report['seeds']['cnn_weights']}; "
             f"{report['sizes']['num_videos']} clips per data set, {report['sizes']['epochs']} epochs, "
             f"batch {report['sizes']['batch_size']}, {report['sizes']['units']} video and hidden units). "
             f"Accuracy; count: MSE (accuracy of the rounded count).", "",
             "| task | kind | questions | " + " | ".join(encoders) + " |", "|---|---|---:|" + "---:|" * len(encoders)]
    for row in report["rows"]:
        values = [row["encoders"][encoder] for encoder in encoders]
        cells = [f"{value['mse']:.2f} ({_percent(value['accuracy'])})" if "mse" in value else _percent(value["accuracy"])
                 for value in values]
        kind = row["kind"] if row["group"] == row["kind"] else f"{row['kind']} ({row['group']})"
        lines.append(f"| {row['task']} | {kind} | {values[0]['questions']} | " + " | ".join(cells) + " |")
    lines += ["", "Parameters and median training seconds per epoch (this machine):", "",
              "| data set | " + " | ".join(encoders) + " |", "|---|" + "---:|" * len(encoders)]
    for name, costs in report["costs"].items():
        lines.append(f"| {name} | " + " | ".join(
            f"{costs[encoder]['parameters']:,} · {costs[encoder]['seconds_per_epoch']:.1f} s" for encoder in encoders) + " |")
    lines += ["", "Goals:", ""] + [f"- {'met' if goal['met'] else 'NOT met'}: {goal['goal']} ("
                                   + ", ".join(f"{key} {_percent(value)}" for key, value in goal.items()
                                               if key not in ("goal", "met")) + ")" for goal in report["goals"]]
    return "\n".join(lines + ["", f"Command: {report['command']}", ""])


def run_ablation(output_dir, sizes, seed, encoders, kinds, command):
    """Every step, then the report dict (also written as ablation.md and ablation.json)."""
    started = time.perf_counter()
    report = {"command": command, "seeds": {"data": seed, "training": seed, "cnn_weights": f"{CNN_WEIGHTS}:0"},
              "sizes": dataclasses.asdict(sizes), "encoders": list(encoders), "rows": [], "costs": {}, "steps": []}
    for data_set in make_data(os.path.join(output_dir, "data"), sizes, seed, kinds):
        records_dir = os.path.join(output_dir, "records", data_set.name)
        print(f"ablation: {time.perf_counter() - started:.0f} s: {data_set.name}: pipeline", flush=True)
        report["steps"].append(["pipeline.run", run_pipeline(data_set, records_dir, sizes)])
        facts = {}
        for encoder in encoders:
            model_dir = os.path.join(output_dir, "models", data_set.name, encoder)
            print(f"ablation: {time.perf_counter() - started:.0f} s: {data_set.name}: {encoder}", flush=True)
            report["steps"].append(["model.train", train_and_evaluate(records_dir, model_dir, encoder, sizes, seed)])
            facts[encoder] = model_facts(model_dir)
        report["costs"][data_set.name] = {encoder: {"parameters": parameters, "seconds_per_epoch": seconds}
                                          for encoder, (_, parameters, seconds) in facts.items()}
        for group, types in data_set.groups.items():
            report["rows"].append({"task": data_set.task, "kind": data_set.name, "group": group, "types": types,
                                   "encoders": {encoder: cell(results, types, data_set.task)
                                                for encoder, (results, _, _) in facts.items()}})
    report["goals"] = check_goals(report["rows"])
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    report["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]  # A shared machine's load.
    storage.write_json(os.path.join(output_dir, RESULTS_JSON), report)
    storage.write_text(os.path.join(output_dir, RESULTS_MARKDOWN), format_markdown(report))
    return report


def run(argv=None):
    from pipeline import synthetic_kinds
    parser = cli.StrictArgumentParser(prog="python -m benchmarks.ablation_run", description=__doc__.split("\n")[0])
    parser.add_argument("--output_dir", required=True, help="where data, records, models and the table go")
    parser.add_argument("--quick", action="store_true", help="a smoke test: tiny clips, one epoch")
    parser.add_argument("--seed", type=int, default=0, help="the data's and every training's seed")
    parser.add_argument("--encoders", default=",".join(ENCODERS), help="comma-separated video encoders")
    parser.add_argument("--kinds", default=",".join(synthetic_kinds.KINDS), help="harder kinds besides the demo")
    parser.add_argument("--epochs", type=int, default=None, help="override the sizes' epochs")
    cli.add_verbose_flag(parser)
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.epochs:
        sizes = dataclasses.replace(sizes, epochs=args.epochs)
    encoders = tuple(name.strip() for name in args.encoders.split(",") if name.strip())
    unknown = [name for name in encoders if name not in ENCODERS]
    try:
        if unknown or not encoders:
            raise ValueError(f"--encoders {args.encoders!r}: choose from {', '.join(ENCODERS)}")
        kinds = synthetic_kinds.parse_kinds(args.kinds) if args.kinds else ()
        command = "python -m benchmarks.ablation_run " + " ".join(sys.argv[1:] if argv is None else argv)
        report = run_ablation(args.output_dir, sizes, args.seed, encoders, kinds, command)
    except ValueError as error:
        print(f"benchmarks.ablation_run: error: {error}", file=sys.stderr)
        return 2
    print(format_markdown(report))
    print(f"wrote {os.path.join(args.output_dir, RESULTS_MARKDOWN)} and {RESULTS_JSON} "
          f"in {report['wall_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(run())
