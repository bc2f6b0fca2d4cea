"""Run `python -m pipeline.run` as a user would and read back what it reports.

`run_pipeline` measures the whole command (wall time, peak memory of its
process tree) and returns its counts (from OUT/manifest.json), the times in
its own log and summary, and the bytes of the record shards it wrote, both on
disk (GZIP) and uncompressed (the serialized records), without TensorFlow.
"""

import datetime
import glob
import gzip
import json
import os
import re
import struct

from benchmarks import commands, datasets, procs

SPLITS = ("train", "val", "test")
_LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
_FINISHED = re.compile(r"pipeline\.run finished in ([0-9.]+) s")
_PROGRESS_RATE = re.compile(r"progress: .*?\(([0-9.]+) frames/s\)")


def _log_time(line):
    match = _LOG_TIME.match(line)
    if not match:
        return None
    moment = datetime.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
    return moment.timestamp()  # Local time, like logging's asctime.


def _first_log_time(text, needle):
    for line in text.splitlines():
        if needle in line:
            return _log_time(line)
    return None


def parse_timings(measurement):
    """Seconds spent in the phases the pipeline's log and summary reveal (None if unseen).

    startup_imports   process start -> 'building the CNN once' (imports, argument checks)
    checksum_cnn      building the CNN in the launcher to record its checksum
    pipeline_seconds  the summary's 'finished in': building + running the Beam job + publishing
    """
    logs = measurement.stderr + measurement.stdout
    building = _first_log_time(logs, "building the CNN once")
    built = _first_log_time(logs, "INFO CNN: ")
    finished = _FINISHED.search(measurement.stdout)
    rates = [float(rate) for rate in _PROGRESS_RATE.findall(logs)]
    return {
        "startup_imports": None if building is None else building - measurement.started_at,
        "checksum_cnn": None if building is None or built is None else built - building,
        "pipeline_seconds": float(finished.group(1)) if finished else None,
        "progress_frames_per_second": rates,
    }


def _uncompressed_record_bytes(path):
    """(records, serialized bytes, file bytes uncompressed) of one GZIP TFRecord shard."""
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    offset, records, payload = 0, 0, 0
    while offset < len(data):
        (length,) = struct.unpack("<Q", data[offset:offset + 8])
        offset += 8 + 4 + length + 4  # length, its CRC, the record, its CRC
        records += 1
        payload += length
    return records, payload, len(data)


def record_bytes(output_dir):
    """Bytes of every split's shards: on disk, uncompressed file, serialized records."""
    totals = {"files_on_disk": 0, "uncompressed_files": 0, "serialized_records": 0, "records": 0}
    for split in SPLITS:
        for path in glob.glob(os.path.join(output_dir, f"{split}-*.tfrecord.gz")):
            records, payload, uncompressed = _uncompressed_record_bytes(path)
            totals["files_on_disk"] += os.path.getsize(path)
            totals["uncompressed_files"] += uncompressed
            totals["serialized_records"] += payload
            totals["records"] += records
    return totals


def read_counts(output_dir):
    with open(os.path.join(output_dir, "manifest.json"), encoding="utf-8") as handle:
        manifest = json.load(handle)
    counts = manifest["counts"]
    return {
        "videos": sum(counts[split]["videos"] for split in SPLITS),
        "questions": sum(counts[split]["questions"] for split in SPLITS),
        "frames": sum(counts[split]["frames"] for split in SPLITS),
        "rejected_questions": counts["rejected_questions"],
        "train_questions": counts["train"]["questions"],
    }


def run_pipeline(name, data_dir, output_dir, log_dir, image_size, frames_per_video, feature_dtype,
                 inference_batch_size, workers=None, running_mode="multi_processing",
                 annotations=None):
    """Run the pipeline once; a dict of everything measured (see module docstring)."""
    command = commands.pipeline(
        annotations or datasets.annotations_glob(data_dir), datasets.video_dir(data_dir), output_dir,
        image_size, frames_per_video, feature_dtype, inference_batch_size, workers, running_mode)
    measurement = procs.run_measured(command, env=commands.child_env(), cwd=commands.REPO_ROOT,
                                     log_path=os.path.join(log_dir, f"pipeline-{name}"))
    counts = read_counts(output_dir)
    result = {
        "name": name, "feature_dtype": feature_dtype, "workers": workers,
        "running_mode": running_mode if workers is not None else "in_process (default)",
        "measurement": measurement.to_dict(), "counts": counts,
        "timings": parse_timings(measurement), "bytes": record_bytes(output_dir),
        "frames_per_second": counts["frames"] / measurement.wall_seconds,
    }
    if counts["rejected_questions"]:
        raise procs.CommandFailed(f"pipeline run {name} rejected {counts['rejected_questions']} "
                                  f"questions: see {output_dir}/errors/")
    return result
