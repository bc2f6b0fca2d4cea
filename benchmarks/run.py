"""`python -m benchmarks.run` (or `make bench`): measure, then write results.json and results.md.

    python -m benchmarks.run [--num_videos 32] [--image_size 96] [--batch_size 32]
        [--frames_per_video 16] [--epochs 15] [--output_dir benchmarks/work]
        [--results_dir benchmarks] [--baseline benchmarks/baseline.json] [--quick]

Runs, in one go and on this machine, the project's real commands on
synthetic data sets of N and 4N videos (N = --num_videos) and the reference
measurements beside them (see `benchmarks/__init__.py` for the modules):

  1 feature extraction   pipeline.run frames/s vs the bare CNN (batched; per frame),
                         in-process and with one multi_processing worker
  2 scaling              --direct_num_workers 1 vs 2 (multi_processing): speed, memory
  3 training input       examples/s from the records vs the same batches from memory
                         (3 and 12 questions per video; with and without the input cache)
  4 precomputed          our trainer's epoch vs TimeDistributed(InceptionV3) on raw frames
  5 storage              bytes per video by --feature_dtype; uint8's accuracy cost
  6 memory               peak memory of pipeline and trainer at N and 4N videos
  7 latency              answering a 10-second clip vs the CNN alone on its frames
  full size              1 and 7 again at InceptionV3's own input size (299x299) on
                         N/4 and N videos: the pipeline's steady state and the
                         answering latency against the bare CNN at that size

The CNN uses random weights (no internet for ImageNet's): speed does not
depend on weight values, accuracy does (it is compared between storage
formats only). Scratch data goes to --output_dir (reused data sets, fresh
pipeline outputs and models). --quick: N=10, fewer epochs, shorter timings
(a smoke test of the benchmark itself, minutes; figures are noisier).
"""

import argparse
import json
import os
import shutil
import sys
import time

from benchmarks import analysis, commands, datasets, machine, notes, pipeline_runs, procs, report

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
QUESTION_COPIES = 4   # The extra-questions data set holds 4x the questions of the N set.
CLIP_SECONDS = 10.0
FULL_IMAGE_SIZE = 299  # InceptionV3's own input size (the pipeline's default --image_size).


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--num_videos", type=int, default=None,
        help="N: videos of the small set (the large set has 4N); default 32, 10 with --quick")
    add("--image_size", type=int, default=96, help="CNN input size for every measurement")
    add("--batch_size", type=int, default=32, help="frames per CNN call (pipeline and bare CNN)")
    add("--frames_per_video", type=int, default=16)
    add("--train_batch_size", type=int, default=None,
        help="questions per training step (default 32, 16 with --quick)")
    add("--epochs", type=int, default=None, help="epochs of the trainer runs (default 15, 4 with --quick)")
    add("--seed", type=int, default=0, help="seed of the synthetic data and of training")
    add("--output_dir", default=os.path.join(BENCH_DIR, "work"), help="scratch directory")
    add("--results_dir", default=BENCH_DIR, help="where results.json and results.md go")
    add("--baseline", default=os.path.join(BENCH_DIR, "baseline.json"),
        help="an earlier results.json to show beside this run (before/after); ignored if missing")
    add("--quick", action="store_true", help="small and short: checks the benchmark runs")
    add("--keep_scratch", action="store_true", help="keep pipeline outputs and models afterwards")
    add("--from_raw", default=None,
        help="measure nothing: rebuild the figures and tables from the raw part of a results.json")
    return parser


def settings_from_args(args):
    quick = args.quick
    num_videos = args.num_videos or (10 if quick else 32)
    if num_videos < 6 or num_videos % 2:
        raise ValueError(f"--num_videos must be even and at least 6 (three twin pairs), got {num_videos}")
    return {
        "quick": quick, "num_videos": num_videos, "num_videos_large": 4 * num_videos,
        "image_size": args.image_size, "inference_batch_size": args.batch_size,
        "frames_per_video": args.frames_per_video,
        "train_batch_size": args.train_batch_size or (16 if quick else 32),
        "epochs": args.epochs or (4 if quick else 15), "seed": args.seed,
        "cnn_weights": commands.CNN_WEIGHTS, "question_copies": QUESTION_COPIES,
        "clip_seconds": CLIP_SECONDS,
        "cnn_seconds": 3.0 if quick else 8.0, "per_frame_seconds": 2.0 if quick else 4.0,
        "projection_image_size": 299,
        "training_input": {"steps": 10, "epochs": 3, "rounds": 2 if quick else 6},
        "end_to_end_steps": 1 if quick else 3, "latency_repeats": 3 if quick else 7,
        "pipeline_repeats": 1 if quick else 2,
        "full_size": {"image_size": FULL_IMAGE_SIZE, "num_videos": max(6, num_videos // 8 * 2),
                      "num_videos_large": num_videos, "epochs": 2, "cnn_seconds": 3.0 if quick else 6.0},
    }


class Bench:
    """Runs the measurements in order and collects raw results."""

    def __init__(self, settings, work_dir):
        self.settings = settings
        self.work = work_dir
        self.logs = os.path.join(work_dir, "logs")
        self.started = time.perf_counter()
        self.raw = {"settings": settings, "load_average": {}}
        os.makedirs(self.logs, exist_ok=True)

    def path(self, *parts):
        return os.path.join(self.work, *parts)

    def say(self, message):
        print(f"[bench {time.perf_counter() - self.started:6.0f} s] {message}", flush=True)

    def note_load(self, step):
        self.raw["load_average"][step] = machine.load_average()

    def child(self, name, module, *args):
        """Run benchmarks.<module> in a fresh process; its JSON plus the process measurement."""
        json_out = os.path.join(self.logs, f"{name}.json")
        measurement = procs.run_measured(commands.child(module, json_out, *args), env=commands.child_env(),
                                         cwd=commands.REPO_ROOT, log_path=os.path.join(self.logs, name))
        with open(json_out, encoding="utf-8") as handle:
            result = json.load(handle)
        result["process"] = measurement.to_dict()
        return result

    def command(self, name, command):
        return procs.run_measured(command, env=commands.child_env(), cwd=commands.REPO_ROOT,
                                  log_path=os.path.join(self.logs, name))

    # -- data --------------------------------------------------------------------------------
    def make_data(self):
        s = self.settings
        self.small = self.path(f"data_n{s['num_videos']}")
        self.large = self.path(f"data_n{s['num_videos_large']}")
        self.more_questions = self.path(f"data_n{s['num_videos']}_questions_x{QUESTION_COPIES}")
        self.say(f"synthetic data: {s['num_videos']} and {s['num_videos_large']} videos, a "
                 f"{CLIP_SECONDS:g} s clip")
        self.raw["data"] = {
            "small": datasets.make_synthetic(self.small, s["num_videos"], s["seed"]),
            "large": datasets.make_synthetic(self.large, s["num_videos_large"], s["seed"]),
            "more_questions": datasets.more_questions(self.small, self.more_questions, QUESTION_COPIES),
        }
        self.clip = datasets.long_clip(self.path("clip"), CLIP_SECONDS, s["seed"])

    # -- 1, 2, 5, 6: the pipeline -----------------------------------------------------------
    def cnn_limit(self, name, image_size=None, seconds=None, per_frame_seconds=None):
        s = self.settings
        self.say(f"bare CNN ({name})")
        self.note_load(f"cnn_limit_{name}")
        return self.child(f"cnn_limit_{name}", "cnn_limit", "--image_size", image_size or s["image_size"],
                          "--batch_size", s["inference_batch_size"], "--seconds", seconds or s["cnn_seconds"],
                          "--per_frame_seconds", per_frame_seconds or s["per_frame_seconds"],
                          "--projection_image_size", s["projection_image_size"] if name == "after" else 0)

    def pipeline(self, name, data_dir, feature_dtype="float16", workers=None, annotations=None,
                 image_size=None):
        s = self.settings
        self.say(f"pipeline.run {name}")
        self.note_load(f"pipeline_{name}")
        output_dir = self.path("records", name)
        result = pipeline_runs.run_pipeline(
            name, data_dir, output_dir, self.logs, image_size or s["image_size"], s["frames_per_video"],
            feature_dtype,
            s["inference_batch_size"], workers=workers, annotations=annotations)
        self.outputs[name] = output_dir
        self.say(f"  {result['counts']['frames']} frames in {result['measurement']['wall_seconds']:.1f} s "
                 f"({result['frames_per_second']:.1f} frames/s whole run), peak "
                 f"{result['measurement']['peak_tree_rss_bytes'] / 2**20:.0f} MiB")
        return result

    def run_pipelines(self):
        s = self.settings
        self.outputs = {}
        runs = {}
        self.raw["cnn_limit"] = {"before": self.cnn_limit("before")}
        for repeat in range(s["pipeline_repeats"]):  # Alternating N, 4N: the fastest of each counts.
            for name, data_dir in (("float16_n", self.small), ("float16_4n", self.large)):
                result = self.pipeline(name, data_dir)
                previous = runs.setdefault(name, result)
                previous.setdefault("repeats", []).append(
                    {key: result["measurement"][key] for key in ("wall_seconds", "cpu_seconds")})
        self.raw["cnn_limit"]["after"] = self.cnn_limit("after")
        runs["workers1_n"] = self.pipeline("workers1_n", self.small, workers=1)
        runs["workers1_4n"] = self.pipeline("workers1_4n", self.large, workers=1)
        runs["workers2_4n"] = self.pipeline("workers2_4n", self.large, workers=2)
        runs["float32_4n"] = self.pipeline("float32_4n", self.large, feature_dtype="float32")
        runs["uint8_4n"] = self.pipeline("uint8_4n", self.large, feature_dtype="uint8")
        runs["float16_n_questions"] = self.pipeline(
            "float16_n_questions", self.small, annotations=datasets.annotations_glob(self.more_questions))
        self.raw["pipeline"] = runs
        self.say("decoding cost")
        self.raw["decode_cost"] = self.child(
            "decode_cost", "decode_cost", "--video_glob", os.path.join(datasets.video_dir(self.large), "*.mp4"),
            "--image_size", s["image_size"], "--frames_per_video", s["frames_per_video"],
            "--max_videos", min(32, s["num_videos_large"]),
            "--projection_image_size", s["projection_image_size"])

    # -- 3, 4, 5, 6, 7: training and serving ------------------------------------------------
    def train(self, name, data_name, epochs=None, batch_size=None):
        s = self.settings
        epochs = epochs or s["epochs"]
        model_dir = self.path("models", name)
        shutil.rmtree(model_dir, ignore_errors=True)
        self.say(f"model.train {name} ({epochs} epochs)")
        self.note_load(f"train_{name}")
        measurement = self.command(f"train-{name}", commands.train(
            self.outputs[data_name], model_dir, epochs, batch_size or s["train_batch_size"], s["seed"]))
        with open(os.path.join(model_dir, "history.json"), encoding="utf-8") as handle:
            history = json.load(handle)
        self.models[name] = model_dir
        return {"data": data_name, "model_dir": model_dir, "measurement": measurement.to_dict(),
                "history": history,
                "train_examples": pipeline_runs.read_counts(self.outputs[data_name])["train_questions"]}

    def run_training(self):
        s = self.settings
        self.models = {}
        self.raw["train"] = {
            "float16_4n": self.train("float16_4n", "float16_4n"),
            "uint8_4n": self.train("uint8_4n", "uint8_4n"),
            "float16_n": self.train("float16_n", "float16_n"),
        }
        self.say("training input: records vs memory")
        self.note_load("training_input")
        ti = s["training_input"]
        self.raw["training_input"] = self.child(
            "training_input", "training_input", "--data_dir", self.outputs["float16_4n"],
            "--batch_size", s["train_batch_size"], "--steps", ti["steps"], "--epochs", ti["epochs"],
            "--rounds", ti["rounds"])
        self.say("training input without the input cache (--cache_input none)")
        self.raw["training_input_uncached"] = self.child(
            "training_input_uncached", "training_input", "--data_dir", self.outputs["float16_4n"],
            "--batch_size", s["train_batch_size"], "--steps", ti["steps"], "--epochs", ti["epochs"],
            "--rounds", max(2, ti["rounds"] // 2), "--cache_input", "none")
        self.say(f"training input without the cache, {QUESTION_COPIES}x questions per video")
        self.raw["training_input_more_questions"] = self.child(
            "training_input_more_questions", "training_input",
            "--data_dir", self.outputs["float16_n_questions"], "--batch_size", s["train_batch_size"],
            "--steps", ti["steps"], "--epochs", ti["epochs"], "--rounds", max(2, ti["rounds"] // 2),
            "--cache_input", "none")
        self.say("end-to-end design: TimeDistributed(InceptionV3)")
        self.note_load("end_to_end")
        # Two fresh processes, the faster kept: the same code has run at 1.7 or 3.4 s per step
        # in separate processes on this machine, so one process could double the ratio.
        runs = [self.child(f"end_to_end_{attempt}", "end_to_end", "--data_dir", self.outputs["float16_4n"],
                           "--video_dir", datasets.video_dir(self.large), "--batch_size", s["train_batch_size"],
                           "--steps", s["end_to_end_steps"]) for attempt in (1, 2)]
        self.raw["end_to_end"] = dict(min(runs, key=lambda run: run["seconds_per_step"]),
                                      seconds_per_step_of_each_process=[run["seconds_per_step"] for run in runs])
        self.say("test accuracy: float16 vs uint8 storage")
        self.raw["accuracy"] = self.child(
            "accuracy", "accuracy",
            "--model", "float16", self.models["float16_4n"], self.outputs["float16_4n"],
            "--model", "uint8", self.models["uint8_4n"], self.outputs["uint8_4n"])

    def latency(self, name, model_name, data_name):
        s = self.settings
        model_dir = self.models[model_name]
        self.say(f"model.export ({model_name}), then answering latency on the clip")
        export = self.command(f"export-{model_name}", commands.export(model_dir, self.outputs[data_name]))
        self.note_load(name)
        result = self.child(name, "latency", "--model_dir", model_dir, "--video", self.clip,
                            "--repeats", s["latency_repeats"])
        result["export"] = export.to_dict()
        return result

    def run_latency(self):
        self.raw["latency"] = self.latency("latency", "float16_4n", "float16_4n")
        predict = self.command("predict", commands.predict(
            self.models["float16_4n"], self.clip, ["what is the man doing?"]))
        self.raw["predict_command"] = predict.to_dict()

    def run_full_size(self):
        """1 and 7 at 299x299: bare CNN, pipeline on N/4 and N videos, then latency."""
        full = self.settings["full_size"]
        size = full["image_size"]
        self.full = self.path(f"data_n{full['num_videos']}")
        self.say(f"full size ({size}x{size}): synthetic data, {full['num_videos']} videos")
        datasets.make_synthetic(self.full, full["num_videos"], self.settings["seed"])
        large_dir = self.small if full["num_videos_large"] == self.settings["num_videos"] else None
        if large_dir is None:
            large_dir = self.path(f"data_n{full['num_videos_large']}")
            datasets.make_synthetic(large_dir, full["num_videos_large"], self.settings["seed"])
        limits = {"before": self.cnn_limit("full_before", size, full["cnn_seconds"], 0.5)}
        runs = {"small": self.pipeline("full_small", self.full, image_size=size),
                "large": self.pipeline("full_large", large_dir, image_size=size)}
        limits["after"] = self.cnn_limit("full_after", size, full["cnn_seconds"], 0.5)
        # Only its answering speed is measured: a few epochs in small batches suffice.
        training = self.train("full_large", "full_large", full["epochs"], batch_size=4)
        self.raw["full_size"] = {"image_size": size, "cnn_limit": limits, "pipeline": runs, "train": training,
                                 "latency": self.latency("latency_full", "full_large", "full_large")}

    def run_all(self):
        self.make_data()
        self.run_pipelines()
        self.run_training()
        self.run_latency()
        self.run_full_size()
        self.raw["total_seconds"] = time.perf_counter() - self.started
        return self.raw


def load_baseline(path, results_path):
    """The earlier results to compare with (not this run's own previous output), or None."""
    if not path or not os.path.exists(path):
        return None
    if os.path.abspath(path) == os.path.abspath(results_path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def finish(raw, args):
    """Figures, notes, results files and the console table of a run's raw measurements."""
    figures = analysis.compute(raw)
    raw["notes"] = notes.notes(raw, figures)
    results_json = os.path.join(args.results_dir, "results.json")
    baseline = load_baseline(args.baseline, results_json)
    paths = report.write(args.results_dir, raw, figures, baseline)
    print(report.console_table(raw, figures, baseline))
    for note in raw["notes"]:
        print(f"- {note}")
    print("wrote " + ", ".join(paths))


def run(argv=None):
    args = build_parser().parse_args(argv)
    if args.from_raw:
        with open(args.from_raw, encoding="utf-8") as handle:
            finish(json.load(handle)["raw"], args)
        return 0
    try:
        settings = settings_from_args(args)
    except ValueError as error:
        print(f"benchmarks.run: error: {error}", file=sys.stderr)
        return 2
    os.makedirs(args.output_dir, exist_ok=True)
    for scratch in ("records", "models"):
        shutil.rmtree(os.path.join(args.output_dir, scratch), ignore_errors=True)
    description = machine.describe()
    print(f"benchmarks on {machine.one_line(description)}; CNN weights: RANDOM (offline, no ImageNet)",
          flush=True)
    bench = Bench(settings, args.output_dir)
    bench.raw["machine"] = description
    command_line = "python -m benchmarks.run" + ("" if argv is None and len(sys.argv) < 2 else
                                                 " " + " ".join(argv if argv is not None else sys.argv[1:]))
    try:
        raw = bench.run_all()
    except procs.CommandFailed as error:
        print(f"benchmarks.run: error: {error}", file=sys.stderr)
        return 1
    raw["machine"]["load_average_at_end"] = machine.load_average()
    raw["command"] = command_line
    with open(os.path.join(args.output_dir, "raw.json"), "w", encoding="utf-8") as handle:
        json.dump({"raw": raw}, handle, indent=1)  # For --from_raw, should the analysis fail.
    finish(raw, args)
    if not args.keep_scratch:
        for scratch in ("records", "models"):
            shutil.rmtree(os.path.join(args.output_dir, scratch), ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(run())
