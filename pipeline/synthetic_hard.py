"""Write the harder synthetic kinds (`synthetic_kinds`), each in its own directory and published layout.

    python -m pipeline.synthetic --kinds long_early,count_repeats,after_before,which_first \\
        --output_dir D --num_videos 200 --seed 0 [--width 96 --height 72]

For every kind K: D/K/ holds its clips and annotations, in the MSRVTT-QA
layout for the open-ended kinds (D/K/videos/video<N>.mp4, D/K/{train,val,test}_qa.json
with question_type K) and in the TGIF-QA Count layout for count_repeats
(D/K/videos/<gif_name>.gif, D/K/{Train,Test}_count_question.csv), plus
D/K/question_groups.json: {K: [the question types of K as the pipeline reads them]}.
D/kinds.json says, per kind, how to run the pipeline on it (`annotations`
glob, `video_pattern`, `frames_per_video`: every frame of a clip is sampled),
its task and twin type.

Clips come in twin pairs (videos 2k and 2k+1) that share a split and their
questions but not their answers, and that hold the same frames in another
order. Pairs are split like every synthetic layout's (about 80/10/10; TGIF-QA
80/20, with validation carved from train by the reader: twins' GIF names are
chosen so that both go the same way). Deterministic for a given seed.
"""

import json
import os

import numpy as np

from features import schema
from pipeline import synthetic_actors as actors
from pipeline import synthetic_kinds, synthetic_layouts, synthetic_video
from pipeline.synthetic_layouts import VIDEOS_DIR

KINDS_FILE = "kinds.json"
DEFAULT_WIDTH, DEFAULT_HEIGHT = 96, 72
# Random streams: [seed, KIND_STREAM, kind number, pair] draws a pair; [seed, NAMES_STREAM, kind number] names.
KIND_STREAM = 2_000_003
NAMES_STREAM = synthetic_layouts.NAMES_STREAM
TGIF = synthetic_layouts.TgifQaLayout()
# How the pipeline reads each layout: the annotation files of the kind and the video file names.
PIPELINE_INPUTS = {
    "msrvtt_qa": {"annotations": synthetic_layouts.MSRVTT_QA_FILE_PATTERN.format(split="*"),
                  "video_pattern": synthetic_layouts.MSRVTT_VIDEO_FILE_PATTERN},
    "tgif_qa": {"annotations": TGIF.file_pattern.format(split="*", task="count"), "video_pattern": None},
}


def pair_splits(rng, num_pairs, splits):
    """The split of every pair, about 80/10/10 (80/20), in a random order."""
    counts = synthetic_layouts.split_sizes(num_pairs, splits)
    return rng.permutation(np.repeat(np.array(splits), counts)).tolist()


def design_pairs(kind, num_pairs, seed, width, height):
    """Yield (design, first twin's frames, second twin's frames) of each pair of `kind`."""
    number = list(synthetic_kinds.KINDS).index(kind.name)
    for pair_index in range(num_pairs):
        rng = np.random.default_rng([seed, KIND_STREAM, number, pair_index])
        design = kind.design(rng, kind.num_frames)
        frames = actors.render_specs(actors.make_stage(rng, width, height), design.specs, rng)
        yield design, frames, frames[list(design.twin_order)]


def write_msrvtt_qa(kind_dir, kind, num_pairs, seed, width, height):
    """Videos video<N>.mp4 and {train,val,test}_qa.json; returns ([(path, path)] pairs, videos per split)."""
    number = list(synthetic_kinds.KINDS).index(kind.name)
    splits = pair_splits(np.random.default_rng([seed, KIND_STREAM, number]), num_pairs, schema.SPLITS)
    rows = {split: [] for split in schema.SPLITS}
    pairs = []
    for pair_index, (design, *twins) in enumerate(design_pairs(kind, num_pairs, seed, width, height)):
        paths = []
        for twin, frames in enumerate(twins):
            video_id = 2 * pair_index + twin
            path = f"{VIDEOS_DIR}/{synthetic_layouts.MSRVTT_VIDEO_FILE_PATTERN.format(video_id=video_id)}"
            synthetic_video.write_video(os.path.join(kind_dir, path), frames, kind.fps)
            paths.append(path)
            for number, item in enumerate(design.questions):
                rows[splits[pair_index]].append({
                    "question": f"{item.question}?", "answer": item.answers[twin], "video_id": video_id,
                    "id": video_id * len(design.questions) + number, "question_type": kind.name})
        pairs.append(tuple(paths))
    for split, split_rows in rows.items():
        with open(os.path.join(kind_dir, synthetic_layouts.MSRVTT_QA_FILE_PATTERN.format(split=split)), "w",
                  encoding="utf-8") as qa_file:
            json.dump(split_rows, qa_file, indent=1)
            qa_file.write("\n")
    return pairs, {split: 2 * splits.count(split) for split in schema.SPLITS}


def write_tgif_count(kind_dir, kind, num_pairs, seed, width, height):
    """GIFs <gif_name>.gif and {Train,Test}_count_question.csv; returns (pairs, videos per split)."""
    number = list(synthetic_kinds.KINDS).index(kind.name)
    splits = pair_splits(np.random.default_rng([seed, KIND_STREAM, number]), num_pairs, TGIF.splits)
    names = TGIF.video_names(np.random.default_rng([seed, NAMES_STREAM, number]), 2 * num_pairs)
    rows = {split: [] for split in TGIF.splits}
    pairs = []
    for pair_index, (design, *twins) in enumerate(design_pairs(kind, num_pairs, seed, width, height)):
        paths = []
        for twin, frames in enumerate(twins):
            index = 2 * pair_index + twin
            path = TGIF.relative_path(names[index], pair_index)
            synthetic_layouts.write_clip_video(os.path.join(kind_dir, path), frames, kind.fps)
            paths.append(path)
            for item in design.questions:  # vid_id numbers the questions across both files, as TGIF-QA's.
                vid_id = f"{TGIF.vid_id_prefixes['count']}{sum(map(len, rows.values())) + 1}"
                rows[splits[pair_index]].append(
                    [names[index], TGIF.question_text(item.question), item.answers[twin], vid_id, index])
        pairs.append(tuple(paths))
    for split, split_rows in rows.items():
        name = TGIF.file_pattern.format(split=TGIF.split_names[split], task="count")
        synthetic_layouts.write_csv(os.path.join(kind_dir, name), TGIF.headers["count"], split_rows,
                                    delimiter="\t", line_end="\r\n")
    return pairs, {split: 2 * splits.count(split) for split in TGIF.splits}


WRITERS = {"msrvtt_qa": write_msrvtt_qa, "tgif_qa": write_tgif_count}
# The question type the pipeline gives a kind's questions: MSRVTT-QA's question_type, TGIF-QA's file task.
QUESTION_TYPES = {"msrvtt_qa": lambda kind: kind.name, "tgif_qa": lambda kind: "count"}


def generate_kinds(output_dir, kinds, num_videos, seed, width=None, height=None):
    """Write every kind of `kinds` (names of synthetic_kinds.KINDS) under output_dir; the kinds.json dict."""
    width, height = width or DEFAULT_WIDTH, height or DEFAULT_HEIGHT
    if num_videos < 4 or num_videos % 2:
        raise ValueError(f"--num_videos must be an even number >= 4 with --kinds (clips come in twin "
                         f"pairs, and every split needs one), got {num_videos}")
    summary = {"seed": seed, "num_videos": num_videos, "width": width, "height": height, "kinds": {}}
    for name in kinds:
        kind = synthetic_kinds.KINDS[name]
        synthetic_video.ClipSettings(width, height, kind.fps, kind.num_frames / kind.fps).validate(
            gif=kind.layout == "tgif_qa")
        kind_dir = os.path.join(output_dir, name)
        os.makedirs(os.path.join(kind_dir, VIDEOS_DIR), exist_ok=True)
        pairs, videos_per_split = WRITERS[kind.layout](kind_dir, kind, num_videos // 2, seed, width, height)
        groups = {name: [QUESTION_TYPES[kind.layout](kind)]}
        synthetic_layouts.write_question_groups(kind_dir, groups)
        summary["kinds"][name] = dict(
            directory=name, layout=kind.layout, task=kind.task, frames_per_video=kind.num_frames, fps=kind.fps,
            twin=kind.twin, question_groups=groups,
            videos_per_split=videos_per_split, pairs=[list(pair) for pair in pairs], **PIPELINE_INPUTS[kind.layout])
    with open(os.path.join(output_dir, KINDS_FILE), "w", encoding="utf-8") as kinds_file:
        json.dump(summary, kinds_file, indent=1)
        kinds_file.write("\n")
    return summary
