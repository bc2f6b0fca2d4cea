"""Write a small synthetic VideoQA data set: real clips plus annotations in a benchmark's published layout.

    python -m pipeline.synthetic --output_dir D --num_videos 200 --seed 0 [--layout msrvtt_qa]

`--layout` (LAYOUT_CHOICES) picks the benchmark whose files are written, so the
pipeline's readers take them as that benchmark's published data:

  msrvtt_qa (default)  D/videos/video<N>.mp4 and D/{train,val,test}_qa.json (below)
  tgif_qa         D/{Train,Test}_{transition,action,count,frameqa}_question.csv, D/videos/<gif_name>.gif
  next_qa         D/{train,val,test}.csv, D/map_vid_vidorID.json, D/videos/<dir>/<id>.mp4
  activitynet_qa  D/{train,val,test}_{q,a}.json, D/videos/v_<video_name>.{mp4,webm,mkv}
  how2qa          D/how2QA_{train,val}_release.csv, D/how2QA_test_public_release.csv, D/videos/<yt_id>.mp4

(see `synthetic_layouts` and `synthetic_how2qa` for what each asks), plus
`D/question_groups.json`: {"order": [question types], "single_frame": [...]},
the question types (as the pipeline reads them) whose answers need the order
of frames and those that any frame answers, for `model.ablation --question_groups`.

msrvtt_qa: each file is a JSON list of {"question", "answer", "video_id", "id",
"question_type"} with integer `video_id` (so `--video_pattern 'video{video_id}.mp4'`
finds the file) and ids unique across the three files. Each clip shows one
temporal event (see `synthetic_scenes`) and gets three questions: one about the
order of the event (question_type = the event kind, see ORDER_QUESTION_TYPES),
one about the colour of the event object and one about how many circles there
are (SINGLE_FRAME_QUESTION_TYPES).

Every layout: clips come in reversal twins: video 2k+1 is video 2k's frames in
reverse order, so its order answers flip (growing <-> shrinking, 6 boxes at the
end <-> 0 ...) while the single-frame answers stay the same. A model that
averages frame features sees the same input for both twins and cannot beat
chance on order questions; a model that reads the frames in order can. Twins
always share a split; pairs are split about 80/10/10 (train/val/test; TGIF-QA,
which has no val split, 80/20), with every split non-empty from three pairs up
(two for TGIF-QA). Everything is deterministic for a given seed, decoded frames
included (GIFs and annotation files byte for byte). The ball of an "appearance"
clip is visible in half its frames only.

Harder kinds, whose answers hang on the order and timing of several events
(`synthetic_kinds`; each written to D/<kind>/ in its own layout, with
D/kinds.json saying how to run the pipeline on each, see `synthetic_hard`):

    python -m pipeline.synthetic --output_dir D --kinds long_early,count_repeats,after_before,which_first
"""

import argparse
import collections
import json
import os

import numpy as np

from features import schema
from pipeline import synthetic_hard, synthetic_how2qa, synthetic_kinds
from pipeline import synthetic_layouts
from pipeline import synthetic_questions
from pipeline import synthetic_scenes as scenes
from pipeline import synthetic_video
# Re-exported: other modules and tests encode their clips with `synthetic.write_video`.
from pipeline.synthetic_video import DEFAULT_CODEC_OPTIONS, FULL_RANGE_CODECS, write_video  # noqa: F401
from pipeline.synthetic_layouts import split_sizes, write_question_groups  # noqa: F401

ORDER_QUESTION_TYPES = scenes.EVENT_KINDS
SINGLE_FRAME_QUESTION_TYPES = ("color", "count")
VIDEO_FILE_PATTERN = synthetic_layouts.MSRVTT_VIDEO_FILE_PATTERN
VIDEOS_DIR = synthetic_layouts.VIDEOS_DIR
# {"order": [question types], "single_frame": [...]}: read by `model.ablation --question_groups`.
QUESTION_GROUPS_FILE = synthetic_layouts.QUESTION_GROUPS_FILE
QA_FILE_PATTERN = synthetic_layouts.MSRVTT_QA_FILE_PATTERN
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

DEFAULT_LAYOUT = "msrvtt_qa"
MSRVTT_SETTINGS = synthetic_video.ClipSettings(width=160, height=120, fps=24, seconds=2.0)
LAYOUTS = {layout.name: layout for layout in (
    synthetic_layouts.TgifQaLayout(), synthetic_layouts.NextQaLayout(),
    synthetic_layouts.ActivityNetQaLayout(), synthetic_how2qa.How2QaLayout())}
LAYOUT_CHOICES = (DEFAULT_LAYOUT, *LAYOUTS)
MSRVTT_QUESTION_GROUPS = {synthetic_questions.ORDER_GROUP: list(ORDER_QUESTION_TYPES),
                          synthetic_questions.SINGLE_FRAME_GROUP: list(SINGLE_FRAME_QUESTION_TYPES)}

def plan_pairs(num_pairs, seed, splits=schema.SPLITS):
    """Per pair: split, event kind, direction of the even twin and question phrasings."""
    rng = np.random.default_rng(seed)
    counts = split_sizes(num_pairs, splits)
    splits_of_pairs = rng.permutation(np.repeat(np.array(splits), counts)).tolist()
    offsets = {split: int(rng.integers(len(ORDER_QUESTION_TYPES))) for split in splits}
    seen = collections.Counter()
    plans = []
    for split in splits_of_pairs:  # Kinds cycle within each split, so every split is balanced.
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


def clip_settings(layout, width=None, height=None, fps=None, seconds=None):
    """The layout's default size and timing, overridden by the values given; validated."""
    defaults = MSRVTT_SETTINGS if layout == DEFAULT_LAYOUT else LAYOUTS[layout].default_settings
    settings = synthetic_video.ClipSettings(
        width=defaults.width if width is None else width, height=defaults.height if height is None else height,
        fps=defaults.fps if fps is None else fps, seconds=defaults.seconds if seconds is None else seconds)
    settings.validate(gif=layout != DEFAULT_LAYOUT and LAYOUTS[layout].gif)
    return settings


def generate(output_dir, num_videos, seed, width=None, height=None, fps=None, seconds=None,
             layout=DEFAULT_LAYOUT):
    """Write the clips, the annotation files of `layout` and question_groups.json; return a summary dict.

    Size and timing default to the layout's (msrvtt_qa: 160x120, 24 fps, 2 s).
    """
    if layout not in LAYOUT_CHOICES:
        raise ValueError(f"--layout must be one of {', '.join(LAYOUT_CHOICES)}, got {layout!r}")
    if num_videos < 2 or num_videos % 2:
        raise ValueError(f"--num_videos must be an even number >= 2 (clips come in reversal "
                         f"twins), got {num_videos}")
    settings = clip_settings(layout, width, height, fps, seconds)
    if layout == DEFAULT_LAYOUT:
        return generate_msrvtt_qa(output_dir, num_videos, seed, settings)
    writer = LAYOUTS[layout]
    os.makedirs(os.path.join(output_dir, VIDEOS_DIR), exist_ok=True)
    clips = writer.render_pairs(output_dir, plan_pairs(num_videos // 2, seed, writer.splits), seed, settings)
    files = writer.write_annotations(output_dir, clips)
    write_question_groups(output_dir, writer.question_groups)
    return {
        "output_dir": output_dir, "layout": layout, "num_videos": num_videos, "seed": seed,
        "width": settings.width, "height": settings.height, "fps": settings.fps,
        "frames_per_video": writer.events_per_video * settings.num_frames,
        "videos_per_split": {split: sum(clip.split == split for clip in clips) for split in writer.splits},
        "rows_per_file": files, "question_groups": writer.question_groups,
        # Twin pairs (video files relative to output_dir): the second is the first backwards.
        "pairs": [[first.relative_path, second.relative_path] for first, second in zip(clips[::2], clips[1::2])],
    }


def generate_msrvtt_qa(output_dir, num_videos, seed, settings):
    """The MSRVTT-QA layout: videos/video<N>.mp4 and {train,val,test}_qa.json."""
    width, height, fps, num_frames = settings.width, settings.height, settings.fps, settings.num_frames
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
    write_question_groups(output_dir, MSRVTT_QUESTION_GROUPS)
    all_rows = [row for rows in questions.values() for row in rows]
    return {
        "output_dir": output_dir, "layout": DEFAULT_LAYOUT, "num_videos": num_videos, "seed": seed,
        "width": width, "height": height, "fps": fps, "frames_per_video": num_frames,
        "videos_per_split": {split: len(rows) // 3 for split, rows in questions.items()},
        "questions_per_type": dict(sorted(collections.Counter(
            row["question_type"] for row in all_rows).items())),
        "answers": dict(sorted(collections.Counter(row["answer"] for row in all_rows).items())),
    }


def run(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output_dir", required=True, help="directory to write videos/ and the annotations into")
    parser.add_argument("--num_videos", type=int, default=200, help="even number of clips (twin pairs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layout", choices=LAYOUT_CHOICES, default=None,
                        help=f"the benchmark whose published file layout to write (default {DEFAULT_LAYOUT})")
    parser.add_argument("--kinds", default=None,
                        help=f"instead of --layout: harder kinds, each in D/<kind>/ ({','.join(synthetic_kinds.KINDS)}); "
                             f"their frame counts are fixed, at --width x --height (default "
                             f"{synthetic_hard.DEFAULT_WIDTH}x{synthetic_hard.DEFAULT_HEIGHT})")
    parser.add_argument("--width", type=int, default=None, help="default: the layout's (160; tgif_qa 120)")
    parser.add_argument("--height", type=int, default=None, help="default: the layout's (120; tgif_qa 90)")
    parser.add_argument("--fps", type=float, default=None,
                        help="default: the layout's (24; tgif_qa 10: GIF rates must divide 100)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="length of a clip (how2qa: of each of its events); default 2")
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        parser.error(f"unrecognised arguments: {' '.join(unknown)}")
    if args.kinds is not None:
        return run_kinds(parser, args)
    try:
        summary = generate(args.output_dir, args.num_videos, args.seed, width=args.width, height=args.height,
                           fps=args.fps, seconds=args.seconds, layout=args.layout or DEFAULT_LAYOUT)
    except ValueError as error:
        parser.error(str(error))
    print(f"wrote {summary['num_videos']} videos ({summary['width']}x{summary['height']}, "
          f"{summary['frames_per_video']} frames at {summary['fps']:g} fps) to {summary['output_dir']} "
          f"in the {summary['layout']} layout")
    print("videos per split:", json.dumps(summary["videos_per_split"]))
    if "questions_per_type" in summary:
        print("questions per type:", json.dumps(summary["questions_per_type"]))
        print("answers:", json.dumps(summary["answers"]))
    else:
        print("rows per file:", json.dumps(summary["rows_per_file"]))
    print(f"question groups ({QUESTION_GROUPS_FILE}):",
          json.dumps(summary.get("question_groups", MSRVTT_QUESTION_GROUPS)))
    return summary


def run_kinds(parser, args):
    """`--kinds`: the harder kinds, each in its own directory; refuses flags that do not apply."""
    given = [flag for flag, value in (("--layout", args.layout), ("--fps", args.fps), ("--seconds", args.seconds))
             if value is not None]
    if given:
        parser.error(f"--kinds chooses each kind's layout and timing: leave out {', '.join(given)}")
    try:
        summary = synthetic_hard.generate_kinds(args.output_dir, synthetic_kinds.parse_kinds(args.kinds),
                                                args.num_videos, args.seed, width=args.width, height=args.height)
    except ValueError as error:
        parser.error(str(error))
    for name, kind in summary["kinds"].items():
        print(f"{name}: {summary['num_videos']} videos ({summary['width']}x{summary['height']}, "
              f"{kind['frames_per_video']} frames at {kind['fps']:g} fps, {kind['twin']} twins) in the "
              f"{kind['layout']} layout ({kind['task']}) -> {os.path.join(args.output_dir, kind['directory'])}; "
              f"videos per split {json.dumps(kind['videos_per_split'])}")
    print(f"how to run the pipeline on each kind: {os.path.join(args.output_dir, synthetic_hard.KINDS_FILE)}")
    return summary


if __name__ == "__main__":
    run()
