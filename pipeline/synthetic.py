"""Write a small synthetic VideoQA data set: real H.264 clips plus MSRVTT-QA style annotations.

    python -m pipeline.synthetic --output_dir D --num_videos 200 --seed 0

writes `D/videos/video<N>.mp4` (libx264, yuv420p) and `D/{train,val,test}_qa.json`,
each a JSON list of {"question", "answer", "video_id", "id", "question_type"}
with integer `video_id` (so `--video_pattern 'video{video_id}.mp4'` finds the
file) and ids unique across the three files, plus `D/question_groups.json`
naming which question types need the order of frames (for `model.ablation`).

Each clip shows one temporal event (see `synthetic_scenes`) and gets three
questions: one about the order of the event (question_type = the event kind,
see ORDER_QUESTION_TYPES), one about the colour of the event object and one
about how many circles there are (SINGLE_FRAME_QUESTION_TYPES).

Clips come in reversal twins: video 2k+1 is video 2k's frames in reverse
order, so its order answer flips (growing <-> shrinking ...) while the
single-frame answers stay the same. A model that averages frame features sees
the same input for both twins and cannot beat chance on order questions; a
model that reads the frames in order can. Twins always share a split; pairs
are split about 80/10/10 (train/val/test), with every split non-empty from
three pairs up. Everything is deterministic for a given seed, decoded frames
included. The ball of an "appearance" clip is visible in half its frames only.
"""

import argparse
import collections
import fractions
import json
import os

import av
import numpy as np

from features import schema
from pipeline import synthetic_scenes as scenes

ORDER_QUESTION_TYPES = scenes.EVENT_KINDS
SINGLE_FRAME_QUESTION_TYPES = ("color", "count")
VIDEO_FILE_PATTERN = "video{video_id}.mp4"
VIDEOS_DIR = "videos"
# {"order": [question types], "single_frame": [...]}: read by `model.ablation --question_groups`.
QUESTION_GROUPS_FILE = "question_groups.json"
QA_FILE_PATTERN = "{split}_qa.json"
COUNT_WORDS = ("zero", "one", "two", "three")

ORDER_QUESTIONS = {
    "size_change": ("is the square growing or shrinking?", "what is happening to the square?",
                    "how is the size of the square changing?"),
    "appearance": ("is the ball appearing or disappearing?", "what is happening to the ball?",
                   "what does the ball do?"),
    "loading": ("what is the man doing?", "is the truck being loaded or unloaded?",
                "what is happening to the truck?"),
}
COLOR_QUESTIONS = ("what color is the {object}?", "what is the color of the {object}?",
                   "which color does the {object} have?")
COUNT_QUESTIONS = ("how many circles are there?", "how many circles can you see?",
                   "what is the number of circles?")

# libx264 at high quality, so twins decode to near-identical frames. Macroblock-tree
# rate control is off because with it this FFmpeg build's x264 gave different bytes
# (and decoded pixels) for identical input from run to run, even single-threaded.
DEFAULT_CODEC_OPTIONS = {
    "libx264": {"crf": "17", "preset": "veryfast", "x264-params": "mbtree=0"},
    "libvpx-vp9": {"crf": "20", "b": "0", "deadline": "realtime", "cpu-used": "8"},
}
FULL_RANGE_CODECS = ("mjpeg",)


def write_video(path, frames, fps, codec="libx264", pix_fmt=None, options=None):
    """Encode uint8 RGB frames [T, H, W, 3] to `path` with PyAV; the container follows the extension.

    `fps` may be an int, float or fractions.Fraction. `pix_fmt` defaults to
    yuv420p (yuvj420p for mjpeg), which needs even width and height; `options`
    are codec options (defaults: high quality for libx264 and libvpx-vp9).
    """
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or not len(frames):
        raise ValueError(f"frames must be uint8 [T>0, H, W, 3], got {frames.dtype} {frames.shape}")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    pix_fmt = pix_fmt or ("yuvj420p" if codec in FULL_RANGE_CODECS else "yuv420p")
    height, width = frames.shape[1:3]
    if pix_fmt.endswith("420p") and (width % 2 or height % 2):
        raise ValueError(f"{pix_fmt} needs even width and height, got {width}x{height}; "
                         f"use even sizes or pix_fmt='yuv444p'")
    rate = fractions.Fraction(fps).limit_denominator(100000)
    options = dict(DEFAULT_CODEC_OPTIONS.get(codec, {}) if options is None else options)
    with av.open(path, mode="w") as container:
        stream = container.add_stream(codec, rate=rate, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if codec not in DEFAULT_CODEC_OPTIONS:
            stream.bit_rate = int(width * height * float(rate) * 0.5)  # About 0.5 bit per pixel.
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts, frame.time_base = index, 1 / rate
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def split_sizes(num_pairs):
    """(train, val, test) pair counts: about 80/10/10, every split non-empty from 3 pairs."""
    if num_pairs >= 3:
        held_out = max(1, round(0.1 * num_pairs))
        held_out = min(held_out, (num_pairs - 1) // 2)
        return num_pairs - 2 * held_out, held_out, held_out
    return (1, 0, num_pairs - 1) if num_pairs else (0, 0, 0)


def plan_pairs(num_pairs, seed):
    """Per pair: split, event kind, direction of the even twin and question phrasings."""
    rng = np.random.default_rng(seed)
    counts = split_sizes(num_pairs)
    splits = rng.permutation(np.repeat(np.array(schema.SPLITS), counts)).tolist()
    offsets = {split: int(rng.integers(len(ORDER_QUESTION_TYPES))) for split in schema.SPLITS}
    seen = collections.Counter()
    plans = []
    for split in splits:  # Kinds cycle within each split, so every split is balanced.
        kind = ORDER_QUESTION_TYPES[(offsets[split] + seen[split]) % len(ORDER_QUESTION_TYPES)]
        seen[split] += 1
        plans.append({"split": split, "kind": kind, "reversed": bool(rng.integers(2)),
                      "phrasings": rng.integers(3, size=3).tolist()})
    return plans


def pair_questions(plan, scene, video_id, reversed_frames):
    """The three questions of one video (a twin shares the questions, not the order answer)."""
    order_phrase, color_phrase, count_phrase = plan["phrasings"]
    kind = plan["kind"]
    obj = scenes.EVENT_OBJECTS[kind]
    rows = [
        (ORDER_QUESTIONS[kind][order_phrase], scenes.EVENT_ANSWERS[kind][int(reversed_frames)], kind),
        (COLOR_QUESTIONS[color_phrase].format(object=obj), scene.color_name, "color"),
        (COUNT_QUESTIONS[count_phrase], COUNT_WORDS[len(scene.circles)], "count"),
    ]
    return [{"question": question, "answer": answer, "video_id": video_id,
             "id": video_id * len(rows) + index, "question_type": question_type}
            for index, (question, answer, question_type) in enumerate(rows)]


def generate(output_dir, num_videos, seed, width=160, height=120, fps=24, seconds=2.0):
    """Write the clips and the three annotation files; return a summary dict."""
    if num_videos < 2 or num_videos % 2:
        raise ValueError(f"--num_videos must be an even number >= 2 (clips come in reversal "
                         f"twins), got {num_videos}")
    if min(width, height) < 32 or width % 2 or height % 2:
        raise ValueError(f"--width and --height must be even and at least 32 pixels, got {width}x{height}")
    num_frames = int(round(fps * seconds))
    if num_frames < 2:
        raise ValueError(f"--fps x --seconds must give at least 2 frames, got {num_frames}")
    videos_dir = os.path.join(output_dir, VIDEOS_DIR)
    os.makedirs(videos_dir, exist_ok=True)
    questions = {split: [] for split in schema.SPLITS}
    for pair_index, plan in enumerate(plan_pairs(num_videos // 2, seed)):
        rng = np.random.default_rng([seed, pair_index])
        scene = scenes.make_scene(rng, plan["kind"], width, height)
        frames = scenes.render(scene, num_frames, rng)
        if plan["reversed"]:
            frames = frames[::-1]
        for twin in range(2):
            video_id = 2 * pair_index + twin
            path = os.path.join(videos_dir, VIDEO_FILE_PATTERN.format(video_id=video_id))
            write_video(path, frames if twin == 0 else frames[::-1], fps)
            questions[plan["split"]].extend(
                pair_questions(plan, scene, video_id, plan["reversed"] != bool(twin)))
    for split, rows in questions.items():
        with open(os.path.join(output_dir, QA_FILE_PATTERN.format(split=split)), "w",
                  encoding="utf-8") as qa_file:
            json.dump(rows, qa_file, indent=1)
            qa_file.write("\n")
    with open(os.path.join(output_dir, QUESTION_GROUPS_FILE), "w", encoding="utf-8") as groups_file:
        json.dump({"order": list(ORDER_QUESTION_TYPES), "single_frame": list(SINGLE_FRAME_QUESTION_TYPES)},
                  groups_file, indent=1)
        groups_file.write("\n")
    all_rows = [row for rows in questions.values() for row in rows]
    return {
        "output_dir": output_dir, "num_videos": num_videos, "seed": seed,
        "width": width, "height": height, "fps": fps, "frames_per_video": num_frames,
        "videos_per_split": {split: len(rows) // 3 for split, rows in questions.items()},
        "questions_per_type": dict(sorted(collections.Counter(
            row["question_type"] for row in all_rows).items())),
        "answers": dict(sorted(collections.Counter(row["answer"] for row in all_rows).items())),
    }


def run(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output_dir", required=True, help="directory to write videos/ and *_qa.json into")
    parser.add_argument("--num_videos", type=int, default=200, help="even number of clips (twin pairs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--height", type=int, default=120)
    parser.add_argument("--fps", type=float, default=24)
    parser.add_argument("--seconds", type=float, default=2.0)
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        parser.error(f"unrecognised arguments: {' '.join(unknown)}")
    try:
        summary = generate(args.output_dir, args.num_videos, args.seed, width=args.width,
                           height=args.height, fps=args.fps, seconds=args.seconds)
    except ValueError as error:
        parser.error(str(error))
    print(f"wrote {summary['num_videos']} videos ({summary['width']}x{summary['height']}, "
          f"{summary['frames_per_video']} frames at {summary['fps']:g} fps) to {summary['output_dir']}")
    print("videos per split:", json.dumps(summary["videos_per_split"]))
    print("questions per type:", json.dumps(summary["questions_per_type"]))
    print("answers:", json.dumps(summary["answers"]))
    return summary


if __name__ == "__main__":
    run()
