"""What the measurement modules share: settings, figure lines, the bare CNN, runs of the product.

A figure is one JSON line `{"id", "value", "unit", "reference"[, "detail"]}`:
`reference` says what the value is compared against (a ratio's denominator),
`detail` gives the raw numbers behind it in a few words. Pipeline runs are the
product's own Python entry, `pipeline.run.run(argv)`, in this process (its
printed summary goes to the run's log); their times are the call's wall time
and the manifest's own `timings` and `counts`.
"""

import contextlib
import dataclasses
import functools
import logging
import os
import sys
import time
import typing

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass(frozen=True)
class Settings:
    """Sizes of one benchmark run: the defaults are `make bench`'s, `quick_run()` the smoke run's."""

    work_dir: str
    quick: bool = False
    seed: int = 0
    backbone: str = "inception_v3"    # --cnn (the default backbone)
    image_size: int = 299             # InceptionV3's own input size, where the CNN does real work
    frames_per_video: int = 16
    num_videos: int = 8               # the small synthetic set; the large one has 4x
    video_size: typing.Tuple[int, int, float] = (160, 120, 2.0)    # synthetic clips: width, height, seconds
    cnn_seconds: float = 10.0         # time of each bare-CNN loop
    long_clip: typing.Tuple[int, int, float] = (640, 360, 120.0)   # width, height, seconds (30 fps)
    long_clip_copies: int = 8
    seek_repeats: int = 5
    msvd_fraction: float = 1.0        # of MSVD-QA's 50,505 questions and 1,970 clips
    latency_repeats: int = 7

    @classmethod
    def quick_run(cls, work_dir, seed=0):
        # The smallest backbone at its smallest input: the smoke run checks the code, not the CNN.
        return cls(work_dir=work_dir, quick=True, seed=seed, backbone="mobilenet_v3_large", image_size=32,
                   frames_per_video=4,
                   num_videos=6, video_size=(64, 48, 1.0), cnn_seconds=1.0, long_clip=(160, 96, 4.0),
                   long_clip_copies=2, seek_repeats=1, msvd_fraction=0.005, latency_repeats=2)

    def path(self, *parts):
        return os.path.join(self.work_dir, *parts)


def figure(figure_id, value, unit, reference, detail=None):
    """One result line; ratios are `unit` 'x'; value None: not measured (`detail` says why)."""
    line = {"id": figure_id, "value": None if value is None else round(float(value), 4), "unit": unit,
            "reference": reference}
    if detail:
        line["detail"] = detail
    return line


def say(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@functools.lru_cache(maxsize=None)
def frozen_cnn(backbone, image_size, weights=None):
    """The product's frozen CNN (random weights unless given), built once."""
    from features import cnn
    return cnn.FrozenCnn(backbone, weights or cnn.RANDOM_WEIGHTS, image_size)


def cnn_rate(backbone, image_size, seconds, batch_size=None, seed=0):
    """(frames/s, CPU seconds per frame) of `FrozenCnn.embed` on batches of random frames in memory."""
    import numpy as np
    from pipeline import config
    batch_size = batch_size or config.DEFAULT_INFERENCE_BATCH_SIZE
    cnn = frozen_cnn(backbone, image_size)
    batch = np.random.default_rng(seed).integers(0, 256, (batch_size, image_size, image_size, 3), np.uint8)
    cnn.embed(batch)  # Traces the function.
    calls, started, cpu_started = 0, time.perf_counter(), time.process_time()
    while calls < 2 or time.perf_counter() - started < seconds:
        cnn.embed(batch)
        calls += 1
    frames = calls * batch_size
    return frames / (time.perf_counter() - started), (time.process_time() - cpu_started) / frames


@dataclasses.dataclass
class PipelineRun:
    """One finished `pipeline.run`: how it was called, what it wrote, how long the call took."""

    name: str
    data_dir: str
    output_dir: str
    extra: tuple
    manifest: dict
    seconds: float
    cpu_seconds: float    # of this whole process (the in-process runner's threads included)

    @property
    def frames(self):
        return self.written("frames")

    @property
    def videos(self):
        return self.written("videos")

    def written(self, name):
        """Videos, questions or frames written over all splits (manifest `counts`)."""
        from features import schema
        return sum(int(self.manifest["counts"].get(split, {}).get(name, 0)) for split in schema.SPLITS)

    def timing(self, stage):
        return float(self.manifest["timings"].get(stage, 0.0))


def pipeline_argv(settings, data_dir, output_dir, *extra):
    """The command line of a run over a `pipeline.synthetic`-style directory (random CNN weights)."""
    from features import cnn
    from pipeline import synthetic
    return ["--annotations", os.path.join(data_dir, synthetic.QA_FILE_PATTERN.format(split="*")),
            "--video_dir", os.path.join(data_dir, synthetic.VIDEOS_DIR),
            "--video_pattern", synthetic.VIDEO_FILE_PATTERN, "--output_dir", output_dir,
            "--cnn", settings.backbone, "--cnn_weights", cnn.RANDOM_WEIGHTS, "--image_size", str(settings.image_size),
            "--frames_per_video", str(settings.frames_per_video), *extra]


def run_pipeline(settings, name, data_dir, *extra):
    """Run the pipeline in this process over `data_dir` into a fresh WORK/name; a PipelineRun."""
    from features import cnn
    from pipeline import run as pipeline_run
    output_dir = settings.path(name)
    cnn.forget_shared_cnns()  # Each run builds its CNN, as a `python -m pipeline.run` of its own would.
    argv = pipeline_argv(settings, data_dir, output_dir, *extra)
    say(f"pipeline.run {name}")
    with open(settings.path(f"{name}.log"), "w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        started, cpu_started = time.perf_counter(), time.process_time()
        manifest = pipeline_run.run(argv)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    run = PipelineRun(name, data_dir, output_dir, tuple(extra), manifest, seconds, cpu_seconds)
    say(f"  {run.videos} videos, {run.frames} frames in {seconds:.1f} s")
    return run


def synthetic_data(settings, name, num_videos):
    """A `pipeline.synthetic` data set written under WORK/name; its directory."""
    from pipeline import synthetic
    data_dir = settings.path(name)
    width, height, seconds = settings.video_size
    synthetic.generate(data_dir, num_videos, settings.seed, width=width, height=height, seconds=seconds)
    return data_dir


def steady_state(small, large):
    """(frames/s, fixed seconds, CPU seconds per frame) from two runs of one configuration: fixed costs cancel."""
    extra_frames = large.frames - small.frames
    per_frame = max((large.seconds - small.seconds) / extra_frames, 1e-6)  # Only a disturbed quick run gets 1e-6.
    cpu_per_frame = max((large.cpu_seconds - small.cpu_seconds) / extra_frames, 1e-6)
    return 1.0 / per_frame, small.seconds - small.frames * per_frame, cpu_per_frame


def quiet_library_logs(log_path):
    """Send the libraries' log lines (Beam, tf.Transform, the pipeline) to a file instead of the terminal."""
    handler = logging.FileHandler(log_path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
