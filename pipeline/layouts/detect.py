"""What the first bytes of an annotation file say about it: its format, columns or keys.

`read_head(path, head)` parses only the first few KB (`HEAD_BYTES`), so it is fast on
any file size and store; the layouts' `detect` functions decide from it.
"""

import csv
import dataclasses
import io
import json
import posixpath
import typing

from pipeline.layouts import common

HEAD_BYTES = 16 * 1024

FORMAT_JSON = "JSON list"
FORMAT_JSONL = "JSON lines"
FORMAT_DELIMITED = "delimited text"
FORMAT_UNKNOWN = "unknown"


@dataclasses.dataclass(frozen=True)
class FileKind:
    """A file placed in a layout: the task of its questions and how to read it."""

    layout: str
    task: str                          # features.schema.TASK_*
    num_candidates: int = 0            # multiple choice only
    variant: str = ""                  # the layout's own sub-kind (e.g. TGIF 'frameqa', ActivityNet 'answers')


@dataclasses.dataclass
class Head:
    """The parsed beginning of a file."""

    path: str
    format: str
    delimiter: str = ""
    first_fields: typing.Tuple[str, ...] = ()   # delimited: the first record (a header, or How2QA's first row)
    first_object: typing.Optional[dict] = None  # JSON / JSON lines: the first row object
    problem: str = ""                           # why the first row could not be read

    @property
    def name(self):
        return posixpath.basename(self.path)

    @property
    def lower_name(self):
        return self.name.lower()

    @property
    def columns(self):
        return {field.strip() for field in self.first_fields}

    def describe(self):
        """What was found, for the error about a file no layout takes."""
        if self.format == FORMAT_DELIMITED:
            separator = "tab" if self.delimiter == "\t" else "comma"
            return f"{separator}-separated first row {list(self.first_fields)}"
        if self.first_object is not None:
            return f"{self.format} whose first object has keys {sorted(self.first_object)}"
        if self.format == FORMAT_UNKNOWN:
            return "an unknown format (expected .json, .jsonl, .csv or .tsv)"
        return f"{self.format} ({self.problem or 'no question object found'})"


def read_head(path, head):
    """Parse the first bytes `head` of the file at `path` (format from its extension)."""
    lower = path.lower()
    text = common.decode(head[:HEAD_BYTES])
    if lower.endswith(".json"):
        first_object, problem = _first_json_object(text)
        return Head(path, FORMAT_JSON, first_object=first_object, problem=problem)
    if lower.endswith(".jsonl"):
        line = next((line for line in text.split("\n") if line.strip()), "")
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            return Head(path, FORMAT_JSONL, problem=f"first line is not JSON ({error.msg})")
        if not isinstance(value, dict):
            return Head(path, FORMAT_JSONL, problem=f"first line is a {type(value).__name__}, not an object")
        return Head(path, FORMAT_JSONL, first_object=value)
    if lower.endswith((".csv", ".tsv")):
        first_line = text.split("\n", 1)[0]
        delimiter = common.delimiter_of(first_line, path)
        try:
            fields = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
        except csv.Error as error:
            return Head(path, FORMAT_DELIMITED, delimiter=delimiter, problem=str(error))
        return Head(path, FORMAT_DELIMITED, delimiter=delimiter, first_fields=tuple(fields))
    return Head(path, FORMAT_UNKNOWN)


def _first_json_object(text):
    """The first object of the file's (first) list, read from the beginning of the file only."""
    start = text.find("[")
    if start < 0:
        return None, "no JSON list at the start of the file"
    position = start + 1
    while position < len(text) and text[position].isspace():
        position += 1
    if position >= len(text) or text[position] != "{":
        return None, "the list does not start with an object (empty, or not a list of objects)"
    try:
        value, _ = json.JSONDecoder().raw_decode(text, position)
    except json.JSONDecodeError as error:
        return None, f"the first object is not readable JSON ({error.msg})"
    return value, ""


@dataclasses.dataclass(frozen=True)
class Layout:
    """One published layout: how to recognise its files and how to read them."""

    name: str
    expected: str                      # what its files look like, for the error about an unplaced file
    # detect(head, explicit) -> FileKind, or None when the file is not of this layout. `explicit`:
    # the user chose this layout (--layout), so only what reading needs is checked.
    detect: typing.Callable[[Head, bool], typing.Optional[FileKind]]
    # read(source, contents) -> [ParsedRow | RejectedRow | RejectedFile] in file order, where
    # `contents` maps each of source.paths that could be read to its bytes.
    read: typing.Callable[[typing.Any, dict], list]
    carves_validation: bool = False    # published without a validation split: carve one from train
