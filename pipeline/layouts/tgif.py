"""TGIF-QA: `{Train,Test}_{action,transition,count,frameqa}_question.csv`, tab-separated with a header.

    frameqa     gif_name question answer type vid_id key description          open-ended
    action,     gif_name question a1 a2 a3 a4 a5 answer vid_id key             multiple choice (5):
    transition                                                                 answer = 0-based index
    count       gif_name question answer vid_id key                            count (integer 0-10)

Fields may be RFC-4180 quoted (a Test_transition candidate is `respond "no"` in quotes,
its inner quotes doubled). The video is
`<gif_name>.gif`; the question id is `vid_id` (ACTION4, TRANS23, COUNT12, FRAMEQA1159:
unique across the Train and Test files). The question type is FrameQA's `type` by
name (0 object, 1 number, 2 color, 3 location), else the file's task: action,
transition or count. TGIF-QA has no validation split: one is carved from train
(`splits.CARVED_VALIDATION_PERCENT`).
"""

from features import schema
from pipeline.layouts import common, detect

NAME = "tgif_qa"
CANDIDATE_COLUMNS = ("a1", "a2", "a3", "a4", "a5")
COLUMNS = {
    schema.TASK_OPEN_ENDED: ("gif_name", "question", "answer", "type", "vid_id", "key", "description"),
    schema.TASK_MULTIPLE_CHOICE: ("gif_name", "question") + CANDIDATE_COLUMNS + ("answer", "vid_id", "key"),
    schema.TASK_COUNT: ("gif_name", "question", "answer", "vid_id", "key"),
}
FRAMEQA_TYPES = {"0": "object", "1": "number", "2": "color", "3": "location"}
# The question type of the other files: the task word of the file name, else the prefix of vid_id.
TASK_WORDS = ("action", "transition", "count")
VID_ID_PREFIXES = {"ACTION": "action", "TRANS": "transition", "COUNT": "count"}


def detect_file(head, explicit):
    if head.format != detect.FORMAT_DELIMITED:
        return None
    for task, columns in COLUMNS.items():
        if head.columns == set(columns):
            return detect.FileKind(NAME, task, len(CANDIDATE_COLUMNS) if task == schema.TASK_MULTIPLE_CHOICE else 0)
    return None


def _task_word(path):
    name = common.base_name(path).lower()
    words = [word for word in TASK_WORDS if word in name]
    return words[0] if len(words) == 1 else ""


def _question_type(task, row, file_task_word):
    """(type name, None) or (None, reason)."""
    if task == schema.TASK_OPEN_ENDED:
        value = common.text_field(row.get("type"))
        if value not in FRAMEQA_TYPES:
            known = ", ".join(f"{code} {name}" for code, name in FRAMEQA_TYPES.items())
            return None, f"FrameQA type {value!r} is not one of {known}"
        return FRAMEQA_TYPES[value], None
    if file_task_word:
        return file_task_word, None
    vid_id = common.text_field(row.get("vid_id")).upper()
    prefix = next((prefix for prefix in VID_ID_PREFIXES if vid_id.startswith(prefix)), None)
    return (VID_ID_PREFIXES[prefix] if prefix else ""), None


def read(source, contents):
    path = source.paths[0]
    if path not in contents:
        return []
    columns, rows = common.header_rows(path, contents[path], delimiter="\t")
    task = source.task
    if set(columns) != set(COLUMNS[task]):
        return [common.RejectedFile(path, f"expected the TGIF-QA {task} columns {list(COLUMNS[task])}, "
                                          f"found {columns}")]
    file_task_word = _task_word(path)
    items = []
    for order, (row_source, line, row, extra) in enumerate(rows):
        items.append(_read_row(task, row_source, order, row, columns, extra, file_task_word,
                               common.position_id(path, line)))
    return items


def _read_row(task, row_source, order, row, columns, extra, file_task_word, position_id):
    def reject(reason):
        return common.RejectedRow(row_source, order, reason, row)

    problem = common.column_count_problem(columns, row, extra)
    if problem:
        return reject(problem)
    missing = common.missing_fields(row, ("gif_name", "question", "answer"))
    if missing:
        return reject(f"missing or empty {', '.join(missing)}")
    question_type, problem = _question_type(task, row, file_task_word)
    if problem:
        return reject(problem)
    parsed = common.ParsedRow(
        source=row_source, order=order, raw=row, video_id=common.text_field(row["gif_name"]),
        question=row["question"], answer=row["answer"], question_type=question_type,
        question_id=common.text_field(row.get("vid_id")) or position_id)
    try:
        if task == schema.TASK_MULTIPLE_CHOICE:
            candidates, problem = common.candidates_from(row, CANDIDATE_COLUMNS)
            if problem:
                return reject(problem)
            parsed.candidates = candidates
            parsed.answer_index = common.parse_index(row["answer"], len(candidates))
            parsed.answer = candidates[parsed.answer_index]
        elif task == schema.TASK_COUNT:
            parsed.count = common.parse_count(row["answer"])
    except ValueError as error:
        return reject(str(error))
    return parsed


LAYOUT = detect.Layout(
    name=NAME, detect=detect_file, read=read, carves_validation=True,
    expected="tab-separated TGIF-QA columns (" + "; ".join(" ".join(columns) for columns in COLUMNS.values()) + ")")
