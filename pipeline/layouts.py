"""Annotation layouts (TEMPORARY: generic only, until the published layouts land).

plan_sources(paths, layout, read_head) -> [AnnotationSource]; read_source(...)
-> (AnnotatedQuestion rows, error records, input row count).
"""

import dataclasses
import typing

from features import questions as questions_lib
from features import schema
from pipeline import annotations

AUTO_LAYOUT = "auto"
LAYOUT_CHOICES = (AUTO_LAYOUT, "msvd_qa", "msrvtt_qa", "tgif_qa", "next_qa", "activitynet_qa", "how2qa", "generic")


@dataclasses.dataclass(frozen=True)
class AnnotationSource:
    paths: tuple
    layout: str
    task: str
    split: typing.Optional[str]
    num_candidates: int


@dataclasses.dataclass(frozen=True)
class ReadConfig:
    max_question_tokens: int


def plan_sources(paths, layout, read_head):
    return [AnnotationSource((path,), "generic", schema.TASK_OPEN_ENDED,
                             annotations.split_from_file_name(path), 0) for path in sorted(paths)]


def read_source(source, read_bytes, config, locate_video):
    path = source.paths[0]
    try:
        data = read_bytes(path)
    except Exception as error:
        return [], [annotations.error_record(annotations.KIND_FILE, "read_annotations",
                                             f"cannot read file ({error})", path)], 0
    rows, errors = annotations.parse_annotation_file(path, data, config.max_question_tokens, locate_video)
    typed = []
    for index, row in enumerate(rows):
        question = questions_lib.Question(
            question_id=row[annotations.ROW_QUESTION_ID], question=row[annotations.ROW_QUESTION],
            answer=row[annotations.ROW_ANSWER], question_type=row[annotations.ROW_QUESTION_TYPE],
            source=row[annotations.ROW_SOURCE], truncated=row[annotations.ROW_TRUNCATED])
        typed.append(questions_lib.AnnotatedQuestion(
            video_id=row[annotations.ROW_VIDEO_ID], video_path=row[annotations.ROW_VIDEO_PATH],
            split=row[annotations.ROW_SPLIT], split_is_explicit=row[annotations.ROW_SPLIT_IS_EXPLICIT],
            source_order=(path, index), question=question))
    input_rows = len(rows) + sum(1 for error in errors if error["kind"] == annotations.KIND_QUESTION)
    return typed, errors, input_rows
