"""Read annotation files into question rows, rejecting bad rows with reasons.

Formats (chosen by extension):
  .json   a JSON list of objects (MSVD-QA, MSRVTT-QA as published)
  .jsonl  one JSON object per line
  .csv / .tsv  a header row, then one row per question (delimiter sniffed, so
          TGIF-QA's tab-separated .csv files work)

Keys: question, answer, video_id (required); id or question_id, split,
question_type (optional). The split comes from the file name
(`train_*`, `val_*`, `test_*`), else the row's `split`, else a stable hash of
video_id (80/10/10), so a video never lands in two splits by accident.

Text must be valid UTF-8: a row holding undecodable bytes or a lone surrogate
(a broken \\u escape) is rejected with the key and position; the file's other
rows are still read. A file that is not valid JSON is rejected whole, with the
line and column of the problem.

A row becomes a dict of str (see ROW_* keys). A rejected row or file becomes an
error dict (see `error_record`). Nothing here touches Beam or videos.
"""

import csv
import hashlib
import io
import json
import posixpath

from features import schema, text

ROW_VIDEO_ID = "video_id"
ROW_QUESTION = "question"
ROW_ANSWER = "answer"
ROW_QUESTION_ID = "question_id"
ROW_QUESTION_TYPE = "question_type"
ROW_SPLIT = "split"
ROW_SPLIT_IS_EXPLICIT = "split_is_explicit"
ROW_SOURCE = "source"
ROW_TRUNCATED = "truncated"
ROW_VIDEO_PATH = "video_path"

REQUIRED_KEYS = (ROW_QUESTION, ROW_ANSWER, ROW_VIDEO_ID)
SPLIT_ALIASES = {"train": schema.TRAIN_SPLIT, "val": schema.VALIDATION_SPLIT,
                 "valid": schema.VALIDATION_SPLIT, "validation": schema.VALIDATION_SPLIT,
                 "test": schema.TEST_SPLIT}

# Error kinds: a rejected question row counts against input questions; a
# rejected file holds an unknown number of them and is counted on its own.
KIND_QUESTION = "question"
KIND_FILE = "file"


def error_record(kind, stage, reason, source, row=None):
    """One line of errors/*.jsonl."""
    record = {"kind": kind, "stage": stage, "reason": reason, "source": _printable(source)}
    if row is not None:
        record["input"] = _printable(row)
    return record


def _printable(value):
    """`value` with text that is not valid Unicode shown as escapes (\\xe9, \\ud83d), so it can be written."""
    if isinstance(value, str):
        try:  # Undecodable bytes (kept by 'surrogateescape') back as \xNN.
            return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:  # Lone surrogates from \u escapes.
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_printable(key): _printable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_printable(item) for item in value]
    return value


def _invalid_text(key, value):
    """Why `value` is not valid Unicode text (undecodable bytes, lone surrogates), or None."""
    try:
        value.encode("utf-8")
        return None
    except UnicodeEncodeError as error:
        character = ord(value[error.start])
        if 0xDC80 <= character <= 0xDCFF:  # An undecodable byte, kept by 'surrogateescape'.
            return (f"{key} is not valid UTF-8 (byte 0x{character - 0xDC00:02x} at character "
                    f"{error.start})")
        return (f"{key} holds a lone surrogate \\u{character:04x} at character {error.start} "
                f"(half of a UTF-16 pair): not valid Unicode text")


def split_from_file_name(path):
    """'train' for .../train_qa.json, None when the name does not say."""
    name = posixpath.basename(path).lower()
    for separator in ("_", ".", "-"):
        prefix = name.split(separator, 1)[0]
        if prefix in SPLIT_ALIASES and len(prefix) < len(name):
            return SPLIT_ALIASES[prefix]
    return None


def split_from_hash(video_id):
    """Stable 80/10/10 split from the video id (same on every machine and run)."""
    bucket = int(hashlib.sha256(video_id.encode("utf-8")).hexdigest(), 16) % 100
    for split, upper_bound in schema.HASH_SPLIT_PERCENT:
        if bucket < upper_bound:
            return split
    return schema.TEST_SPLIT


def _decode(path, data):
    """UTF-8 text; undecodable bytes survive as lone surrogates and reject only their row."""
    return data.decode("utf-8-sig", errors="surrogateescape")


def _raw_rows(path, data):
    """Yield (source, raw_row_or_None, error_reason_or_None); raise ValueError for a bad file."""
    lower = path.lower()
    if lower.endswith(".json"):
        try:
            rows = json.loads(_decode(path, data))
        except json.JSONDecodeError as error:
            raise ValueError(f"malformed JSON at line {error.lineno} column {error.colno}: {error.msg}") from None
        if isinstance(rows, dict):  # {"questions": [...]} or a single-key wrapper.
            lists = [value for value in rows.values() if isinstance(value, list)]
            rows = lists[0] if len(lists) == 1 else None
        if not isinstance(rows, list):
            raise ValueError("expected a JSON list of question objects")
        for index, row in enumerate(rows):
            yield f"{path}:item {index}", row, None
    elif lower.endswith(".jsonl"):
        for number, line in enumerate(data.split(b"\n"), start=1):
            if not line.strip():
                continue
            source = f"{path}:line {number}"
            try:
                yield source, json.loads(line.decode("utf-8-sig" if number == 1 else "utf-8")), None
            except UnicodeDecodeError as error:
                yield source, None, f"not valid UTF-8 at byte {error.start} of the line"
            except json.JSONDecodeError as error:
                yield source, None, f"malformed JSON at column {error.colno}: {error.msg}"
    elif lower.endswith((".csv", ".tsv")):
        content = _decode(path, data)
        first_line = content.split("\n", 1)[0]
        delimiter = "\t" if "\t" in first_line or lower.endswith(".tsv") else ","
        reader = csv.DictReader(io.StringIO(content, newline=""), delimiter=delimiter)
        for number, row in enumerate(reader, start=2):
            yield f"{path}:line {number}", row, None
    else:
        raise ValueError("unknown annotation format (expected .json, .jsonl, .csv or .tsv)")


def _check_row(raw):
    """Raw object -> (dict of str, None) or (None, reason)."""
    if not isinstance(raw, dict):
        return None, f"expected an object with keys {', '.join(REQUIRED_KEYS)}, got {type(raw).__name__}"
    missing = [key for key in REQUIRED_KEYS if raw.get(key) is None or str(raw.get(key)).strip() == ""]
    if missing:
        return None, f"missing or empty {', '.join(missing)}"
    row = {key: str(raw[key]) for key in REQUIRED_KEYS}
    question_id = raw.get("question_id", raw.get("id"))
    row[ROW_QUESTION_ID] = "" if question_id is None else str(question_id)
    row[ROW_QUESTION_TYPE] = str(raw.get("question_type") or "")
    row[ROW_SPLIT] = str(raw.get("split") or "")
    for key, value in row.items():
        reason = _invalid_text(key, value)
        if reason:
            return None, reason
    return row, None


def parse_annotation_file(path, data, max_question_tokens, locate_video):
    """Parse one file. Returns (rows, errors).

    locate_video(video_id) -> path, or raises ValueError with the reason.
    """
    try:
        raw_rows = list(_raw_rows(path, data))
    except ValueError as error:
        return [], [error_record(KIND_FILE, "read_annotations", str(error), path)]
    file_split = split_from_file_name(path)
    rows, errors = [], []
    for index, (source, raw, reason) in enumerate(raw_rows):
        row = None
        if reason is None:
            row, reason = _check_row(raw)
        if reason is not None:
            errors.append(error_record(KIND_QUESTION, "read_annotations", reason, source, raw))
            continue
        row[ROW_SOURCE] = source
        if not row[ROW_QUESTION_ID]:
            row[ROW_QUESTION_ID] = f"{posixpath.basename(path)}:{index}"
        rows.append(row)
    return _validate_rows(rows, errors, file_split, max_question_tokens, locate_video)


def _validate_rows(rows, errors, file_split, max_question_tokens, locate_video):
    tokens = text.tokenize_python([row[ROW_QUESTION] for row in rows])
    answers = text.normalize_answers_python([row[ROW_ANSWER] for row in rows])
    valid = []
    for row, question_tokens, answer in zip(rows, tokens, answers):
        reason = None
        explicit_split = file_split or SPLIT_ALIASES.get(row[ROW_SPLIT].strip().lower())
        if row[ROW_SPLIT] and not file_split and explicit_split is None:
            reason = f"unknown split {row[ROW_SPLIT]!r} (expected train, val or test)"
        elif not question_tokens:
            reason = "empty question (no words after normalisation)"
        elif not answer:
            reason = "empty answer (no words after normalisation)"
        else:
            try:
                row[ROW_VIDEO_PATH] = locate_video(row[ROW_VIDEO_ID])
            except ValueError as error:
                reason = str(error)
        if reason is not None:
            errors.append(error_record(KIND_QUESTION, "read_annotations", reason, row[ROW_SOURCE], row))
            continue
        row[ROW_SPLIT_IS_EXPLICIT] = explicit_split is not None
        row[ROW_SPLIT] = explicit_split or split_from_hash(row[ROW_VIDEO_ID])
        row[ROW_TRUNCATED] = len(question_tokens) > max_question_tokens
        row[ROW_QUESTION_TYPE] = text.question_type(question_tokens, row[ROW_QUESTION_TYPE])
        valid.append(row)
    return valid, errors
