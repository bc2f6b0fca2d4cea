"""Read every published VideoQA annotation layout into validated questions, bad rows into errors.

Layouts (`--layout`, LAYOUT_CHOICES; readers in `pipeline.layouts`):
  msvd_qa         {train,val,test}_qa.json + youtube_mapping.txt     open-ended
  msrvtt_qa       {train,val,test}_qa.json (with category_id)        open-ended
  tgif_qa         {Train,Test}_{frameqa,action,transition,count}_question.csv (tab-separated)
                                                                     open-ended / multiple choice (5) / count
  next_qa         {train,val,test}.csv + map_vid_vidorID.json        multiple choice (5); NExT-OE open-ended
  activitynet_qa  {train,val,test}_q.json + {train,val,test}_a.json  open-ended
  how2qa          how2QA_{train,val}_release.csv, how2QA_test_public_release.csv (no header)
                                                                     multiple choice (4), clips are segments
  generic         .json / .jsonl / .csv / .tsv with question, answer, video_id
  auto            (default) each file's layout from its name and first bytes

Two steps:
  plan_sources(paths, layout, read_head)  before the pipeline: place every file in a layout and
      task, pair ActivityNet's files, refuse unplaceable files and runs that mix tasks or layouts
      (one run = one layout, one task). Fast: reads only each file's first KB.
  read_source(source, read_bytes, config, locate_video)  in a worker: one source's rows ->
      (AnnotatedQuestion list, error records, number of input rows).

Every input row ends up valid or in the errors with its reason (see `error_record`):
missing fields, bad UTF-8, a candidate list of the wrong length, an answer index
out of range, a count that is not a non-negative integer, a segment whose end is
not after its start, an ActivityNet question without an answer (or an answer
without a question), a question or answer with no words, an unknown split, a
video path that escapes --video_dir. Splits: see `pipeline.layouts.splits`.
"""

import collections
import dataclasses
import typing

from apache_beam.io.filesystems import FileSystems

from features import schema
from pipeline.layouts import activitynet, common, detect, how2qa, nextqa, qa_json, splits, tgif, validate
from pipeline.layouts.common import KIND_FILE, KIND_QUESTION, error_record  # noqa: F401 (public)
from pipeline.layouts.splits import split_from_file_name, split_from_hash  # noqa: F401 (public)

AUTO_LAYOUT = "auto"
# In the order `auto` tries them: the most specific first, generic last.
LAYOUTS = collections.OrderedDict((layout.name, layout) for layout in (
    tgif.LAYOUT, nextqa.LAYOUT, how2qa.LAYOUT, activitynet.LAYOUT,
    qa_json.MSVD_LAYOUT, qa_json.MSRVTT_LAYOUT, qa_json.GENERIC_LAYOUT))
LAYOUT_CHOICES = ("auto", "msvd_qa", "msrvtt_qa", "tgif_qa", "next_qa", "activitynet_qa", "how2qa", "generic")
DEFAULT_LAYOUT = AUTO_LAYOUT
GENERIC_LAYOUT = qa_json.GENERIC_LAYOUT.name
CARVED_VALIDATION_PERCENT = splits.CARVED_VALIDATION_PERCENT
HEAD_BYTES = detect.HEAD_BYTES


@dataclasses.dataclass(frozen=True)
class AnnotationSource:
    """One unit read by one worker: a file, or ActivityNet's questions and answers files."""

    paths: typing.Tuple[str, ...]
    layout: str
    task: str                          # features.schema.TASK_*
    split: typing.Optional[str]        # from the file name, None if the name does not say
    num_candidates: int = 0            # multiple choice, else 0


@dataclasses.dataclass(frozen=True)
class ReadConfig:
    max_question_tokens: int           # longer questions are kept and marked truncated
    carved_validation_percent: int = CARVED_VALIDATION_PERCENT  # layouts published without val


def read_file_head(path, size=HEAD_BYTES):
    """The first `size` bytes of a file on any Beam file system: the `read_head` of plan_sources."""
    with FileSystems.open(path) as handle:
        return handle.read(size)


def plan_sources(paths, layout, read_head):
    """Every matched annotation file -> [AnnotationSource], or ValueError before any work.

    read_head(path) -> the first few KB of the file (bytes). All sources share one layout and task.
    """
    if layout not in LAYOUT_CHOICES:
        raise ValueError(f"--layout {layout!r} is not one of {', '.join(LAYOUT_CHOICES)}")
    paths = sorted(set(paths))
    if not paths:
        raise ValueError("no annotation files to read")
    kinds, unplaced = {}, []
    for path in paths:
        head = detect.read_head(path, read_head(path))
        kind = _place(head, layout)
        if kind is None:
            unplaced.append(head)
        else:
            kinds[path] = kind
    if unplaced:
        raise ValueError(_unplaced_message(unplaced, layout))
    _refuse_mixtures(kinds)
    sources = []
    activitynet_kinds = {path: kind for path, kind in kinds.items() if kind.layout == activitynet.NAME}
    for questions_path, answers_path in activitynet.pair_files(activitynet_kinds) if activitynet_kinds else ():
        sources.append(_source((questions_path, answers_path), kinds[questions_path]))
    for path, kind in kinds.items():
        if kind.layout != activitynet.NAME:
            sources.append(_source((path,), kind))
    return sorted(sources, key=lambda source: source.paths)


def _source(paths, kind):
    return AnnotationSource(paths=paths, layout=kind.layout, task=kind.task,
                            split=split_from_file_name(paths[0]), num_candidates=kind.num_candidates)


def _place(head, layout):
    if layout != AUTO_LAYOUT:
        return LAYOUTS[layout].detect(head, True)
    for candidate in LAYOUTS.values():
        kind = candidate.detect(head, False)
        if kind is not None:
            return kind
    return None


def _unplaced_message(heads, layout):
    found = "; ".join(f"{head.path}: {head.describe()}" for head in heads)
    if layout != AUTO_LAYOUT:
        return f"not {layout} files ({layout} reads {LAYOUTS[layout].expected}): {found}"
    known = "; ".join(f"{name}: {candidate.expected}" for name, candidate in LAYOUTS.items())
    return (f"cannot tell the layout of {len(heads)} annotation file(s): {found}. Known layouts: {known}. "
            f"Choose one with --layout ({', '.join(LAYOUT_CHOICES)})")


def _refuse_mixtures(kinds):
    """One run has one task (and candidate count) and one layout: refuse mixtures, naming the files."""
    def grouped(key):
        groups = collections.defaultdict(list)
        for path, kind in kinds.items():
            groups[key(kind)].append(common.base_name(path))
        return "; ".join(f"{name}: {', '.join(files)}" for name, files in sorted(groups.items()))

    tasks = {task_name(kind.task, kind.num_candidates) for kind in kinds.values()}
    if len(tasks) > 1:
        raise ValueError("one run has one task, but these annotation files have several: "
                         f"{grouped(lambda kind: task_name(kind.task, kind.num_candidates))}. "
                         f"Run the pipeline once per task")
    layouts = {kind.layout for kind in kinds.values()}
    if len(layouts) > 1:
        raise ValueError(f"one run reads one layout, but these annotation files are of several: "
                         f"{grouped(lambda kind: kind.layout)}. Choose one with --layout, or match "
                         f"fewer files with --annotations")


def task_name(task, num_candidates=0):
    """'multiple_choice (5 candidates)', 'count', 'open_ended'."""
    return f"{task} ({num_candidates} candidates)" if task == schema.TASK_MULTIPLE_CHOICE else task


def describe_plan(sources, requested_layout):
    """One line for the run's log: the layout (and whether it was detected), task and files."""
    first = sources[0]
    how = "detected" if requested_layout == AUTO_LAYOUT else "--layout"
    files = ", ".join(f"{'+'.join(common.base_name(path) for path in source.paths)} ({source.split or 'split per row'})"
                      for source in sources)
    return (f"annotation layout {first.layout} ({how}), task {task_name(first.task, first.num_candidates)}, "
            f"{len(sources)} source(s): {files}")


def read_source(source, read_bytes, config, locate_video):
    """One source -> (valid AnnotatedQuestions, error records, number of input rows).

    read_bytes(path) -> bytes; locate_video(video_id) -> path, or ValueError with the reason.
    Input rows = valid + rejected rows; a rejected file holds unknown rows and is not counted.
    """
    layout = LAYOUTS[source.layout]
    contents, errors = {}, []
    for path in source.paths:
        try:
            contents[path] = read_bytes(path)
        except Exception as error:  # A file that vanished or cannot be read is one error, not a crash.
            errors.append(error_record(KIND_FILE, common.STAGE, f"cannot read file ({error})", path))
    items = layout.read(source, contents)
    parsed = [item for item in items if isinstance(item, common.ParsedRow)]
    rejected = [(item.order, error_record(KIND_QUESTION, common.STAGE, item.reason, item.source, item.raw))
                for item in items if isinstance(item, common.RejectedRow)]
    input_rows = len(parsed) + len(rejected)
    errors += [error_record(KIND_FILE, common.STAGE, item.reason, item.path)
               for item in items if isinstance(item, common.RejectedFile)]
    rule = validate.SplitRule(source.split, config.carved_validation_percent if layout.carves_validation else 0)
    valid, invalid = validate.validate_rows(parsed, rule, config.max_question_tokens, locate_video, source.paths[0])
    errors += [record for _, record in sorted(rejected + invalid, key=lambda pair: pair[0])]
    return valid, errors, input_rows
