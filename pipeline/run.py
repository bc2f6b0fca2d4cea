"""`python -m pipeline.run`: videos and questions -> per-video feature records.

    python -m pipeline.run --annotations 'D/*_qa.json' --video_dir D/videos --output_dir OUT \\
        [--video_pattern 'video{video_id}.mp4' | --video_mapping youtube_mapping.txt] \\
        [--cnn_weights imagenet|random|FILE] [--image_size 299] [--frames_per_video 16] \\
        [--feature_dtype float16] [--answer_top_k 1000] [Beam options: --runner, ...]

Reads annotations, decodes every distinct video once, embeds sampled frames
with the frozen InceptionV3 through RunInference (several videos share a
batch; decoding runs ahead on background threads), learns vocabularies and feature statistics
on the train split with tf.Transform, and writes GZIP TFRecord shards per
split, `transform_fn/`, `errors/` and `manifest.json` (see README).
"""

import argparse
import json
import logging
import sys
import tempfile
import time

import apache_beam as beam
import tensorflow_transform.beam as tft_beam
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference.base import RunInference
from apache_beam.options.pipeline_options import (DebugOptions, PipelineOptions, SetupOptions,
                                                  StandardOptions)

from features import cnn, quantize, sampling, schema
from features import manifest as manifest_lib
from pipeline import annotations, inference, logs, output, paths, stages, transform

DEFAULT_INFERENCE_BATCH_SIZE = 32
DEFAULT_DECODE_THREADS = 1


def build_argument_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--annotations", required=True,
                        help="glob of annotation files (.json list, .jsonl, .csv/.tsv)")
    parser.add_argument("--video_dir", required=True, help="directory holding the videos (local or gs://)")
    parser.add_argument("--output_dir", required=True, help="where records, transform_fn/ and manifest.json go")
    parser.add_argument("--video_pattern", default=None,
                        help=f"file name under --video_dir, with {{video_id}} and/or {{clip}} "
                             f"(default {paths.DEFAULT_VIDEO_PATTERN!r}, or "
                             f"{paths.DEFAULT_MAPPED_VIDEO_PATTERN!r} with --video_mapping)")
    parser.add_argument("--video_mapping", default=None,
                        help="MSVD-QA youtube_mapping.txt: lines '<clip> vid<N>'")
    parser.add_argument("--cnn_weights", default=schema.DEFAULT_CNN_WEIGHTS,
                        help=f"{schema.CNN_WEIGHTS_CHOICES_HELP} (imagenet downloads once; needs internet)")
    parser.add_argument("--image_size", type=int, default=schema.DEFAULT_IMAGE_SIZE)
    parser.add_argument("--frames_per_video", type=int, default=schema.DEFAULT_FRAMES_PER_VIDEO,
                        help="frames taken uniformly over each clip (middle of N equal segments)")
    parser.add_argument("--fps", type=float, default=0.0,
                        help="instead of --frames_per_video: one frame every 1/F s (needs --max_frames)")
    parser.add_argument("--max_frames", type=int, default=0, help="cap on frames with --fps")
    parser.add_argument("--feature_dtype", default=schema.DEFAULT_FEATURE_DTYPE, choices=schema.FEATURE_DTYPES)
    parser.add_argument("--answer_top_k", type=int, default=schema.DEFAULT_ANSWER_TOP_K,
                        help="answer vocabulary: the K most frequent training answers")
    parser.add_argument("--max_question_tokens", type=int, default=schema.DEFAULT_MAX_QUESTION_TOKENS,
                        help="longer questions are truncated (and counted)")
    parser.add_argument("--inference_batch_size", type=int, default=DEFAULT_INFERENCE_BATCH_SIZE,
                        help="frames per CNN call (whole videos share a batch up to this many frames)")
    parser.add_argument("--decode_threads", type=int, default=DEFAULT_DECODE_THREADS,
                        help="background threads per worker decoding the next videos while the CNN "
                             "embeds the previous ones (0: decode inline)")
    parser.add_argument("--large_model", action="store_true",
                        help="one CNN per machine shared by all worker processes (saves memory)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace records of a different configuration in --output_dir")
    return parser


def make_config(args, cnn_description):
    """Everything that determines the records: recorded in the manifest and fingerprinted."""
    return {
        "schema_version": schema.SCHEMA_VERSION,
        "annotations": args.annotations,
        "video_dir": args.video_dir,
        "video_pattern": args.video_pattern,
        "video_mapping": args.video_mapping,
        manifest_lib.CONFIG_CNN: cnn_description,
        manifest_lib.CONFIG_SAMPLING: sampling.SamplingConfig(
            args.frames_per_video, args.fps, args.max_frames).to_dict(),
        manifest_lib.CONFIG_FEATURE_DTYPE: args.feature_dtype,
        manifest_lib.CONFIG_MAX_QUESTION_TOKENS: args.max_question_tokens,
        manifest_lib.CONFIG_ANSWER_TOP_K: args.answer_top_k,
        manifest_lib.CONFIG_QUANTIZE: manifest_lib.quantize_config(),
    }


def validate_arguments(args):
    """Clear errors for configuration mistakes, before any work starts."""
    sampling.SamplingConfig(args.frames_per_video, args.fps, args.max_frames)
    quantize.check_feature_dtype(args.feature_dtype)
    cnn.validate_cnn_config(args.cnn_weights, args.image_size)
    for name in ("answer_top_k", "max_question_tokens", "inference_batch_size"):
        if getattr(args, name) <= 0:
            raise ValueError(f"--{name} must be positive, got {getattr(args, name)}")
    if args.decode_threads < 0:
        raise ValueError(f"--decode_threads must be 0 or more, got {args.decode_threads}")
    if args.fps and args.frames_per_video != schema.DEFAULT_FRAMES_PER_VIDEO:
        raise ValueError("give either --frames_per_video or --fps/--max_frames, not both")


def make_runner(options):
    """DirectRunner means Beam's Python FnApiRunner here (in-process or multi-processing).

    Beam's DirectRunner first tries the Prism runner, which downloads a binary;
    the FnApiRunner runs offline, honours --direct_running_mode and
    --direct_num_workers, and shows our progress lines as they happen.
    """
    runner = options.view_as(StandardOptions).runner
    if runner not in (None, "DirectRunner", "direct"):
        return runner
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle
    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    return fn_runner.FnApiRunner(provision_info=fn_runner.ExtendedProvisionInfo(
        beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded)))


def build_pipeline(pipeline, args, staging_dir, locate_video):
    """Add every step to `pipeline`; outputs go under `staging_dir`."""
    sampling_config = sampling.SamplingConfig(args.frames_per_video, args.fps, args.max_frames)
    parsed = (pipeline
              | "MatchAnnotationFiles" >> fileio.MatchFiles(args.annotations)
              | "ReadAnnotationFiles" >> fileio.ReadMatches()
              | "ParseAnnotations" >> beam.ParDo(stages.ParseAnnotationFiles(
                  args.max_question_tokens, locate_video)).with_outputs(
                      stages.ERRORS, stages.METRICS, main="rows"))
    unique = (parsed.rows
              | "KeyByQuestionId" >> beam.Map(lambda row: (row[annotations.ROW_QUESTION_ID], row))
              | "GroupByQuestionId" >> beam.GroupByKey()
              | "DropDuplicateQuestions" >> beam.FlatMap(stages.keep_first_question).with_outputs(
                  stages.ERRORS, main="rows"))
    tasks = (unique.rows
             | "KeyByVideo" >> beam.Map(lambda row: (row[annotations.ROW_VIDEO_ID], row))
             | "GroupByVideo" >> beam.GroupByKey()
             | "AssignSplits" >> beam.FlatMap(stages.make_video_task).with_outputs(
                 stages.ERRORS, main="tasks"))
    decoded = (tasks.tasks
               | "DecodeVideos" >> beam.ParDo(stages.DecodeVideos(
                   sampling_config, args.image_size, args.decode_threads))
               .with_outputs(stages.ERRORS, main="videos"))
    assembled = (decoded.videos
                 | "RunInference" >> RunInference(inference.keyed_frozen_cnn_handler(
                     args.cnn_weights, args.image_size, args.inference_batch_size, args.large_model))
                 | "AssembleVideos" >> beam.FlatMap(stages.assemble_video, args.feature_dtype)
                 .with_outputs(stages.ERRORS, main="payloads"))
    payloads = assembled.payloads

    metadata = transform.raw_metadata()
    instances = payloads | "MakeTransformInputs" >> beam.Map(stages.transform_instance)
    train_instances = (payloads
                       | "KeepTrainSplit" >> beam.Filter(lambda p: p["split"] == schema.TRAIN_SPLIT)
                       | "MakeTrainTransformInputs" >> beam.Map(stages.transform_instance))
    transform_fn = ((train_instances, metadata)
                    | "AnalyzeTrainSplit" >> tft_beam.AnalyzeDataset(transform.make_preprocessing_fn(
                        args.max_question_tokens, args.answer_top_k)))
    transformed, _ = ((instances, metadata), transform_fn) | "TransformAllSplits" >> tft_beam.TransformDataset()
    _ = transform_fn | "WriteTransformFn" >> tft_beam.WriteTransformFn(staging_dir)

    built = ({"payload": payloads | "KeyPayloads" >> beam.Map(lambda p: (p["video_id"], p)),
              "transformed": transformed | "KeyTransformed" >> beam.Map(stages.key_transformed)}
             | "JoinTransformOutputs" >> beam.CoGroupByKey()
             | "BuildRecords" >> beam.FlatMap(stages.build_record).with_outputs(stages.METRICS, main="records"))
    for split in schema.SPLITS:
        _ = (built.records
             | f"Select{split.capitalize()}" >> beam.Filter(lambda item, s=split: item[0] == s)
             | f"DropKey{split.capitalize()}" >> beam.Map(lambda item: item[1])
             | f"Write{split.capitalize()}Records" >> beam.io.WriteToTFRecord(
                 f"{staging_dir}/{schema.record_file_prefix(split)}",
                 file_name_suffix=schema.RECORD_FILE_SUFFIX,
                 compression_type=beam.io.filesystem.CompressionTypes.GZIP))

    errors = ((parsed[stages.ERRORS], unique[stages.ERRORS], tasks[stages.ERRORS],
               decoded[stages.ERRORS], assembled[stages.ERRORS]) | "CollectErrors" >> beam.Flatten())
    _ = (errors
         | "FormatErrors" >> beam.Map(lambda error: json.dumps(error, ensure_ascii=False, default=str))
         | "WriteErrors" >> beam.io.WriteToText(f"{staging_dir}/{schema.ERRORS_DIR}/errors",
                                                file_name_suffix=".jsonl"))
    _ = ((parsed[stages.METRICS], built[stages.METRICS],
          errors | "CountErrors" >> beam.FlatMap(stages.error_metrics))
         | "CollectMetrics" >> beam.Flatten()
         | "SumMetrics" >> beam.CombinePerKey(sum)
         | "MetricsToDict" >> beam.combiners.ToDict()
         | "FormatMetrics" >> beam.Map(lambda metrics: json.dumps(metrics, sort_keys=True))
         | "WriteMetrics" >> beam.io.WriteToText(f"{staging_dir}/{output.METRICS_FILE}",
                                                 num_shards=1, shard_name_template=""))


def _vocabulary_sizes(staging_dir):
    import tensorflow_transform as tft
    transform_output = tft.TFTransformOutput(staging_dir)
    return {name: transform_output.vocabulary_size_by_name(name)
            for name in (schema.QUESTION_VOCABULARY_NAME, schema.ANSWER_VOCABULARY_NAME)}


def run(argv=None):
    """Build and run the pipeline; returns the manifest dict (None for a dry run)."""
    args, beam_args = build_argument_parser().parse_known_args(argv)
    options = PipelineOptions(beam_args)
    options.view_as(SetupOptions).save_main_session = False
    dry_run = bool(options.view_as(DebugOptions).dry_run) if hasattr(DebugOptions, "dry_run") else False
    dry_run = dry_run or "--dry_run=True" in beam_args or "--dry_run" in beam_args
    validate_arguments(args)
    output_dir = args.output_dir.rstrip("/")
    mapping = paths.read_mapping(args.video_mapping) if args.video_mapping else None
    locate_video = paths.VideoLocator(args.video_dir, args.video_pattern, mapping)

    if dry_run:
        # Nothing is read or written: the transform's temp dir is local so that
        # building the job needs no access to the (possibly gs://) output dir.
        staging_dir = f"{output_dir}/{output.STAGING_PREFIX}dry-run"
        transform_temp_dir = tempfile.mkdtemp(prefix="pipeline-dry-run-")
        config = None
    else:
        if not FileSystems.match([args.annotations])[0].metadata_list:
            raise ValueError(f"--annotations {args.annotations!r} matches no files")
        logging.info("building the CNN once to check it and record its checksum")
        cnn_description = cnn.FrozenCnn(args.cnn_weights, args.image_size).describe()
        logging.info("CNN: %s", cnn_description["note"])
        config = make_config(args, cnn_description)
        output.check_output_dir(output_dir, config, args.overwrite)
        staging_dir = output.new_staging_dir(output_dir)
        transform_temp_dir = f"{staging_dir}/{output.TRANSFORM_TEMP_DIR}"

    started = time.time()
    pipeline = beam.Pipeline(runner=make_runner(options), options=options)
    with tft_beam.Context(temp_dir=transform_temp_dir):
        build_pipeline(pipeline, args, staging_dir, locate_video)
    result = pipeline.run()
    if dry_run:
        logging.info("dry run: the job was built but not submitted")
        return None
    result.wait_until_finish()

    counts = output.counts_from_metrics(output.read_metrics(staging_dir))
    manifest = {
        manifest_lib.MANIFEST_SCHEMA_VERSION: schema.SCHEMA_VERSION,
        manifest_lib.MANIFEST_CONFIG: config,
        manifest_lib.MANIFEST_CONFIG_FINGERPRINT: manifest_lib.fingerprint(config),
        manifest_lib.MANIFEST_COUNTS: counts,
        manifest_lib.MANIFEST_VOCABULARY: _vocabulary_sizes(staging_dir),
        manifest_lib.MANIFEST_CREATED: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    output.publish(staging_dir, output_dir, manifest)
    print(output.format_summary(manifest, output_dir, time.time() - started), flush=True)
    accounted = counts[stages.METRIC_WRITTEN_QUESTIONS] + counts[stages.METRIC_REJECTED_QUESTIONS]
    if accounted != counts[stages.METRIC_INPUT_QUESTIONS]:
        logging.error("BUG: %d input questions but %d written + rejected",
                      counts[stages.METRIC_INPUT_QUESTIONS], accounted)
    return manifest


def main(argv=None):
    logs.configure_logging()
    try:
        run(argv)
    except ValueError as error:
        print(f"pipeline.run: error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
