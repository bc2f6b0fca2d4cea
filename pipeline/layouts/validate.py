"""The checks every layout shares, from a parsed row to a `features.questions.AnnotatedQuestion`.

In order (the first that fails is the row's reason): text that is not valid
Unicode; an unknown split; a question with no words; an answer (or a candidate)
with no words; a video that cannot be located. Questions are tokenised and
answers normalised in one batch per file (`features.text` runs TensorFlow ops).
"""

import dataclasses
import typing

from features import schema, text
from features.questions import AnnotatedQuestion, Question
from pipeline.layouts import common, splits


@dataclasses.dataclass(frozen=True)
class SplitRule:
    """How a file's rows get their split."""

    file_split: typing.Optional[str]     # from the file name
    carve_validation_percent: int = 0    # > 0: a train file gives this share of its videos to val


def _text_problem(row):
    fields = [("video_id", row.video_id), ("question", row.question), ("answer", row.answer),
              ("question_id", row.question_id), ("question_type", row.question_type), ("split", row.split_field)]
    fields += [(f"candidate {index}", candidate) for index, candidate in enumerate(row.candidates)]
    for key, value in fields:
        reason = common.invalid_text(key, value)
        if reason:
            return reason
    return None


def _split_of(row, rule):
    """(split, is_explicit, None), or (None, False, reason)."""
    if rule.file_split is not None:
        split = rule.file_split
        if split == schema.TRAIN_SPLIT and rule.carve_validation_percent > 0:
            split = splits.carve_validation(row.video_id, rule.carve_validation_percent)
        return split, True, None
    if row.split_field.strip():
        split = splits.split_from_field(row.split_field)
        if split is None:
            return None, False, f"unknown split {row.split_field!r} (expected train, val or test)"
        return split, True, None
    return splits.split_from_hash(row.video_id), False, None


def validate_rows(parsed_rows, rule, max_question_tokens, locate_video, path):
    """ParsedRows of one file -> (AnnotatedQuestions, [(order, error record)])."""
    rejected = []
    readable = []
    for row in parsed_rows:
        reason = _text_problem(row)
        if reason:
            rejected.append((row.order, _reject(row, reason)))
        else:
            readable.append(row)
    tokens = text.tokenize_python([row.question for row in readable])
    answer_texts = [row.answer for row in readable if not row.candidates]
    candidate_texts = [candidate for row in readable for candidate in row.candidates]
    normalized = iter(text.normalize_answers_python(answer_texts + candidate_texts))
    answers = {id(row): next(normalized) for row in readable if not row.candidates}
    candidates = {id(row): [next(normalized) for _ in row.candidates] for row in readable if row.candidates}
    valid = []
    for row, question_tokens in zip(readable, tokens):
        split, split_is_explicit, reason = _split_of(row, rule)
        if reason is None:
            reason = _words_problem(row, question_tokens, answers.get(id(row)), candidates.get(id(row)))
        video_path = None
        if reason is None:
            try:
                video_path = locate_video(row.video_id)
            except ValueError as error:
                reason = str(error)
        if reason is not None:
            rejected.append((row.order, _reject(row, reason)))
            continue
        question = Question(
            question_id=row.question_id, question=row.question, answer=row.answer,
            question_type=text.question_type(question_tokens, row.question_type), source=row.source,
            candidates=row.candidates, answer_index=row.answer_index, count=row.count,
            truncated=len(question_tokens) > max_question_tokens)
        valid.append(AnnotatedQuestion(
            video_id=row.video_id, video_path=video_path, split=split, split_is_explicit=split_is_explicit,
            source_order=(path, row.order), question=question, segment=row.segment))
    return valid, rejected


def _words_problem(row, question_tokens, normalized_answer, normalized_candidates):
    """Why the question, answer or a candidate has no words, or None."""
    if not question_tokens:
        return "empty question (no words after normalisation)"
    if row.candidates:
        for index, words in enumerate(normalized_candidates):
            if not words:
                return f"candidate {index} ({row.candidates[index]!r}) has no words after normalisation"
        return None
    if not normalized_answer:
        return "empty answer (no words after normalisation)"
    return None


def _reject(row, reason):
    return common.error_record(common.KIND_QUESTION, common.STAGE, reason, row.source, row.raw)
