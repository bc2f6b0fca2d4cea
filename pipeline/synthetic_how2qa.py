"""The synthetic data set in How2QA's published layout: longer videos, questions about segments.

    how2QA_train_release.csv, how2QA_val_release.csv, how2QA_test_public_release.csv

comma-separated, no header, seven columns per question:

    yt_id,[start:end],wrong1,wrong2,wrong3,question,correct

for example `-aB3xY_k9Qz,[2.0:4.0],loading,shrinking,appearing,what is happening to the square?,growing`.
Videos are `videos/<yt_id>.mp4`.

A video holds EVENTS_PER_VIDEO events of one kind one after another, each
`seconds` long (the square grows, then shrinks, then grows again; at least one
event runs each way), and each event is one segment `[start:end]` in seconds.
Every segment gets the same order question, so two segments of one video have
different answers; one segment per video also gets "how many circles are
there?" (single frame). The twin of a video is the whole video reversed: its
segment i is the original's segment (last - i) backwards, with the same
question text and the opposite answer.

Question types: these files carry none, so the pipeline types a question by
its first word: order questions start with "what", the circles one with "how".
"""

import dataclasses
import math
import os

import numpy as np

from features import schema
from pipeline import synthetic_layouts as layouts
from pipeline import synthetic_questions as questions
from pipeline import synthetic_scenes as scenes
from pipeline import synthetic_video

EVENTS_PER_VIDEO = 3
NUM_CANDIDATES = 4  # three wrong answers and the correct one


@dataclasses.dataclass(frozen=True)
class SegmentedClip:
    """One written video: its events, one per segment, in time order."""

    index: int                    # twins are 2k and 2k+1
    pair_index: int
    split: str
    name: str                     # yt_id
    relative_path: str
    segments: tuple               # ((start, end) in seconds, ...)
    facts: tuple                  # ClipFacts of each segment
    choices: questions.PairChoices
    circles_segment: int          # the segment asked about the circles


def segment_bounds(settings):
    """[(start, end)] seconds of each event: the exact frame times, start rounded up and end down to 1 ms.

    So a segment never takes a frame of its neighbour, whatever the frame rate.
    """
    bounds = []
    for event in range(EVENTS_PER_VIDEO):
        start = round(event * settings.num_frames / settings.fps, 6)
        end = round((event + 1) * settings.num_frames / settings.fps, 6)
        bounds.append((math.ceil(start * 1000) / 1000, math.floor(end * 1000) / 1000))
    return tuple(bounds)


def segment_label(bounds):
    """'[2.0:4.0]': How2QA's notation."""
    start, end = bounds
    return f"[{float(start)!r}:{float(end)!r}]"


class How2QaLayout:
    """How2QA: three headerless csv files, segments of longer videos, four candidates."""

    name = "how2qa"
    splits = schema.SPLITS
    default_settings = synthetic_video.ClipSettings(width=160, height=120, fps=24, seconds=2.0)
    gif = False
    num_candidates = NUM_CANDIDATES
    events_per_video = EVENTS_PER_VIDEO
    file_names = {schema.TRAIN_SPLIT: "how2QA_train_release.csv",
                  schema.VALIDATION_SPLIT: "how2QA_val_release.csv",
                  schema.TEST_SPLIT: "how2QA_test_public_release.csv"}
    question_groups = {questions.ORDER_GROUP: ["what"], questions.SINGLE_FRAME_GROUP: ["how"]}

    def render_pairs(self, output_dir, plans, seed, settings):
        """Draw and write every twin pair; the list of SegmentedClips, in video order."""
        names = layouts.random_ids(np.random.default_rng([seed, layouts.NAMES_STREAM]), 2 * len(plans))
        bounds = segment_bounds(settings)
        clips = []
        for pair_index, plan in enumerate(plans):
            rng = np.random.default_rng([seed, pair_index])
            scene = scenes.make_scene(rng, plan["kind"], settings.width, settings.height)
            extra_direction = bool(rng.integers(2))
            directions = [bool(value) for value in rng.permutation(
                [True, False] + [extra_direction] * (EVENTS_PER_VIDEO - 2))]
            parts = []
            for forwards in directions:
                frames = scenes.render(scene, settings.num_frames, rng)
                parts.append(frames if forwards else frames[::-1])
            frames = np.concatenate(parts)
            facts = tuple(questions.ClipFacts.of(scene, forwards) for forwards in directions)
            choices = questions.choose(np.random.default_rng([seed, pair_index, layouts.CHOICES_STREAM]),
                                       facts[0], NUM_CANDIDATES)
            circles_segment = choices.variant % EVENTS_PER_VIDEO
            for twin in range(2):
                index = 2 * pair_index + twin
                relative_path = f"{layouts.VIDEOS_DIR}/{names[index]}.mp4"
                layouts.write_clip_video(os.path.join(output_dir, relative_path),
                                         frames if twin == 0 else frames[::-1], settings.fps)
                clips.append(SegmentedClip(
                    index=index, pair_index=pair_index, split=plan["split"], name=names[index],
                    relative_path=relative_path, segments=bounds, choices=choices,
                    facts=tuple(item.reversed() for item in facts[::-1]) if twin else facts,
                    circles_segment=EVENTS_PER_VIDEO - 1 - circles_segment if twin else circles_segment))
        return clips

    @staticmethod
    def question_rows(clip):
        """[(segment index, ChoiceQuestion)] of one video, in time order, then the circles question."""
        rows = [(segment, questions.choice_questions(facts, clip.choices)["order"])
                for segment, facts in enumerate(clip.facts)]
        circles = questions.choice_questions(clip.facts[clip.circles_segment], clip.choices)["circles"]
        return rows + [(clip.circles_segment, circles)]

    def write_annotations(self, output_dir, clips):
        rows = {split: [] for split in self.splits}
        for clip in clips:
            for segment, item in self.question_rows(clip):
                rows[clip.split].append([clip.name, segment_label(clip.segments[segment]), *item.wrong_answers,
                                         f"{item.question}?", item.answer])
        for split in self.splits:
            layouts.write_csv(os.path.join(output_dir, self.file_names[split]), None, rows[split])
        return {self.file_names[split]: len(rows[split]) for split in self.splits}
