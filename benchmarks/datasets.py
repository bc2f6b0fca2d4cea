"""Scratch data sets for the benchmarks, made with the project's own generator.

  make_synthetic      `python -m pipeline.synthetic` (H.264 clips + MSRVTT-QA style JSON)
  more_questions      the same videos with every question repeated under new ids,
                      so the record bytes per video can be compared at 1x and Kx questions
  long_clip           one clip of `seconds` seconds, for the answering latency
"""

import json
import os

from benchmarks import commands, procs

QA_SPLITS = ("train", "val", "test")


def annotations_glob(data_dir):
    return os.path.join(data_dir, "*_qa.json")


def video_dir(data_dir):
    return os.path.join(data_dir, "videos")


def make_synthetic(data_dir, num_videos, seed, seconds=None):
    """Generate the set unless a complete one with these settings is already there."""
    stamp_path = os.path.join(data_dir, "benchmark_stamp.json")
    stamp = {"num_videos": num_videos, "seed": seed, "seconds": seconds}
    if os.path.exists(stamp_path):
        with open(stamp_path, encoding="utf-8") as handle:
            if json.load(handle) == stamp:
                return {"reused": True, "wall_seconds": 0.0}
    measurement = procs.run_measured(commands.synthetic(data_dir, num_videos, seed, seconds),
                                     env=commands.child_env(), cwd=commands.REPO_ROOT)
    with open(stamp_path, "w", encoding="utf-8") as handle:
        json.dump(stamp, handle)
    return {"reused": False, "wall_seconds": measurement.wall_seconds}


def more_questions(source_dir, target_dir, copies):
    """Write target_dir/*_qa.json: each question of source_dir `copies` times (new ids).

    The videos stay in source_dir/videos; only the annotations are new.
    Returns the number of questions written.
    """
    os.makedirs(target_dir, exist_ok=True)
    rows_by_split = {}
    for split in QA_SPLITS:
        with open(os.path.join(source_dir, f"{split}_qa.json"), encoding="utf-8") as handle:
            rows_by_split[split] = json.load(handle)
    next_id = 1 + max(int(row["id"]) for rows in rows_by_split.values() for row in rows)
    total = 0
    for split, rows in rows_by_split.items():
        expanded = []
        for row in rows:
            expanded.append(row)
            for _ in range(copies - 1):
                expanded.append(dict(row, id=next_id))
                next_id += 1
        with open(os.path.join(target_dir, f"{split}_qa.json"), "w", encoding="utf-8") as handle:
            json.dump(expanded, handle)
        total += len(expanded)
    return total


def long_clip(clip_dir, seconds, seed):
    """Path of a synthetic clip lasting `seconds` (generated once)."""
    make_synthetic(clip_dir, 2, seed, seconds=seconds)
    return os.path.join(video_dir(clip_dir), "video0.mp4")
