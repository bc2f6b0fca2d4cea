"""NExT-QA (multiple choice) and NExT-OE (open-ended): `{train,val,test}.csv`, comma-separated.

    NExT-QA  video,frame_count,width,height,question,answer,qid,type,a0,a1,a2,a3,a4
             answer = 0-based index into a0..a4
    NExT-OE  video,frame_count,width,height,question,answer,qid,type
             answer = free text, often several words

`qid` is numbered per video, so a question is `<video>_<qid>`. The question type
is `type` (CW, CH causal; TN, TP, TC temporal; DC, DL, DO descriptive; NExT-OE
also has DB). Videos are named by `map_vid_vidorID.json` (`--video_mapping`):
`<map[video]>.mp4`, e.g. `0101/2909445186.mp4`.
"""

from features import schema
from pipeline.layouts import common, detect

NAME = "next_qa"
BASE_COLUMNS = ("video", "frame_count", "width", "height", "question", "answer", "qid", "type")
CANDIDATE_COLUMNS = ("a0", "a1", "a2", "a3", "a4")


def detect_file(head, explicit):
    if head.format != detect.FORMAT_DELIMITED or not set(BASE_COLUMNS) <= head.columns:
        return None
    if set(CANDIDATE_COLUMNS) <= head.columns:
        return detect.FileKind(NAME, schema.TASK_MULTIPLE_CHOICE, len(CANDIDATE_COLUMNS))
    return detect.FileKind(NAME, schema.TASK_OPEN_ENDED)


def read(source, contents):
    path = source.paths[0]
    if path not in contents:
        return []
    columns, rows = common.header_rows(path, contents[path], delimiter=",")
    multiple_choice = source.task == schema.TASK_MULTIPLE_CHOICE
    needed = BASE_COLUMNS + (CANDIDATE_COLUMNS if multiple_choice else ())
    if not set(needed) <= set(columns):
        return [common.RejectedFile(path, f"expected the NExT-QA columns {list(needed)}, found {columns}")]
    return [_read_row(row_source, order, row, columns, extra, multiple_choice, common.position_id(path, line))
            for order, (row_source, line, row, extra) in enumerate(rows)]


def _read_row(row_source, order, row, columns, extra, multiple_choice, position_id):
    def reject(reason):
        return common.RejectedRow(row_source, order, reason, row)

    problem = common.column_count_problem(columns, row, extra)
    if problem:
        return reject(problem)
    missing = common.missing_fields(row, ("video", "question", "answer"))
    if missing:
        return reject(f"missing or empty {', '.join(missing)}")
    video = common.text_field(row["video"])
    qid = common.text_field(row.get("qid"))
    parsed = common.ParsedRow(
        source=row_source, order=order, raw=row, video_id=video, question=row["question"],
        answer=row["answer"], question_type=common.text_field(row.get("type")),
        question_id=f"{video}_{qid}" if qid else position_id)
    if multiple_choice:
        candidates, problem = common.candidates_from(row, CANDIDATE_COLUMNS)
        if problem:
            return reject(problem)
        try:
            parsed.answer_index = common.parse_index(row["answer"], len(candidates))
        except ValueError as error:
            return reject(str(error))
        parsed.candidates = candidates
        parsed.answer = candidates[parsed.answer_index]
    return parsed


LAYOUT = detect.Layout(
    name=NAME, detect=detect_file, read=read,
    expected=f"comma-separated NExT-QA columns {','.join(BASE_COLUMNS)}[,{','.join(CANDIDATE_COLUMNS)}]")
