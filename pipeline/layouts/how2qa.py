"""How2QA: `how2QA_{train,val}_release.csv`, `how2QA_test_public_release.csv`; no header.

Seven comma-separated columns (RFC-4180 quoting when a field holds a comma):

    yt_id,[start:end],wrong1,wrong2,wrong3,question,correct
    NOuQuofjk44,[7.2:18.0],10,12,16,how many knife is there?,1

Multiple choice with 4 candidates. The published order puts the correct answer
last; here the four are presented in an order fixed by a hash of the question
(video, segment and text), so `answer_index` is spread over 0..3 and a given
question always gets the same order. The clip is `[start:end]` seconds of
`<yt_id>.mp4` (a `features.questions.Segment`). Question ids are the file name
and line, `how2QA_train_release.csv:12`: stable and unique within a run.
"""

import hashlib
import re

from features import schema
from features.questions import Segment
from pipeline.layouts import common, detect

NAME = "how2qa"
COLUMNS = ("yt_id", "[start:end]", "wrong1", "wrong2", "wrong3", "question", "correct")
NUM_CANDIDATES = 4
_NUMBER = r"\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*"
SEGMENT_PATTERN = re.compile(r"^\s*\[" + _NUMBER + ":" + _NUMBER + r"\]\s*$")


def detect_file(head, explicit):
    if head.format != detect.FORMAT_DELIMITED or head.delimiter != ",":
        return None
    fits = len(head.first_fields) == len(COLUMNS) and SEGMENT_PATTERN.match(head.first_fields[1])
    if fits or (explicit and "how2qa" in head.lower_name):
        return detect.FileKind(NAME, schema.TASK_MULTIPLE_CHOICE, NUM_CANDIDATES)
    return None


def parse_segment(text):
    """'[7.2:18.0]' -> Segment(7.2, 18.0), or ValueError with the reason."""
    match = SEGMENT_PATTERN.match(text)
    if not match:
        raise ValueError(f"segment {text!r} is not [start:end] in seconds")
    return Segment(float(match.group(1)), float(match.group(2)))


def correct_position(video_id, segment_text, question):
    """Where the correct answer goes among the 4 candidates: 0..3, fixed by a hash of the question."""
    key = "\x1f".join((video_id, segment_text.strip(), question.strip()))
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()
    return digest[0] % NUM_CANDIDATES


def read(source, contents):
    path = source.paths[0]
    if path not in contents:
        return []
    records = common.delimited_records(path, contents[path], delimiter=",")
    return [_read_record(row_source, order, fields, common.position_id(path, line))
            for order, (row_source, line, fields) in enumerate(records)]


def _read_record(row_source, order, fields, question_id):
    row = dict(zip(COLUMNS, fields))

    def reject(reason):
        return common.RejectedRow(row_source, order, reason, row if len(fields) == len(COLUMNS) else fields)

    if len(fields) != len(COLUMNS):
        return reject(f"expected {len(COLUMNS)} fields ({','.join(COLUMNS)}), got {len(fields)}")
    missing = common.missing_fields(row, ("yt_id", "[start:end]", "question", "correct"))
    if missing:
        return reject(f"missing or empty {', '.join(missing)}")
    texts, problem = common.candidates_from(row, ("wrong1", "wrong2", "wrong3", "correct"))
    if problem:
        return reject(problem)
    try:
        segment = parse_segment(row["[start:end]"])
    except ValueError as error:
        return reject(str(error))
    video_id = common.text_field(row["yt_id"])
    position = correct_position(video_id, row["[start:end]"], row["question"])
    candidates = list(texts[:3])  # The wrong answers, in their published order.
    candidates.insert(position, row["correct"])
    return common.ParsedRow(
        source=row_source, order=order, raw=row, video_id=video_id, question=row["question"],
        answer=row["correct"], question_id=question_id, candidates=tuple(candidates),
        answer_index=position, segment=segment)


LAYOUT = detect.Layout(
    name=NAME, detect=detect_file, read=read,
    expected=f"How2QA rows without a header: {','.join(COLUMNS)}")
