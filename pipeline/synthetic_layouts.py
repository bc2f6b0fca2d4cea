"""The synthetic data set in the published layouts of TGIF-QA, NExT-QA and ActivityNet-QA.

Each clip shows one event (`synthetic_scenes`); clips come in reversal twins
(video 2k+1 is video 2k backwards) that share a split and their questions, but
not the answers of order questions (`synthetic_questions`). Files, exactly as
the benchmarks publish them (the samples in /work/shared/datasets/ are the
reference):

  tgif_qa         {Train,Test}_{transition,action,count,frameqa}_question.csv: tab-separated,
                  a header, CRLF line ends; videos/<gif_name>.gif (animated GIFs)
  next_qa         {train,val,test}.csv and map_vid_vidorID.json (video -> "dir/id");
                  videos/<dir>/<id>.mp4
  activitynet_qa  {train,val,test}_q.json and {train,val,test}_a.json (one-line JSON lists joined
                  on question_id); videos/v_<video_name>.mp4, the first pair .webm, the second .mkv

What each file asks (order questions need the frames in order):
  TGIF-QA   Transition (5 candidates): what happens to the event object (order);
            Count: the boxes on the truck at the end and the like (order);
            Action (5 candidates): its colour and the number of circles (single frame);
            FrameQA: colour (type 2) and the number of circles as a word (type 1).
            The pipeline types TGIF-QA questions by file (FrameQA: by `type`), so
            each file holds one group; the number of circles is not in the Count
            file, which would mix the groups under one type.
  NExT-QA   per video: the event (type TC, TN or TP), circles (DC), colour (DO); 5 candidates.
  ActivityNet-QA  per video: the event (type 2 temporal), colour (4), circles (7 number).
"""

import csv
import dataclasses
import json
import os
import string

import numpy as np

from features import schema
from pipeline import synthetic_questions as questions
from pipeline import synthetic_scenes as scenes
from pipeline import synthetic_video
from pipeline.layouts import splits as split_rules

VIDEOS_DIR = "videos"
# The MSRVTT-QA layout (written by `synthetic` and `synthetic_hard`).
MSRVTT_VIDEO_FILE_PATTERN = "video{video_id}.mp4"
MSRVTT_QA_FILE_PATTERN = "{split}_qa.json"
# {group: [question types]}: read by `model.ablation --question_groups`.
QUESTION_GROUPS_FILE = "question_groups.json"
# The share of pairs held out of train, shared evenly by the other splits (val 10%, test 10%).
HELD_OUT_FRACTION = 0.2
# Seeds of the random streams besides each pair's scene stream [seed, pair_index].
NAMES_STREAM = 1_000_003
CHOICES_STREAM = 1

YOUTUBE_ID_ALPHABET = string.ascii_letters + string.digits + "-_"
YOUTUBE_ID_LENGTH = 11
TUMBLR_ID_LENGTH = 17  # tumblr_<17 letters and digits>o1_250, as TGIF's GIFs are named.


@dataclasses.dataclass(frozen=True)
class Clip:
    """One written video and what it shows."""

    index: int                  # twins are 2k and 2k+1
    pair_index: int
    split: str
    name: str                   # the benchmark's own video id
    relative_path: str          # of the video file, under the output directory
    facts: questions.ClipFacts
    choices: questions.PairChoices
    num_frames: int
    width: int
    height: int


def random_ids(rng, count, alphabet=YOUTUBE_ID_ALPHABET, length=YOUTUBE_ID_LENGTH):
    """`count` distinct ids of `length` characters of `alphabet` (default: YouTube's ids)."""
    ids, seen = [], set()
    while len(ids) < count:
        candidate = "".join(alphabet[index] for index in rng.integers(len(alphabet), size=length))
        if candidate not in seen:
            seen.add(candidate)
            ids.append(candidate)
    return ids


def split_sizes(num_pairs, splits=schema.SPLITS):
    """Pair counts per split, train first: about 80/10/10 (80/20 for two splits).

    Every split is non-empty from len(splits) pairs up; below that, train gets
    one pair and the last split the rest.
    """
    held_out_splits = len(splits) - 1
    if num_pairs > held_out_splits:
        held_out = max(1, round(HELD_OUT_FRACTION / held_out_splits * num_pairs))
        held_out = min(held_out, (num_pairs - 1) // held_out_splits)
        return (num_pairs - held_out_splits * held_out,) + (held_out,) * held_out_splits
    if not num_pairs:
        return (0,) * len(splits)
    return (1,) + (0,) * (held_out_splits - 1) + (num_pairs - 1,)


def write_question_groups(output_dir, groups):
    with open(os.path.join(output_dir, QUESTION_GROUPS_FILE), "w", encoding="utf-8") as groups_file:
        json.dump(groups, groups_file, indent=1)
        groups_file.write("\n")


def write_clip_video(path, frames, fps):
    """Encode by the file's extension: .gif (GIF), .webm (VP9), .mp4/.mkv (H.264); Matroska bit-exact."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    extension = os.path.splitext(path)[1]
    if extension == ".gif":
        synthetic_video.write_gif(path, frames, fps)
        return
    matroska = extension in (".mkv", ".webm")
    synthetic_video.write_video(
        path, frames, fps, codec="libvpx-vp9" if extension == ".webm" else "libx264",
        container_options=synthetic_video.BITEXACT_CONTAINER_OPTIONS if matroska else None)


def carved_split(video_id):
    """The split the reader gives a video of a train file of a layout published without validation."""
    return split_rules.carve_validation(video_id, split_rules.CARVED_VALIDATION_PERCENT)


def write_csv(path, header, rows, delimiter=",", line_end="\n"):
    with open(path, "w", encoding="utf-8", newline="") as csv_file:
        writer = csv.writer(csv_file, delimiter=delimiter, lineterminator=line_end)
        if header:
            writer.writerow(header)
        writer.writerows(rows)


def write_json(path, value):
    """One line, default separators, no final newline: how NExT-QA and ActivityNet-QA publish JSON."""
    with open(path, "w", encoding="utf-8") as json_file:
        json_file.write(json.dumps(value))


def render_pairs(layout, output_dir, plans, seed, settings):
    """Draw and write every twin pair of `plans`; the list of Clips, in video order."""
    names = layout.video_names(np.random.default_rng([seed, NAMES_STREAM]), 2 * len(plans))
    clips = []
    for pair_index, plan in enumerate(plans):
        rng = np.random.default_rng([seed, pair_index])
        scene = scenes.make_scene(rng, plan["kind"], settings.width, settings.height)
        frames = scenes.render(scene, settings.num_frames, rng)
        if plan["reversed"]:
            frames = frames[::-1]
        facts = questions.ClipFacts.of(scene, forwards=not plan["reversed"])
        choices = questions.choose(np.random.default_rng([seed, pair_index, CHOICES_STREAM]), facts,
                                   layout.num_candidates)
        for twin in range(2):
            index = 2 * pair_index + twin
            relative_path = layout.relative_path(names[index], pair_index)
            write_clip_video(os.path.join(output_dir, relative_path), frames if twin == 0 else frames[::-1],
                             settings.fps)
            clips.append(Clip(index=index, pair_index=pair_index, split=plan["split"], name=names[index],
                              relative_path=relative_path, facts=facts.reversed() if twin else facts,
                              choices=choices, num_frames=settings.num_frames, width=settings.width,
                              height=settings.height))
    return clips


class SingleEventLayout:
    """A layout whose clips hold one event each (subclasses give names, paths and files)."""

    events_per_video = 1

    def render_pairs(self, output_dir, plans, seed, settings):
        return render_pairs(self, output_dir, plans, seed, settings)


class TgifQaLayout(SingleEventLayout):
    """TGIF-QA: four task files per split, tab-separated, GIFs."""

    name = "tgif_qa"
    splits = (schema.TRAIN_SPLIT, schema.TEST_SPLIT)  # TGIF-QA publishes no validation split.
    default_settings = synthetic_video.ClipSettings(width=120, height=90, fps=10, seconds=2.0)
    gif = True
    num_candidates = 5
    split_names = {schema.TRAIN_SPLIT: "Train", schema.TEST_SPLIT: "Test"}
    file_pattern = "{split}_{task}_question.csv"
    choice_header = ("gif_name", "question", "a1", "a2", "a3", "a4", "a5", "answer", "vid_id", "key")
    headers = {
        "transition": choice_header,
        "action": choice_header,
        "count": ("gif_name", "question", "answer", "vid_id", "key"),
        "frameqa": ("gif_name", "question", "answer", "type", "vid_id", "key", "description"),
    }
    vid_id_prefixes = {"transition": "TRANS", "action": "ACTION", "count": "COUNT", "frameqa": "FRAMEQA"}
    frameqa_types = {"object": 0, "number": 1, "color": 2, "location": 3}
    # Question types as the pipeline reads them: FrameQA's type by name, else the file's task.
    # So each task file holds one group only: Transition and Count ask about the order.
    question_groups = {questions.ORDER_GROUP: ["count", "transition"],
                       questions.SINGLE_FRAME_GROUP: ["action", "color", "number"]}

    def video_names(self, rng, count):
        """TGIF-style GIF names; twins (2k, 2k+1) always land in one split of the reader's carve.

        The reader carves validation out of Train by a hash of each name
        (`splits.carve_validation`), so the second twin's name is drawn until
        the carve puts it where the first twin's goes: a pair never straddles
        train and val.
        """
        alphabet = string.ascii_letters + string.digits
        names, seen = [], set()
        while len(names) < count:
            name = f"tumblr_{random_ids(rng, 1, alphabet, TUMBLR_ID_LENGTH)[0]}o1_250"
            if name in seen or (len(names) % 2 and carved_split(name) != carved_split(names[-1])):
                continue
            seen.add(name)
            names.append(name)
        return names

    def relative_path(self, name, pair_index):
        return f"{VIDEOS_DIR}/{name}.gif"

    @staticmethod
    def question_text(question):
        """'how many ...' -> 'How many ... ?', as TGIF-QA writes its questions."""
        return f"{question[0].upper()}{question[1:]} ?"

    def _choice_row(self, item):
        return (self.question_text(item.question), *item.candidates, item.answer_index)

    def task_rows(self, clip):
        """{task: [row fields from the question to the answer (FrameQA: to the type)]} of one clip."""
        facts = clip.facts
        chosen = questions.choice_questions(facts, clip.choices)
        return {
            "transition": [self._choice_row(chosen["order"])],
            "action": [self._choice_row(chosen["color"]), self._choice_row(chosen["circles"])],
            "count": [(self.question_text(facts.order_count_question), facts.order_count)],
            "frameqa": [(f"{questions.COLOR_QUESTION.format(object=facts.object_name)} ?", facts.color_name,
                         self.frameqa_types["color"]),
                        (f"{questions.CIRCLES_QUESTION} ?", facts.circles_word, self.frameqa_types["number"])],
        }

    def write_annotations(self, output_dir, clips):
        files = {}
        numbers = dict.fromkeys(self.headers, 0)
        for clip in clips:
            for task, rows in self.task_rows(clip).items():
                for fields in rows:
                    numbers[task] += 1  # vid_id numbers each task's questions across both files.
                    row = [clip.name, *fields, f"{self.vid_id_prefixes[task]}{numbers[task]}", clip.index]
                    if task == "frameqa":
                        row.append(clip.facts.description())
                    name = self.file_pattern.format(split=self.split_names[clip.split], task=task)
                    files.setdefault(name, (self.headers[task], []))[1].append(row)
        for split in self.splits:  # Every file exists, even for a split without pairs.
            for task, header in self.headers.items():
                files.setdefault(self.file_pattern.format(split=self.split_names[split], task=task), (header, []))
        for name, (header, rows) in sorted(files.items()):
            write_csv(os.path.join(output_dir, name), header, rows, delimiter="\t", line_end="\r\n")
        return {name: len(rows) for name, (_, rows) in sorted(files.items())}


class NextQaLayout(SingleEventLayout):
    """NExT-QA (multiple choice): one csv per split and the video map."""

    name = "next_qa"
    splits = schema.SPLITS
    default_settings = synthetic_video.ClipSettings(width=160, height=120, fps=24, seconds=2.0)
    gif = False
    num_candidates = 5
    header = ("video", "frame_count", "width", "height", "question", "answer", "qid", "type",
              "a0", "a1", "a2", "a3", "a4")
    map_file = "map_vid_vidorID.json"
    order_questions = {"TC": "what is happening to the {object}",
                       "TN": "what happens to the {object} as the video goes on",
                       "TP": "what was happening to the {object} before the video ended"}
    question_groups = {questions.ORDER_GROUP: ["TC", "TN", "TP"], questions.SINGLE_FRAME_GROUP: ["DC", "DO"]}
    videos_per_directory = 20
    first_video_number = 4_000_000_000

    def video_names(self, rng, count):
        step = int(rng.integers(1_000, 100_000))
        return [str(self.first_video_number + index * step) for index in range(count)]

    def directory(self, pair_index):
        return f"{1000 + 2 * pair_index // self.videos_per_directory:04d}"

    def relative_path(self, name, pair_index):
        return f"{VIDEOS_DIR}/{self.directory(pair_index)}/{name}.mp4"

    def question_rows(self, clip):
        """[(question, answer index, type, candidates)] of one clip, in qid order."""
        chosen = questions.choice_questions(clip.facts, clip.choices)
        order_type = sorted(self.order_questions)[clip.choices.variant % len(self.order_questions)]
        order_text = self.order_questions[order_type].format(object=clip.facts.object_name)
        color_text = questions.COLOR_QUESTION.format(object=clip.facts.object_name)
        return [(order_text, chosen["order"].answer_index, order_type, chosen["order"].candidates),
                (questions.CIRCLES_QUESTION, chosen["circles"].answer_index, "DC", chosen["circles"].candidates),
                (color_text, chosen["color"].answer_index, "DO", chosen["color"].candidates)]

    def write_annotations(self, output_dir, clips):
        rows = {split: [] for split in self.splits}
        for clip in clips:
            for qid, (question, answer_index, question_type, candidates) in enumerate(self.question_rows(clip)):
                rows[clip.split].append([clip.name, clip.num_frames, clip.width, clip.height, question,
                                         answer_index, qid, question_type, *candidates])
        written = {}
        for split in self.splits:
            write_csv(os.path.join(output_dir, f"{split}.csv"), self.header, rows[split])
            written[f"{split}.csv"] = len(rows[split])
        video_map = {clip.name: f"{self.directory(clip.pair_index)}/{clip.name}" for clip in clips}
        write_json(os.path.join(output_dir, self.map_file), video_map)
        written[self.map_file] = len(video_map)
        return written


class ActivityNetQaLayout(SingleEventLayout):
    """ActivityNet-QA (open-ended): questions and answers in separate JSON files."""

    name = "activitynet_qa"
    splits = schema.SPLITS
    default_settings = synthetic_video.ClipSettings(width=160, height=120, fps=24, seconds=2.0)
    gif = False
    num_candidates = 5  # Unused: open-ended.
    types = {"motion": 0, "spatial": 1, "temporal": 2, "yes_no": 3, "color": 4, "object": 5,
             "location": 6, "number": 7, "other": 8}
    question_groups = {questions.ORDER_GROUP: ["temporal"], questions.SINGLE_FRAME_GROUP: ["color", "number"]}
    # The first pair's videos are WebM (VP9), the second's Matroska, as some real ones are.
    extensions_of_first_pairs = (".webm", ".mkv")

    def video_names(self, rng, count):
        return random_ids(rng, count)

    def relative_path(self, name, pair_index):
        extensions = self.extensions_of_first_pairs
        return f"{VIDEOS_DIR}/v_{name}{extensions[pair_index] if pair_index < len(extensions) else '.mp4'}"

    def question_rows(self, clip):
        """[(question, answer, type name)] of one clip."""
        facts = clip.facts
        return [(clip.choices.order_question(facts), facts.order_answer, "temporal"),
                (questions.COLOR_QUESTION.format(object=facts.object_name), facts.color_name, "color"),
                (questions.CIRCLES_QUESTION, facts.circles_word, "number")]

    def write_annotations(self, output_dir, clips):
        question_lists = {split: [] for split in self.splits}
        answer_lists = {split: [] for split in self.splits}
        for clip in clips:
            for number, (question, answer, type_name) in enumerate(self.question_rows(clip)):
                question_id = f"v_{clip.name}_{number}"
                question_lists[clip.split].append(
                    {"video_name": clip.name, "question": question, "question_id": question_id})
                answer_lists[clip.split].append(
                    {"answer": answer, "type": self.types[type_name], "question_id": question_id})
        written = {}
        for split in self.splits:
            for suffix, values in (("q", question_lists[split]), ("a", answer_lists[split])):
                write_json(os.path.join(output_dir, f"{split}_{suffix}.json"), values)
                written[f"{split}_{suffix}.json"] = len(values)
        return written
