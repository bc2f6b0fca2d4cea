"""What every layout reader shares: the parsed row, error records, and file parsing.

A reader turns the bytes of its file(s) into a sequence of items, in file order:

  ParsedRow     a row whose layout-specific fields made sense (its text is checked later,
                for every layout alike, by `validate`)
  RejectedRow   an input row refused with a reason (counts as one input row)
  RejectedFile  a whole file refused (malformed JSON, unknown format): its rows are unknown

Text is decoded as UTF-8 with undecodable bytes kept as lone surrogates
('surrogateescape'), so a bad byte rejects only its row (see `invalid_text`).
"""

import csv
import dataclasses
import io
import json
import posixpath
import typing

from features.questions import Segment

# Error kinds: a rejected question row counts against input questions; a
# rejected file holds an unknown number of them and is counted on its own.
KIND_QUESTION = "question"
KIND_FILE = "file"
STAGE = "read_annotations"


@dataclasses.dataclass
class ParsedRow:
    """One row in the layout's own terms, before the shared text, split and video checks."""

    source: str                       # "path:line 12" or "path:item 3", for error messages
    order: int                        # position among the file's input rows
    raw: typing.Any                   # the row as read, for error records
    video_id: str
    question: str
    answer: str                       # multiple choice: the correct candidate's text
    question_id: str
    question_type: str = ""           # the data set's own type; "" = the question's first word
    split_field: str = ""             # the row's own split (generic layout only)
    candidates: typing.Tuple[str, ...] = ()
    answer_index: int = -1
    count: int = -1
    segment: typing.Optional[Segment] = None


@dataclasses.dataclass
class RejectedRow:
    source: str
    order: int
    reason: str
    raw: typing.Any = None


@dataclasses.dataclass
class RejectedFile:
    path: str
    reason: str


def error_record(kind, stage, reason, source, row=None):
    """One line of errors/*.jsonl."""
    record = {"kind": kind, "stage": stage, "reason": reason, "source": printable(source)}
    if row is not None:
        record["input"] = printable(row)
    return record


def printable(value):
    """`value` with text that is not valid Unicode shown as escapes (\\xe9, \\ud83d), so it can be written."""
    if isinstance(value, str):
        try:  # Undecodable bytes (kept by 'surrogateescape') back as \xNN.
            return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:  # Lone surrogates from \u escapes.
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {printable(key): printable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [printable(item) for item in value]
    return value


def invalid_text(key, value):
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


def decode(data):
    """UTF-8 text; a byte order mark is dropped, undecodable bytes survive as lone surrogates."""
    return data.decode("utf-8-sig", errors="surrogateescape")


def text_field(value):
    """A field as text, '' when absent (None) or blank."""
    return "" if value is None else str(value).strip()


def missing_fields(raw, names):
    """The names whose field is absent or blank in the dict `raw`."""
    return [name for name in names if text_field(raw.get(name)) == ""]


def base_name(path):
    return posixpath.basename(path)


def position_id(path, position):
    """A question id for a row that has none: 'Train_count_question.csv:12' (file name, line or item)."""
    return f"{base_name(path)}:{position}"


def json_items(path, data):
    """A JSON list of rows (or an object holding exactly one list): [(source, item)].

    Raises ValueError with the line and column of a malformed file.
    """
    try:
        items = json.loads(decode(data))
    except json.JSONDecodeError as error:
        raise ValueError(f"malformed JSON at line {error.lineno} column {error.colno}: {error.msg}") from None
    if isinstance(items, dict):  # {"questions": [...]} or a single-key wrapper.
        lists = [value for value in items.values() if isinstance(value, list)]
        items = lists[0] if len(lists) == 1 else None
    if not isinstance(items, list):
        raise ValueError("expected a JSON list of question objects")
    return [(f"{path}:item {index}", item) for index, item in enumerate(items)]


def jsonl_items(path, data):
    """One JSON object per line: [(source, item or None, reason or None)]; blank lines skipped."""
    items = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        source = f"{path}:line {number}"
        try:
            items.append((source, json.loads(line.decode("utf-8-sig" if number == 1 else "utf-8")), None))
        except UnicodeDecodeError as error:
            items.append((source, None, f"not valid UTF-8 at byte {error.start} of the line"))
        except json.JSONDecodeError as error:
            items.append((source, None, f"malformed JSON at column {error.colno}: {error.msg}"))
    return items


def delimiter_of(first_line, path):
    """Tab when the first line holds one (TGIF-QA's '.csv' files) or the file is .tsv, else comma."""
    return "\t" if "\t" in first_line or path.lower().endswith(".tsv") else ","


def delimited_records(path, data, delimiter=None):
    """RFC-4180 rows: [(source, first line number, fields)], blank lines skipped.

    Quoted fields may hold the delimiter, doubled quotes and line breaks.
    """
    content = decode(data)
    if delimiter is None:
        delimiter = delimiter_of(content.split("\n", 1)[0], path)
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)
    records = []
    next_line = 1
    for fields in reader:
        first_line, next_line = next_line, reader.line_num + 1
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        records.append((f"{path}:line {first_line}", first_line, fields))
    return records


def header_rows(path, data, delimiter=None):
    """A delimited file with a header: (columns, [(source, line, row dict, extra fields)]).

    `row dict` maps each column to its field (None when the row is short);
    `extra fields` are the fields beyond the header (a row that is too long).
    """
    records = delimited_records(path, data, delimiter)
    if not records:
        return [], []
    columns = [column.strip() for column in records[0][2]]
    rows = []
    for source, line, fields in records[1:]:
        row = {column: (fields[index] if index < len(fields) else None) for index, column in enumerate(columns)}
        rows.append((source, line, row, fields[len(columns):]))
    return columns, rows


def column_count_problem(columns, row, extra):
    """Why a row does not have one field per column, or None."""
    short = [column for column in columns if row.get(column) is None]
    if extra or short:
        given = len(columns) - len(short) + len(extra)
        return f"expected {len(columns)} fields ({', '.join(columns)}), got {given}"
    return None


def parse_index(text, count, name="answer"):
    """A 0-based index into `count` candidates, or ValueError with the reason."""
    value = text_field(text)
    digits = value[1:] if value.startswith("-") else value
    if not (digits.isascii() and digits.isdigit()):
        raise ValueError(f"{name} {value!r} is not a candidate index (an integer 0..{count - 1})")
    index = int(value)
    if not 0 <= index < count:
        raise ValueError(f"{name} index {index} is out of range 0..{count - 1}")
    return index


def parse_count(text, name="answer"):
    """A non-negative integer answer, or ValueError with the reason."""
    value = text_field(text)
    if not (value.isascii() and value.isdigit()):
        raise ValueError(f"count {name} {value!r} is not a non-negative integer")
    return int(value)


def candidates_from(row, columns):
    """(candidate texts, None), or (None, reason) when some are empty: a list of the wrong length."""
    empty = [column for column in columns if text_field(row.get(column)) == ""]
    if empty:
        return None, (f"{len(columns) - len(empty)} candidates instead of {len(columns)} "
                      f"({', '.join(empty)} empty)")
    return tuple(str(row[column]) for column in columns), None
