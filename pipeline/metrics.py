"""The run's counts and stage timings, as Beam metrics, and its progress lines.

Stages call `count(name, n)` and time their work with `timed(stage)`; both
are Beam metrics (namespace NAMESPACE), so they add up across workers on
every runner and show on Dataflow's job page. After the run,
`read_metrics(result)` turns `result.metrics()` into the manifest's counts
and timings. Each worker also logs a progress line at most every
INTERVAL_SECONDS, e.g.
`progress: 120 videos decoded, 1920 frames embedded (48.0 frames/s), 360 questions written`.
"""

import contextlib
import logging
import threading
import time

from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter

NAMESPACE = "videoqa"
INTERVAL_SECONDS = 10.0

# Counters.
ANNOTATION_FILES = "annotation_files"
INPUT_QUESTIONS = "input_questions"
WRITTEN_QUESTIONS = "written_questions"
REJECTED_QUESTIONS = "rejected_questions"
REJECTED_FILES = "rejected_annotation_files"
TRUNCATED_QUESTIONS = "truncated_questions"
VIDEOS_DECODED = "videos_decoded"
FRAMES_EMBEDDED = "frames_embedded"
VIDEOS_EMBEDDED = "videos_embedded"
VIDEOS_REUSED = "videos_reused"
CACHE_ENTRIES_CORRUPT = "cache_entries_corrupt"
REJECTED_BY_STAGE_PREFIX = "rejected_by_stage."
PER_SPLIT_NAMES = ("videos", "questions", "frames")
PROGRESS_COUNTERS = (VIDEOS_DECODED, FRAMES_EMBEDDED, WRITTEN_QUESTIONS)

# Stage timings (distributions of milliseconds; the manifest keeps their sums in seconds).
STAGE_READ = "read_annotations"
STAGE_DECODE = "decode_videos"
STAGE_EMBED = "embed_frames"
STAGE_CACHE = "feature_cache"
STAGE_BUILD = "build_records"
STAGES = (STAGE_READ, STAGE_DECODE, STAGE_EMBED, STAGE_CACHE, STAGE_BUILD)

_lock = threading.Lock()
_progress = {"totals": dict.fromkeys(PROGRESS_COUNTERS, 0), "started": None, "last_log": 0.0}
_metric_objects = {}


def split_metric(split, name):
    """'train.videos' etc.: per-split counts."""
    return f"{split}.{name}"


def rejected_metric(stage):
    return f"{REJECTED_BY_STAGE_PREFIX}{stage}"


def _metric(kind, name):
    key = (kind, name)
    if key not in _metric_objects:
        _metric_objects[key] = getattr(Metrics, kind)(NAMESPACE, name)
    return _metric_objects[key]


def count(name, amount=1):
    """Add `amount` to counter `name`; log a progress line if one is due."""
    _metric("counter", name).inc(int(amount))
    if name in PROGRESS_COUNTERS:
        _log_progress(name, amount)


def add_seconds(stage, seconds):
    """Add `seconds` to `stage`'s timing (call it from the DoFn's own thread: Beam's metric
    containers are per thread, so work timed on a helper thread is recorded when its result arrives)."""
    _metric("distribution", stage).update(int(round(1000 * seconds)))


@contextlib.contextmanager
def timed(stage):
    """Add the wall time of the `with` block to `stage`'s timing."""
    started = time.perf_counter()
    try:
        yield
    finally:
        add_seconds(stage, time.perf_counter() - started)


def _log_progress(name, amount):
    now = time.monotonic()
    with _lock:
        if _progress["started"] is None:
            _progress["started"] = _progress["last_log"] = now
        _progress["totals"][name] += amount
        if now - _progress["last_log"] < INTERVAL_SECONDS:
            return
        _progress["last_log"] = now
        totals = dict(_progress["totals"])
        elapsed = max(now - _progress["started"], 1e-9)
    logging.getLogger("videoqa.progress").info(
        "progress: %d videos decoded, %d frames embedded (%.1f frames/s), %d questions written",
        totals[VIDEOS_DECODED], totals[FRAMES_EMBEDDED], totals[FRAMES_EMBEDDED] / elapsed,
        totals[WRITTEN_QUESTIONS])


def _value(result):
    return result.committed if result.committed is not None else result.attempted


def read_metrics(pipeline_result):
    """(counters {name: int}, stage seconds {stage: float}) of a finished run."""
    queried = pipeline_result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))
    counters = {}
    for result in queried.get("counters", []):
        counters[result.key.metric.name] = counters.get(result.key.metric.name, 0) + int(_value(result) or 0)
    seconds = {}
    for result in queried.get("distributions", []):
        value = _value(result)
        if value is not None:
            name = result.key.metric.name
            seconds[name] = seconds.get(name, 0.0) + value.sum / 1000.0
    return counters, {stage: round(seconds[stage], 3) for stage in STAGES if stage in seconds}
