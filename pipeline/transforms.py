"""The pipeline's composite transforms, read top to bottom as the job it does.

  ReadQuestions   annotation sources -> one VideoTask per clip        (+ errors)
  EmbedVideos     VideoTask -> EmbeddedVideo: decode, CNN, quantise  (+ errors)
  BuildRecords    EmbeddedVideo -> (split, record); tf.Transform analysed on train only
  WriteSplits     one set of GZIP TFRecord shards per split (beam.Partition)
  WriteErrors     errors/errors-*.jsonl, counted in the run's metrics

Each returns a dict of PCollections (see its docstring); `build_pipeline`
wires them.
"""

import json

import apache_beam as beam
import tensorflow_transform.beam as tft_beam
from apache_beam.ml.inference.base import RunInference

from features import schema
from pipeline import building, caching, embedding, grouping, inference

RECORDS_PER_TRANSFORM_CALL = 64


class ReadQuestions(beam.PTransform):
    """Sources -> {"tasks": VideoTask per clip, "errors": error records}."""

    def __init__(self, sources, read_config, locate_video):
        super().__init__()
        self.sources = list(sources)
        self.read_config = read_config
        self.locate_video = locate_video

    def expand(self, pbegin):
        read = (pbegin
                | "CreateSources" >> beam.Create(self.sources)
                | "ReadSources" >> beam.ParDo(grouping.ReadSources(self.read_config, self.locate_video))
                .with_outputs(grouping.ERRORS, main="rows"))
        unique = (read.rows
                  | "KeyByQuestionId" >> beam.Map(lambda row: (row.question.question_id, row))
                  | "GroupByQuestionId" >> beam.GroupByKey()
                  | "DropDuplicateQuestions" >> beam.FlatMap(grouping.keep_first_question)
                  .with_outputs(grouping.ERRORS, main="rows"))
        tasks = (unique.rows
                 | "KeyByClip" >> beam.Map(lambda row: (row.clip_id, row))
                 | "GroupByClip" >> beam.GroupByKey()
                 | "AssignSplits" >> beam.FlatMap(grouping.make_video_task)
                 .with_outputs(grouping.ERRORS, main="tasks"))
        errors = ((read[grouping.ERRORS], unique[grouping.ERRORS], tasks[grouping.ERRORS])
                  | "CollectReadErrors" >> beam.Flatten())
        return {"tasks": tasks.tasks, "errors": errors}


class EmbedVideos(beam.PTransform):
    """VideoTasks -> {"videos": EmbeddedVideo per clip, "errors": error records}.

    With a feature cache (`cache_identity` given), clips found in it skip
    decoding and the CNN, and newly embedded clips are stored in it.
    """

    def __init__(self, config, cache_identity=None):
        super().__init__()
        self.config = config
        self.cache_identity = cache_identity

    def expand(self, tasks):
        config = self.config
        use_cache = config.feature_cache and self.cache_identity is not None
        if use_cache:
            looked_up = tasks | "LookUpFeatureCache" >> beam.ParDo(caching.LookUpFeatureCache(
                config.feature_cache, self.cache_identity)).with_outputs(caching.HITS, main="misses")
            tasks = looked_up.misses
        decoded = (tasks
                   | "DecodeVideos" >> beam.ParDo(embedding.DecodeVideos(
                       config.sampling, config.image_size, config.decode_threads))
                   .with_outputs(grouping.ERRORS, main="frames"))
        assembled = (decoded.frames
                     | "RunInference" >> RunInference(inference.keyed_frozen_cnn_handler(
                         config.backbone, config.cnn_weights, config.image_size,
                         config.inference_batch_size, config.large_model))
                     | "AssembleVideos" >> beam.FlatMap(embedding.assemble_video, config.feature_dtype,
                                                        config.feature_dim)
                     .with_outputs(grouping.ERRORS, main="videos"))
        errors = (decoded[grouping.ERRORS], assembled[grouping.ERRORS]) | "CollectEmbedErrors" >> beam.Flatten()
        videos = assembled.videos
        if use_cache:
            stored = videos | "StoreInFeatureCache" >> beam.ParDo(caching.StoreInFeatureCache(
                config.feature_cache, self.cache_identity))
            videos = (looked_up[caching.HITS], stored) | "JoinCachedAndEmbedded" >> beam.Flatten()
        return {"videos": videos, "errors": errors}


class BuildRecords(beam.PTransform):
    """EmbeddedVideos -> {"records": (split, serialized), "transform_fn": tf.Transform's output}.

    The transform is analysed on the train split only and applied to every
    clip in its own worker (`building.BuildRecordsFn`), from a side input.
    """

    def __init__(self, task, feature_dim, preprocessing_fn, raw_metadata):
        super().__init__()
        self.task = task
        self.feature_dim = feature_dim
        self.preprocessing_fn = preprocessing_fn
        self.raw_metadata = raw_metadata

    def expand(self, videos):
        from features import transform
        train_instances = (videos
                           | "KeepTrainSplit" >> beam.Filter(lambda video: video.task.split == schema.TRAIN_SPLIT)
                           | "MakeTransformInputs" >> beam.Map(transform.raw_instance))
        transform_fn = ((train_instances, self.raw_metadata)
                        | "AnalyzeTrainSplit" >> tft_beam.AnalyzeDataset(self.preprocessing_fn))
        transform_fn_dir, _ = transform_fn
        records = (videos
                   # Whole batches (a bundle's last may be smaller): one transform call costs
                   # about as much for 1 clip as for 64.
                   | "BatchClips" >> beam.BatchElements(min_batch_size=RECORDS_PER_TRANSFORM_CALL,
                                                        max_batch_size=RECORDS_PER_TRANSFORM_CALL)
                   | "TransformAndSerialize" >> beam.ParDo(
                       building.BuildRecordsFn(self.task, self.feature_dim),
                       beam.pvalue.AsSingleton(transform_fn_dir)))
        return {"records": records, "transform_fn": transform_fn}


def _split_index(item, num_partitions):
    return schema.SPLITS.index(item[0])


class WriteSplits(beam.PTransform):
    """(split, serialized) -> GZIP TFRecord shards `<output>/<split>-*.tfrecord.gz`, one set per split."""

    def __init__(self, output_dir):
        super().__init__()
        self.output_dir = output_dir

    def expand(self, records):
        partitions = records | "PartitionBySplit" >> beam.Partition(_split_index, len(schema.SPLITS))
        results = []
        for split, partition in zip(schema.SPLITS, partitions):
            name = split.capitalize()
            results.append(partition
                           | f"DropSplitKey{name}" >> beam.Map(lambda item: item[1])
                           | f"Write{name}Records" >> beam.io.WriteToTFRecord(
                               f"{self.output_dir}/{schema.record_file_prefix(split)}",
                               file_name_suffix=schema.RECORD_FILE_SUFFIX,
                               compression_type=beam.io.filesystem.CompressionTypes.GZIP))
        return results


class WriteErrors(beam.PTransform):
    """Error records -> `<output>/errors/errors-*.jsonl`, each counted in the run's metrics."""

    def __init__(self, output_dir):
        super().__init__()
        self.output_dir = output_dir

    def expand(self, errors):
        return (errors
                | "CountErrors" >> beam.Map(grouping.count_error)
                | "FormatErrors" >> beam.Map(lambda error: json.dumps(error, ensure_ascii=False, default=str))
                | "WriteErrorLines" >> beam.io.WriteToText(f"{self.output_dir}/{schema.ERRORS_DIR}/errors",
                                                           file_name_suffix=".jsonl"))


def build_pipeline(pipeline, config, sources, read_config, locate_video, task, staging_dir, cache_identity=None):
    """Add the whole job to `pipeline`; its outputs go under `staging_dir`."""
    from features import transform
    read = pipeline | "ReadQuestions" >> ReadQuestions(sources, read_config, locate_video)
    embedded = read["tasks"] | "EmbedVideos" >> EmbedVideos(config, cache_identity)
    built = embedded["videos"] | "BuildRecords" >> BuildRecords(
        task, config.feature_dim,
        transform.make_preprocessing_fn(transform.TransformConfig(
            task=task, feature_dim=config.feature_dim, max_question_tokens=config.max_question_tokens,
            answer_top_k=config.answer_top_k)),
        transform.raw_metadata(config.feature_dim))
    _ = built["transform_fn"] | "WriteTransformFn" >> tft_beam.WriteTransformFn(staging_dir)
    _ = built["records"] | "WriteSplits" >> WriteSplits(staging_dir)
    _ = ((read["errors"], embedded["errors"]) | "CollectErrors" >> beam.Flatten()
         | "WriteErrors" >> WriteErrors(staging_dir))
