"""Annotation rows to clips: read each source, drop duplicate questions, one task per clip.

  ReadSources          AnnotationSource -> AnnotatedQuestion rows        + errors
  keep_first_question  (question_id, rows) -> the first row              + errors (duplicates)
  make_video_task      (clip_id, rows) -> VideoTask                      + errors (clip in two splits)

Every rejected question leaves as an error record (`annotations.error_record`)
on the ERRORS output and is counted where the errors are written.
"""

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from features import questions as questions_lib
from pipeline import annotations, metrics

ERRORS = "errors"


def _error(stage, reason, source, fields):
    return beam.pvalue.TaggedOutput(ERRORS, annotations.error_record(
        annotations.KIND_QUESTION, stage, reason, source, fields))


def read_file_bytes(path):
    with FileSystems.open(path) as handle:
        return handle.read()


class ReadSources(beam.DoFn):
    """One annotation source (a file, or ActivityNet's question and answer pair) -> valid rows."""

    def __init__(self, read_config, locate_video):
        self.read_config = read_config
        self.locate_video = locate_video

    def process(self, source):
        with metrics.timed(metrics.STAGE_READ):
            rows, errors, input_rows = annotations.read_source(
                source, read_file_bytes, self.read_config, self.locate_video)
        metrics.count(metrics.ANNOTATION_FILES, len(source.paths))
        metrics.count(metrics.INPUT_QUESTIONS, input_rows)
        yield from rows
        for error in errors:
            yield beam.pvalue.TaggedOutput(ERRORS, error)


def keep_first_question(keyed_rows):
    """(question_id, rows): keep the first in file order; later duplicates are errors."""
    question_id, rows = keyed_rows
    rows = sorted(rows, key=lambda row: tuple(row.source_order))
    yield rows[0]
    for duplicate in rows[1:]:
        yield _error("deduplicate_questions",
                     f"duplicate question id {question_id!r} (first seen at {rows[0].question.source})",
                     duplicate.question.source, duplicate.question.public(duplicate.video_id))


def make_video_task(keyed_rows):
    """(clip_id, rows) -> one VideoTask per clip; a clip under two explicit splits is refused.

    A clip is a file, or one segment of a file (How2QA): the same file may
    appear in two splits with different segments, never the same clip.
    """
    clip_id, rows = keyed_rows
    rows = sorted(rows, key=lambda row: tuple(row.source_order))
    explicit = sorted({row.split for row in rows if row.split_is_explicit})
    if len(explicit) > 1:
        what = "video" if rows[0].segment is None else "clip (the same segment of one video)"
        for row in rows:
            yield _error("assign_splits",
                         f"{what} {clip_id!r} is annotated in splits {' and '.join(explicit)}; a "
                         f"{what.split(' ')[0]} may be in one split only (refused to avoid leaking it)",
                         row.question.source, row.question.public(row.video_id))
        return
    first = rows[0]
    yield questions_lib.VideoTask(
        clip_id=clip_id, video_id=first.video_id, video_path=first.video_path,
        split=explicit[0] if explicit else first.split, questions=[row.question for row in rows],
        segment=first.segment)


def reject_video(task, stage, reason):
    """Every question of a clip that cannot be used, as error records."""
    for question in task.questions:
        yield _error(stage, reason, question.source, question.public(task.clip_id))


def count_error(error):
    """Count one error record in the run's metrics; returns it unchanged."""
    if error["kind"] == annotations.KIND_QUESTION:
        metrics.count(metrics.REJECTED_QUESTIONS)
    else:
        metrics.count(metrics.REJECTED_FILES)
    metrics.count(metrics.rejected_metric(error["stage"]))
    return error
