"""ActivityNet-QA: `{split}_q.json` and `{split}_a.json`, joined on `question_id`.

    {split}_q.json  [{"video_name": "1QIUV7WYKXg", "question": "...", "question_id": "v_1QIUV7WYKXg_3"}, ...]
    {split}_a.json  [{"answer": "no", "type": 3, "question_id": "v_1QIUV7WYKXg_3"}, ...]

The two files are one source (`pair_files`). Each question with its answer is one
input row; a question without an answer, a second answer to one question and an
answer without a question are each one rejected row. Types 0 motion, 1 spatial,
2 temporal, 3 yes/no, 4 color, 5 object, 6 location, 7 number, 8 other become
those names (yes/no as `yes_no`). Videos are `v_<video_name>` with whichever of
.mp4, .mkv, .webm exists (`pipeline.paths`).
"""

import posixpath
import re

from features import schema
from pipeline.layouts import common, detect

NAME = "activitynet_qa"
QUESTION_KEYS = ("video_name", "question", "question_id")
ANSWER_KEYS = ("answer", "type", "question_id")
TYPES = {0: "motion", 1: "spatial", 2: "temporal", 3: "yes_no", 4: "color", 5: "object",
         6: "location", 7: "number", 8: "other"}
VARIANT_QUESTIONS = "questions"
VARIANT_ANSWERS = "answers"
_PAIRED_NAME = re.compile(r"^(?P<stem>.*[_\-.])(?P<part>[qa])(?P<extension>\.json)$", re.IGNORECASE)


def detect_file(head, explicit):
    keys = set(head.first_object or ())
    if head.format != detect.FORMAT_JSON:
        return None
    if set(QUESTION_KEYS) <= keys:
        return detect.FileKind(NAME, schema.TASK_OPEN_ENDED, variant=VARIANT_QUESTIONS)
    if set(ANSWER_KEYS) <= keys and "question" not in keys:
        return detect.FileKind(NAME, schema.TASK_OPEN_ENDED, variant=VARIANT_ANSWERS)
    if explicit and _PAIRED_NAME.match(head.name):  # An empty list, or a first object we cannot read.
        variant = VARIANT_QUESTIONS if _PAIRED_NAME.match(head.name).group("part").lower() == "q" else VARIANT_ANSWERS
        return detect.FileKind(NAME, schema.TASK_OPEN_ENDED, variant=variant)
    return None


def partner_path(path):
    """train_q.json <-> train_a.json (same folder), or None when the name has no _q / _a."""
    directory, name = posixpath.split(path)
    match = _PAIRED_NAME.match(name)
    if not match:
        return None
    part = match.group("part")
    other = {"q": "a", "a": "q", "Q": "A", "A": "Q"}[part]
    return posixpath.join(directory, match.group("stem") + other + match.group("extension"))


def pair_files(kinds):
    """{path: FileKind} of ActivityNet files -> [(questions path, answers path)], or ValueError."""
    by_lower = {path.lower(): path for path in kinds}
    pairs, problems = [], []
    for path, kind in sorted(kinds.items()):
        partner = partner_path(path)
        found = by_lower.get(partner.lower()) if partner else None
        wanted = VARIANT_ANSWERS if kind.variant == VARIANT_QUESTIONS else VARIANT_QUESTIONS
        if found is None or kinds[found].variant != wanted:
            problems.append(f"{path} ({kind.variant}) needs its {wanted} file "
                            f"{partner or '<name>_' + wanted[0] + '.json'} among the matched files")
        elif kind.variant == VARIANT_QUESTIONS:
            pairs.append((path, found))
    if problems:
        raise ValueError("ActivityNet-QA questions and answers come in pairs ({split}_q.json and "
                         "{split}_a.json): " + "; ".join(problems))
    return pairs


def read(source, contents):
    questions_path, answers_path = source.paths
    items, questions, answers, readable = [], [], [], set()
    for path, entries in ((questions_path, questions), (answers_path, answers)):
        if path not in contents:
            continue
        try:
            entries.extend(common.json_items(path, contents[path]))
            readable.add(path)
        except ValueError as error:
            items.append(common.RejectedFile(path, str(error)))
    answer_by_id, order = {}, len(questions)
    for answer_source, answer in answers:
        question_id = common.text_field(answer.get("question_id")) if isinstance(answer, dict) else ""
        if not question_id or question_id in answer_by_id:
            reason = ("answer without a question_id" if not question_id else
                      f"second answer for question_id {question_id!r} (first at {answer_by_id[question_id][0]})")
            items.append(common.RejectedRow(answer_source, order, reason, answer))
            order += 1
            continue
        answer_by_id[question_id] = (answer_source, answer)
    missing_answers = (f"no answer for it in {common.base_name(answers_path)}" if answers_path in readable
                       else f"no answer: {common.base_name(answers_path)} could not be read")
    for index, (question_source, question) in enumerate(questions):
        items.append(_join(question_source, index, question, answer_by_id, missing_answers))
    unmatched = (f"answer without a question: its question_id is not in {common.base_name(questions_path)}"
                 if questions_path in readable else
                 f"answer without a question: {common.base_name(questions_path)} could not be read")
    for answer_source, answer in answer_by_id.values():
        items.append(common.RejectedRow(answer_source, order, unmatched, answer))
        order += 1
    return items


def _join(question_source, index, question, answer_by_id, missing_answer):
    """One question and its answer (removed from answer_by_id) -> ParsedRow, or RejectedRow."""
    if not isinstance(question, dict):
        return common.RejectedRow(question_source, index, f"expected an object with keys {', '.join(QUESTION_KEYS)}, "
                                                          f"got {type(question).__name__}", question)
    question_id = common.text_field(question.get("question_id"))
    found = answer_by_id.pop(question_id, None) if question_id else None
    raw = dict(question, **(found[1] if found else {}))
    missing = common.missing_fields(question, QUESTION_KEYS)
    if missing:
        return common.RejectedRow(question_source, index, f"missing or empty {', '.join(missing)}", raw)
    if found is None:
        return common.RejectedRow(question_source, index, missing_answer, raw)
    answer_source, answer = found
    if common.text_field(answer.get("answer")) == "":
        return common.RejectedRow(question_source, index, f"missing or empty answer (at {answer_source})", raw)
    type_code = answer.get("type")
    type_text = common.text_field(type_code)
    if not (type_text.isascii() and type_text.isdigit() and int(type_text) in TYPES):
        known = ", ".join(f"{code} {name}" for code, name in TYPES.items())
        return common.RejectedRow(question_source, index, f"type {type_code!r} is not one of {known}", raw)
    return common.ParsedRow(
        source=question_source, order=index, raw=raw, video_id=common.text_field(question["video_name"]),
        question=str(question["question"]), answer=str(answer["answer"]), question_id=question_id,
        question_type=TYPES[int(type_text)])


LAYOUT = detect.Layout(
    name=NAME, detect=detect_file, read=read,
    expected=(f"ActivityNet-QA JSON lists, questions ({', '.join(QUESTION_KEYS)}) in *_q.json and "
              f"answers ({', '.join(ANSWER_KEYS)}) in *_a.json"))
