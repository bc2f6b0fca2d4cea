"""MSVD-QA, MSRVTT-QA and the generic form: one row per question with question, answer, video_id.

    msvd_qa    `{split}_qa.json`: [{"answer", "id", "question", "video_id": <int>}]; videos through
               `youtube_mapping.txt` (`<clip> vid<N>`) as `<clip>.avi`
    msrvtt_qa  the same keys plus "category_id"; videos `video<N>.mp4`
    generic    .json (a list, or an object holding one list), .jsonl (one object per line) or
               .csv/.tsv with a header (tab-separated when the header holds a tab). Keys:
               question, answer, video_id (required); id or question_id, split, question_type.

Open-ended. The question id is `question_id` or `id`, else `<file name>:<item index>`;
the question type is `question_type`, else the question's first word.
"""

from features import schema
from pipeline.layouts import common, detect

REQUIRED_KEYS = ("question", "answer", "video_id")
MSVD_KEYS = {"answer", "id", "question", "video_id"}
MSRVTT_KEYS = MSVD_KEYS | {"category_id"}


def _has_required(head):
    keys = set(head.first_object or ()) if head.format != detect.FORMAT_DELIMITED else head.columns
    return set(REQUIRED_KEYS) <= keys


def _detect_msvd(head, explicit):
    if head.format != detect.FORMAT_JSON:
        return None
    first = head.first_object or {}
    published = set(first) == MSVD_KEYS and isinstance(first.get("video_id"), int)
    if published or (explicit and _has_required(head)):
        return detect.FileKind("msvd_qa", schema.TASK_OPEN_ENDED)
    return None


def _detect_msrvtt(head, explicit):
    if head.format != detect.FORMAT_JSON:
        return None
    if set(head.first_object or ()) == MSRVTT_KEYS or (explicit and _has_required(head)):
        return detect.FileKind("msrvtt_qa", schema.TASK_OPEN_ENDED)
    return None


def _detect_generic(head, explicit):
    # Chosen with --layout generic, any file is read (a file in an unknown format becomes one
    # rejected file, as before layouts existed); detected, it must show its keys.
    if explicit or _has_required(head):
        return detect.FileKind("generic", schema.TASK_OPEN_ENDED)
    return None


def _raw_rows(path, data):
    """[(source, raw row or None, reason or None)]; ValueError for a file that cannot be read at all."""
    lower = path.lower()
    if lower.endswith(".json"):
        return [(source, item, None) for source, item in common.json_items(path, data)]
    if lower.endswith(".jsonl"):
        return common.jsonl_items(path, data)
    if lower.endswith((".csv", ".tsv")):
        _, rows = common.header_rows(path, data)
        return [(source, row, None) for source, _, row, _ in rows]
    raise ValueError("unknown annotation format (expected .json, .jsonl, .csv or .tsv)")


def read(source, contents):
    path = source.paths[0]
    if path not in contents:
        return []
    try:
        raw_rows = _raw_rows(path, contents[path])
    except ValueError as error:
        return [common.RejectedFile(path, str(error))]
    return [_read_row(path, order, row_source, raw, reason) for order, (row_source, raw, reason) in enumerate(raw_rows)]


def _read_row(path, order, row_source, raw, reason):
    if reason is None and not isinstance(raw, dict):
        reason = f"expected an object with keys {', '.join(REQUIRED_KEYS)}, got {type(raw).__name__}"
    if reason is None:
        missing = [key for key in REQUIRED_KEYS if raw.get(key) is None or str(raw.get(key)).strip() == ""]
        if missing:
            reason = f"missing or empty {', '.join(missing)}"
    if reason is not None:
        return common.RejectedRow(row_source, order, reason, raw)
    question_id = raw.get("question_id", raw.get("id"))
    question_id = "" if question_id is None else str(question_id)
    return common.ParsedRow(
        source=row_source, order=order, raw=raw, video_id=str(raw["video_id"]), question=str(raw["question"]),
        answer=str(raw["answer"]), question_id=question_id or common.position_id(path, order),
        question_type=str(raw.get("question_type") or ""), split_field=str(raw.get("split") or ""))


MSVD_LAYOUT = detect.Layout(
    name="msvd_qa", detect=_detect_msvd, read=read,
    expected="MSVD-QA JSON list of {answer, id, question, video_id (an integer)}")
MSRVTT_LAYOUT = detect.Layout(
    name="msrvtt_qa", detect=_detect_msrvtt, read=read,
    expected="MSRVTT-QA JSON list of {answer, category_id, id, question, video_id}")
GENERIC_LAYOUT = detect.Layout(
    name="generic", detect=_detect_generic, read=read,
    expected="JSON list, JSON lines or CSV/TSV with a header, holding question, answer, video_id "
             "(optional: id or question_id, split, question_type)")
