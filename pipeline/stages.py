"""The Beam steps of `pipeline.run`, each a DoFn or function with one job.

Flow (element types in brackets):
  ParseAnnotationFiles   file -> question rows [row dict]           + errors
  keep_first_question    (question_id, rows) -> row                 + errors (duplicates)
  make_video_task        (video_id, rows) -> task [dict]            + errors (video in two splits)
  DecodeVideos           task -> (info, frames [T, size, size, 3])  + errors
  RunInference           (info, frames) -> (info, features [T, 2048]): videos batched by frames
  assemble_video         (info, features) -> payload                + errors
  transform_instance     payload -> tf.Transform input instance
  build_record           (video_id, {payload, transformed}) -> (split, serialized record)

Every rejected question leaves as an error dict (see `annotations.error_record`)
and every stage emits ("metric", count) pairs the run sums into its summary.
"""

import collections
import concurrent.futures

import apache_beam as beam
import numpy as np
from apache_beam.utils.windowed_value import WindowedValue

from features import quantize, records, schema, video
from pipeline import annotations, progress
from pipeline.annotations import (KIND_FILE, KIND_QUESTION, ROW_ANSWER, ROW_QUESTION,
                                  ROW_QUESTION_ID, ROW_QUESTION_TYPE, ROW_SOURCE, ROW_SPLIT,
                                  ROW_SPLIT_IS_EXPLICIT, ROW_TRUNCATED, ROW_VIDEO_ID, ROW_VIDEO_PATH,
                                  error_record)

ERRORS = "errors"
METRICS = "metrics"

METRIC_INPUT_QUESTIONS = "input_questions"
METRIC_WRITTEN_QUESTIONS = "written_questions"
METRIC_REJECTED_QUESTIONS = "rejected_questions"
METRIC_REJECTED_FILES = "rejected_annotation_files"
METRIC_TRUNCATED_QUESTIONS = "truncated_questions"
METRIC_ANNOTATION_FILES = "annotation_files"


def split_metric(split, name):
    """'train.videos' etc.: per-split counts in the summary."""
    return f"{split}.{name}"


def rejected_metric(stage):
    return f"rejected_by_stage.{stage}"


class ParseAnnotationFiles(beam.DoFn):
    """One annotation file (fileio.ReadableFile) -> valid rows; bad rows to errors."""

    def __init__(self, max_question_tokens, locate_video):
        self.max_question_tokens = max_question_tokens
        self.locate_video = locate_video

    def process(self, readable_file):
        path = readable_file.metadata.path
        try:
            data = readable_file.read()
        except Exception as error:  # A file that vanished or cannot be read is one error, not a crash.
            yield beam.pvalue.TaggedOutput(ERRORS, error_record(
                KIND_FILE, "read_annotations", f"cannot read file ({error})", path))
            return
        rows, errors = annotations.parse_annotation_file(
            path, data, self.max_question_tokens, self.locate_video)
        yield beam.pvalue.TaggedOutput(METRICS, (METRIC_ANNOTATION_FILES, 1))
        question_errors = sum(1 for error in errors if error["kind"] == KIND_QUESTION)
        yield beam.pvalue.TaggedOutput(METRICS, (METRIC_INPUT_QUESTIONS, len(rows) + question_errors))
        for index, row in enumerate(rows):
            row["source_order"] = [path, index]
            yield row
        for error in errors:
            yield beam.pvalue.TaggedOutput(ERRORS, error)


def keep_first_question(keyed_rows):
    """(question_id, rows): keep the first in file order; later duplicates are errors."""
    question_id, rows = keyed_rows
    rows = sorted(rows, key=lambda row: tuple(row["source_order"]))
    yield rows[0]
    for duplicate in rows[1:]:
        yield beam.pvalue.TaggedOutput(ERRORS, error_record(
            KIND_QUESTION, "deduplicate_questions",
            f"duplicate question id {question_id!r} (first seen at {rows[0][ROW_SOURCE]})",
            duplicate[ROW_SOURCE], _public(duplicate)))


def _public(row):
    """A row as the user wrote it, for error records."""
    return {key: row[key] for key in (ROW_VIDEO_ID, ROW_QUESTION, ROW_ANSWER, ROW_QUESTION_ID)
            if key in row}


def make_video_task(keyed_rows):
    """(video_id, rows) -> one task per video; a video in two explicit splits is refused."""
    video_id, rows = keyed_rows
    rows = sorted(rows, key=lambda row: tuple(row["source_order"]))
    explicit = sorted({row[ROW_SPLIT] for row in rows if row[ROW_SPLIT_IS_EXPLICIT]})
    if len(explicit) > 1:
        for row in rows:
            yield beam.pvalue.TaggedOutput(ERRORS, error_record(
                KIND_QUESTION, "assign_splits",
                f"video {video_id!r} is annotated in splits {' and '.join(explicit)}; "
                f"a video may be in one split only (refused to avoid leaking it)",
                row[ROW_SOURCE], _public(row)))
        return
    split = explicit[0] if explicit else rows[0][ROW_SPLIT]
    questions = [{
        "question": row[ROW_QUESTION], "question_id": row[ROW_QUESTION_ID],
        "question_type": row[ROW_QUESTION_TYPE], "answer": row[ROW_ANSWER],
        "truncated": row[ROW_TRUNCATED], "source": row[ROW_SOURCE]} for row in rows]
    yield {"video_id": video_id, "video_path": rows[0][ROW_VIDEO_PATH], "split": split,
           "questions": questions}


def _reject_video(task, stage, reason):
    for question in task["questions"]:
        yield beam.pvalue.TaggedOutput(ERRORS, error_record(
            KIND_QUESTION, stage, reason, question["source"],
            {"video_id": task["video_id"], "question_id": question["question_id"],
             "question": question["question"], "answer": question["answer"]}))


def _decode_task(task, sampling_config, image_size):
    """(task, DecodedVideo or None, error message or None); never raises."""
    try:
        return task, video.decode_video(task["video_path"], sampling_config, image_size), None
    except video.VideoDecodeError as error:
        return task, None, str(error)
    except Exception as error:  # An unexpected decoder failure must not stop the run.
        return task, None, (f"{task['video_path']}: unexpected decoding error "
                            f"({type(error).__name__}: {error})")


class DecodeVideos(beam.DoFn):
    """Decode and sample each video once; emit (video info, frames uint8 [T, size, size, 3]).

    Decoding runs on `decode_threads` background threads, up to
    2 x decode_threads videos ahead of the element being emitted, so a worker
    decodes the next videos while the CNN downstream in the same fused stage
    embeds the previous ones (PyAV and TensorFlow release the GIL). Outputs
    keep the input order; the bundle's last videos are emitted by
    `finish_bundle`. decode_threads=0 decodes inline.
    """

    def __init__(self, sampling_config, image_size, decode_threads=0):
        self.sampling_config = sampling_config
        self.image_size = image_size
        self.decode_threads = decode_threads
        self._executor = None
        self._pending = None

    def setup(self):
        if self.decode_threads > 0:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                self.decode_threads, thread_name_prefix="decode_video")

    def start_bundle(self):
        self._pending = collections.deque()

    def process(self, task, window=beam.DoFn.WindowParam, timestamp=beam.DoFn.TimestampParam):
        if self._executor is None:
            yield from self._outputs(*_decode_task(task, self.sampling_config, self.image_size))
            return
        self._pending.append((self._executor.submit(
            _decode_task, task, self.sampling_config, self.image_size), window, timestamp))
        while len(self._pending) > 2 * self.decode_threads:
            future, _, _ = self._pending.popleft()
            yield from self._outputs(*future.result())

    def finish_bundle(self):
        while self._pending:
            future, window, timestamp = self._pending.popleft()
            for output in self._outputs(*future.result()):
                if isinstance(output, beam.pvalue.TaggedOutput):
                    yield beam.pvalue.TaggedOutput(output.tag, WindowedValue(output.value, timestamp, [window]))
                else:
                    yield WindowedValue(output, timestamp, [window])

    def teardown(self):
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    @staticmethod
    def _outputs(task, decoded, error):
        if decoded is None:
            yield from _reject_video(task, "decode_video", error)
            return
        progress.add(progress.VIDEOS_DECODED)
        yield dict(task, num_frames=decoded.num_frames, clip=decoded.summary()), decoded.frames


def assemble_video(embedded, feature_dtype):
    """(video info, features float32 [T, 2048]) -> payload with stored frame bytes and statistics."""
    task, features = embedded
    features = np.asarray(features, dtype=np.float32)
    if features.shape != (task["num_frames"], schema.FEATURE_DIM):
        yield from _reject_video(task, "embed_frames",
                                 f"{task['video_path']}: expected features of shape "
                                 f"({task['num_frames']}, {schema.FEATURE_DIM}) from the CNN, "
                                 f"got {features.shape}")
        return
    frame_bytes = quantize.encode_frames(features, feature_dtype)
    stored = quantize.decode_frames(frame_bytes, feature_dtype).astype(np.float64)
    yield dict(task, frame_bytes=frame_bytes,
               frame_sum=stored.sum(axis=0).astype(np.float32),
               frame_sum_squares=np.square(stored).sum(axis=0).astype(np.float32))


def transform_instance(payload):
    """Payload -> the tf.Transform raw instance (see pipeline.transform)."""
    return {
        schema.TRANSFORM_INPUT_VIDEO_ID: payload["video_id"],
        schema.TRANSFORM_INPUT_QUESTION: [q["question"] for q in payload["questions"]],
        schema.TRANSFORM_INPUT_ANSWER: [q["answer"] for q in payload["questions"]],
        schema.TRANSFORM_INPUT_FRAME_SUM: payload["frame_sum"],
        schema.TRANSFORM_INPUT_FRAME_SUM_SQUARES: payload["frame_sum_squares"],
        schema.TRANSFORM_INPUT_FRAME_COUNT: np.float32(payload["num_frames"]),
    }


def key_transformed(instance):
    video_id = instance[schema.TRANSFORM_VIDEO_ID]
    return (video_id.decode("utf-8") if isinstance(video_id, bytes) else str(video_id)), instance


def build_record(joined):
    """(video_id, {payload, transformed}) -> (split, serialized SequenceExample) + metrics."""
    video_id, groups = joined
    payloads, transformed = list(groups["payload"]), list(groups["transformed"])
    if len(payloads) != 1 or len(transformed) != 1:
        raise ValueError(f"video {video_id!r}: expected one payload and one transform output, "
                         f"got {len(payloads)} and {len(transformed)}")
    payload, outputs = payloads[0], transformed[0]
    counts = np.asarray(outputs[schema.TRANSFORM_QUESTION_TOKEN_COUNTS], dtype=np.int64)
    token_ids = np.split(np.asarray(outputs[schema.TRANSFORM_QUESTION_TOKEN_IDS], dtype=np.int64),
                         np.cumsum(counts)[:-1])
    labels = np.asarray(outputs[schema.TRANSFORM_LABELS], dtype=np.int64)
    questions = payload["questions"]
    if len(counts) != len(questions) or len(labels) != len(questions):
        raise ValueError(f"video {video_id!r}: transform returned {len(counts)} questions, "
                         f"expected {len(questions)}")
    for question, ids, label in zip(questions, token_ids, labels):
        question["token_ids"] = ids.tolist()
        question["label"] = int(label)
    example = records.build_video_example(video_id, payload["split"], payload["frame_bytes"], questions)
    split = payload["split"]
    progress.add(progress.QUESTIONS_WRITTEN, len(questions))
    yield split, example.SerializeToString()
    for name, value in ((split_metric(split, "videos"), 1),
                        (split_metric(split, "questions"), len(questions)),
                        (split_metric(split, "frames"), payload["num_frames"]),
                        (METRIC_WRITTEN_QUESTIONS, len(questions)),
                        (METRIC_TRUNCATED_QUESTIONS, sum(q["truncated"] for q in questions))):
        yield beam.pvalue.TaggedOutput(METRICS, (name, value))


def error_metrics(error):
    """Summary counts for one error record."""
    kind_metric = METRIC_REJECTED_QUESTIONS if error["kind"] == KIND_QUESTION else METRIC_REJECTED_FILES
    return [(kind_metric, 1), (rejected_metric(error["stage"]), 1)]
