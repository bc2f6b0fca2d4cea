"""Figure 4: the annotation and tf.Transform path at MSVD-QA's full size, then with 4x the questions.

Writes MSVD-QA as published (`{train,val,test}_qa.json`: lists of {answer,
id, question, video_id} with integer video_id; train 30,933, val 6,415, test
13,157 questions) from the real sample rows in the shared data sets folder,
repeated over the real split's clips (train vid1-1200, val 1201-1450, test
1451-1970), and reads the real `youtube_mapping.txt` for the clip names. The
1,970 clips are hard links to a few tiny stand-in clips inside the video
dir, and the CNN (MobileNetV3Large) runs at 32 px on 2 frames per clip, so that the CNN is not
what is measured: reading, grouping, tf.Transform and writing are. Each run
is a `python -m pipeline.run` child process: its wall time and the peak
memory of its process tree. `fraction` scales questions and clips (quick
mode).
"""

import json
import os
import sys

import numpy as np

from benchmarks import common, memory

SAMPLES_DIR = "/work/shared/datasets/msvd-qa"
MAPPING_FILE = "youtube_mapping.txt"
SPLIT_QUESTIONS = {"train": 30933, "val": 6415, "test": 13157}
SPLIT_CLIPS = {"train": (1, 1200), "val": (1201, 1450), "test": (1451, 1970)}  # vid numbers, inclusive
STAND_IN_CLIPS = 4


def read_mapping(path):
    """{vid number: clip name} from MSVD-QA's `<clip name> vid<N>` lines."""
    names = {}
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 2 or not parts[1].startswith("vid") or not parts[1][3:].isdigit():
                raise ValueError(f"{path}, line {line_number}: expected '<clip name> vid<N>', got {line.strip()!r}")
            names[int(parts[1][3:])] = parts[0]
    return names


def question_rows(samples_dir, fraction, copies):
    """{split: rows} in MSVD-QA's layout: `fraction` of its questions, each repeated `copies` times."""
    rows, next_id = {}, 0
    for split, total in SPLIT_QUESTIONS.items():
        path = os.path.join(samples_dir, f"{split}_qa.json")
        with open(path, encoding="utf-8") as handle:
            samples = json.load(handle)
        if not samples:
            raise ValueError(f"{path}: no sample rows to repeat")
        first, last = SPLIT_CLIPS[split]
        clips = list(range(first, first + max(1, round((last - first + 1) * fraction))))
        rows[split] = []
        for index in range(max(1, round(total * fraction))):
            sample = samples[index % len(samples)]
            for _ in range(copies):
                rows[split].append({"answer": sample["answer"], "id": next_id, "question": sample["question"],
                                    "video_id": clips[index % len(clips)]})
                next_id += 1
    return rows


def write_data_set(data_dir, samples_dir, fraction, copies, seed=0):
    """Annotation files, and the video dir of hard links to stand-in clips; (questions, clips)."""
    from pipeline import synthetic
    rows = question_rows(samples_dir, fraction, copies)
    names = read_mapping(os.path.join(samples_dir, MAPPING_FILE))
    videos, stand_ins = os.path.join(data_dir, "videos"), os.path.join(data_dir, "stand_ins")
    os.makedirs(videos)
    os.makedirs(stand_ins)
    rng = np.random.default_rng(seed)
    stand_in_paths = [os.path.join(stand_ins, f"clip{index}.mp4") for index in range(STAND_IN_CLIPS)]
    for path in stand_in_paths:
        synthetic.write_video(path, rng.integers(0, 256, (8, 48, 64, 3), np.uint8), 8)
    clips = sorted({row["video_id"] for split_rows in rows.values() for row in split_rows})
    for number in clips:
        if number not in names:
            raise ValueError(f"{os.path.join(samples_dir, MAPPING_FILE)}: no clip name for vid{number}")
        os.link(stand_in_paths[number % STAND_IN_CLIPS], os.path.join(videos, f"{names[number]}.avi"))
    for split, split_rows in rows.items():
        with open(os.path.join(data_dir, f"{split}_qa.json"), "w", encoding="utf-8") as handle:
            json.dump(split_rows, handle)
    return sum(len(split_rows) for split_rows in rows.values()), len(clips)


def run_child(settings, name, copies):
    """(questions, clips, wall seconds, peak tree RSS MiB, manifest) of one `python -m pipeline.run`."""
    from features import cnn
    from features import manifest as manifest_lib
    from pipeline.layouts import qa_json
    data_dir, output_dir = settings.path(f"{name}_data"), settings.path(name)
    questions, clips = write_data_set(data_dir, SAMPLES_DIR, settings.msvd_fraction, copies, settings.seed)
    common.say(f"pipeline.run {name}: {questions:,} questions on {clips:,} clips (child process)")
    wall, peak = memory.run_measured(
        [sys.executable, "-m", "pipeline.run", "--annotations", os.path.join(data_dir, "*_qa.json"),
         "--video_dir", os.path.join(data_dir, "videos"), "--video_mapping", os.path.join(SAMPLES_DIR, MAPPING_FILE),
         "--output_dir", output_dir, "--layout", qa_json.MSVD_LAYOUT.name, "--cnn", "mobilenet_v3_large",
         "--cnn_weights", cnn.RANDOM_WEIGHTS, "--image_size", "32", "--frames_per_video", "2"],
        settings.path(f"{name}.log"))
    common.say(f"  {wall:.1f} s, peak {peak / 2**20:,.0f} MiB")
    return questions, clips, wall, peak / 2**20, manifest_lib.read_manifest(output_dir)


def measure(settings, shared):
    questions, clips, seconds, mib, manifest = run_child(settings, "msvd_1x", 1)
    questions_4x, _, seconds_4x, mib_4x, manifest_4x = run_child(settings, "msvd_4x", 4)
    scale = (f"{questions:,} questions on {clips:,} clips (hard links to {STAND_IN_CLIPS} tiny clips; "
             f"MobileNetV3Large at 32 px on 2 frames per clip)")
    timings = ", ".join(f"{stage} {value:.1f}" for stage, value in sorted(manifest["timings"].items()))
    yield common.figure("msvd_seconds", seconds, "s", f"whole command, {scale}",
                        f"{manifest['counts'].get('written_questions', 0):,} questions written; manifest "
                        f"timings (s): {timings}")
    yield common.figure("msvd_peak_mib", mib, "MiB", f"process tree RSS, {scale}")
    yield common.figure("msvd_4x_seconds_vs_1x", seconds_4x / seconds, "x", f"the 1x run: {seconds:.1f} s",
                        f"{questions_4x:,} questions in {seconds_4x:.1f} s (manifest wall "
                        f"{manifest_4x['timings'].get('wall', 0):.1f} vs {manifest['timings'].get('wall', 0):.1f} s)")
    yield common.figure("msvd_4x_memory_vs_1x", mib_4x / mib, "x", f"the 1x run: {mib:,.0f} MiB",
                        f"{mib_4x:,.0f} MiB with {questions_4x:,} questions")
