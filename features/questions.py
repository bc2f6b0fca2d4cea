"""Typed elements passed between the pipeline's stages, and the per-question fields of a record.

    AnnotatedQuestion   one annotation row that passed validation (layout readers -> grouping)
    VideoTask           one clip to decode: a video file, or a segment of one, with its questions
    EmbeddedVideo       a clip after the CNN: its stored frame features and statistics
    Question            the per-question fields a record holds

A *clip* is what the model sees: a file, or a `Segment` of it (How2QA). Its
`clip_id` is the annotation's video id, followed by `[start:end]` for a
segment, and is the record's `video_id`, so two segments of one file are two
clips with their own features.

Answers by task (`features.schema.TASKS`):
  open_ended       `answer` is the text; the label comes from the answer vocabulary
  multiple_choice  `candidates` holds every candidate answer, `answer_index` the correct one,
                   and `answer` its text
  count            `count` is the non-negative integer answer, `answer` its text
"""

import dataclasses
import typing

from features import schema


@dataclasses.dataclass(frozen=True)
class Segment:
    """A part of a video file, in seconds from its first frame: [start, end)."""

    start: float
    end: float

    def __post_init__(self):
        if not self.end > self.start:
            raise ValueError(f"segment [{self.start:g}:{self.end:g}]: its end is not after its start")
        if self.start < 0:
            raise ValueError(f"segment [{self.start:g}:{self.end:g}] starts before the clip")

    def label(self):
        """'[7.2:18]': the notation How2QA uses."""
        return f"[{self.start:g}:{self.end:g}]"

    def to_dict(self):
        return {"start": self.start, "end": self.end}


def clip_id(video_id, segment=None):
    """The id of a whole video, or of one segment of it."""
    return video_id if segment is None else f"{video_id}{segment.label()}"


@dataclasses.dataclass
class Question:
    """One question and its answer, as written into the record."""

    question_id: str
    question: str
    answer: str
    question_type: str
    source: str                       # file and row, for error messages
    candidates: typing.Tuple[str, ...] = ()   # multiple choice only
    answer_index: int = -1            # multiple choice: index of the correct candidate
    count: int = -1                   # count: the answer
    truncated: bool = False           # the question had more than --max_question_tokens tokens

    def label_for(self, task):
        """The record's label for a task whose label does not come from a vocabulary."""
        if task == schema.TASK_MULTIPLE_CHOICE:
            return self.answer_index
        if task == schema.TASK_COUNT:
            return self.count
        raise ValueError(f"task {task!r} takes its labels from the answer vocabulary")

    def public(self, video_id=None):
        """The question as the user wrote it, for error records."""
        fields = {"question_id": self.question_id, "question": self.question, "answer": self.answer}
        if video_id is not None:
            fields = {"video_id": video_id, **fields}
        if self.candidates:
            fields["candidates"] = list(self.candidates)
        return fields


@dataclasses.dataclass
class AnnotatedQuestion:
    """A validated annotation row: the question, its video (and segment) and its split."""

    video_id: str
    video_path: str
    split: str
    split_is_explicit: bool           # from a file name or the row, not from a hash
    source_order: typing.Tuple[str, int]  # (annotation file, row index): the order rows were read in
    question: Question
    segment: typing.Optional[Segment] = None

    @property
    def clip_id(self):
        return clip_id(self.video_id, self.segment)


@dataclasses.dataclass
class VideoTask:
    """One clip to decode and embed, with every question asked about it."""

    clip_id: str
    video_id: str
    video_path: str
    split: str
    questions: typing.List[Question]
    segment: typing.Optional[Segment] = None
    cache_key: typing.Any = None      # the feature cache's key, while the clip is being embedded


@dataclasses.dataclass
class EmbeddedVideo:
    """A clip after the CNN: its frame features as stored, and their sums for tf.Transform."""

    task: VideoTask
    num_frames: int
    frame_bytes: typing.List[bytes]   # one entry per frame (see features.quantize)
    frame_sum: typing.Any             # float32 [feature_dim], over the stored values
    frame_sum_squares: typing.Any     # float32 [feature_dim]
    clip: dict                        # what decoding learnt (DecodedVideo.summary())
