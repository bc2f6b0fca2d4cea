"""Embedded clips to records: the analysed tf.Transform graph applied in the clip's own worker.

`BuildRecordsFn` receives batches of `EmbeddedVideo`s (Beam's BatchElements,
which does not shuffle) and the path of the transform graph that
`AnalyzeDataset` wrote (a singleton side input). It loads the graph once per
worker, transforms each batch in one call (token ids, labels) and emits
(split, serialized SequenceExample). A clip's frame features therefore go
from the CNN to its record without being regrouped with its transform
output, as a join on the clip id would do (a shuffle of every feature).
"""

import apache_beam as beam

from features import records, schema
from pipeline import metrics


class BuildRecordsFn(beam.DoFn):
    """[EmbeddedVideo] batch + transform_fn path (side input) -> (split, serialized record)."""

    def __init__(self, task, feature_dim):
        self.task = task
        self.feature_dim = feature_dim
        self._applier = None
        self._loaded_from = None

    def _transform(self, transform_fn_dir):
        if self._loaded_from != transform_fn_dir:
            from features import transform  # Imported in the worker, with tf.Transform's Keras 2.
            self._applier = transform.TransformApplier(transform_fn_dir, self.feature_dim)
            self._loaded_from = transform_fn_dir
        return self._applier

    def process(self, batch, transform_fn_dir):
        with metrics.timed(metrics.STAGE_BUILD):
            transformed = self._transform(transform_fn_dir).apply(batch)
            built = [(video, self._serialize(video, *outputs)) for video, outputs in zip(batch, transformed)]
        for video, serialized in built:
            task = video.task
            yield task.split, serialized
            for name, value in ((metrics.split_metric(task.split, "videos"), 1),
                                (metrics.split_metric(task.split, "questions"), len(task.questions)),
                                (metrics.split_metric(task.split, "frames"), video.num_frames),
                                (metrics.TRUNCATED_QUESTIONS, sum(q.truncated for q in task.questions))):
                metrics.count(name, value)
            metrics.count(metrics.WRITTEN_QUESTIONS, len(task.questions))

    def _serialize(self, video, labels, token_ids, candidate_token_ids):
        task = video.task
        if self.task != schema.TASK_OPEN_ENDED:
            labels = [question.label_for(self.task) for question in task.questions]
        example = records.build_video_example(
            task.clip_id, task.split, video.frame_bytes, task.questions, labels, token_ids,
            candidate_token_ids if self.task == schema.TASK_MULTIPLE_CHOICE else None)
        return example.SerializeToString(deterministic=True)
