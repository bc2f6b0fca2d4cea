"""`python -m pipeline.run`: videos and questions -> per-clip feature records.

    python -m pipeline.run --annotations 'D/*_qa.json' --video_dir D/videos --output_dir OUT \\
        [--layout auto|msvd_qa|msrvtt_qa|tgif_qa|next_qa|activitynet_qa|how2qa|generic] \\
        [--video_pattern 'video{video_id}.mp4' | --video_mapping youtube_mapping.txt] \\
        [--cnn inception_v3] [--cnn_weights imagenet|random[:SEED]|FILE] [--image_size N] \\
        [--frames_per_video 16] [--feature_dtype float16] [--answer_top_k 1000] \\
        [--feature_cache DIR] [Beam options: --runner, ...]

Reads the annotations in their published layout, decodes every distinct clip
once, embeds its sampled frames with the frozen CNN through RunInference,
learns vocabularies and feature statistics on the train split with
tf.Transform, and writes GZIP TFRecord shards per split, `transform_fn/`,
`errors/` and `manifest.json` (see README). A run that writes no question at
all exits with status 1, naming the most frequent rejection reasons.
"""

if __name__ == "__main__":
    import sys as _sys

    from features import console as _console
    _console.quiet_tensorflow_startup(_sys.argv[1:])

import dataclasses
import logging
import sys
import tempfile
import time
import typing

import apache_beam as beam
import tensorflow_transform.beam as tft_beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions, StandardOptions

from features import cli, cnn, schema
from features import manifest as manifest_lib
from pipeline import config as config_lib
from pipeline import annotations, feature_cache, logs, metrics, output, paths, transforms


class NothingWrittenError(Exception):
    """The run finished but wrote no question at all."""


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


def plan_inputs(config, dry_run):
    """(annotation sources, task, candidates per question); clear errors before any work.

    A dry run reads local annotation files only: building a job must not wait
    for credentials or a network it may not have (remote files are planned by
    the real run).
    """
    if dry_run and "://" in config.annotations:
        logging.info("dry run: %s is not read (remote); the job is built without its sources", config.annotations)
        return [], schema.TASK_OPEN_ENDED, 0
    try:
        matched = [metadata.path for metadata in FileSystems.match([config.annotations])[0].metadata_list]
    except Exception as error:
        if not dry_run:
            raise ValueError(f"--annotations {config.annotations!r}: cannot list the files ({error})") from None
        matched = []
    if not matched and not dry_run:
        raise ValueError(f"--annotations {config.annotations!r} matches no files")
    sources = annotations.plan_sources(sorted(matched), config.layout, annotations.read_file_head)
    if sources:
        logging.info("%s", annotations.describe_plan(sources, config.layout))
    task = sources[0].task if sources else schema.TASK_OPEN_ENDED
    return sources, task, max([source.num_candidates for source in sources] or [0])


def make_cache_identity(config, cnn_description):
    """The run's part of every feature cache key (None without --feature_cache); checks the directory."""
    if not config.feature_cache:
        return None
    identity = feature_cache.CacheIdentity.from_cnn_description(cnn_description, config.sampling,
                                                               config.feature_dtype)
    feature_cache.FeatureCache(config.feature_cache, identity).prepare()
    logging.info("feature cache: %s", config.feature_cache)
    return identity


def _check_nothing_lost(counts):
    accounted = counts[metrics.WRITTEN_QUESTIONS] + counts[metrics.REJECTED_QUESTIONS]
    if accounted != counts[metrics.INPUT_QUESTIONS]:
        logging.error("BUG: %d input questions but %d written + rejected", counts[metrics.INPUT_QUESTIONS], accounted)


def _refuse_empty_run(counts, output_dir):
    if counts[metrics.WRITTEN_QUESTIONS]:
        return
    reasons = "; ".join(f"{count} x {reason}" for reason, count in output.most_frequent_reasons(output_dir))
    raise NothingWrittenError(
        f"no question was written: {counts[metrics.INPUT_QUESTIONS]} input questions, "
        f"{counts[metrics.REJECTED_QUESTIONS]} rejected, {counts[metrics.REJECTED_FILES]} annotation "
        f"files rejected whole. Most frequent reasons: {reasons or 'none recorded'} "
        f"(every error is in {output_dir}/{schema.ERRORS_DIR}/)")


@dataclasses.dataclass
class Destination:
    """Where this run writes: its staging dir, tf.Transform's temp dir, and what identifies its records."""

    staging_dir: str
    transform_temp_dir: str
    manifest_config: typing.Optional[dict] = None     # None for a dry run
    cache_identity: typing.Optional[feature_cache.CacheIdentity] = None


def prepare_destination(config, num_candidates, dry_run):
    """Build the CNN once (its checksum), refuse another configuration's output dir, make a staging dir."""
    if dry_run:
        # Nothing is read or written: the transform's temp dir is local so that
        # building the job needs no access to the (possibly gs://) output dir.
        return Destination(f"{config.output_dir}/{output.STAGING_PREFIX}dry-run",
                           tempfile.mkdtemp(prefix="pipeline-dry-run-"))
    logging.info("building the CNN once to check it and record its checksum")
    cnn_description = cnn.shared_frozen_cnn(config.backbone, config.cnn_weights, config.image_size).describe()
    logging.info("CNN: %s", cnn_description[manifest_lib.CNN_NOTE])
    manifest_config = config_lib.manifest_config(config, cnn_description, num_candidates)
    output.check_output_dir(config.output_dir, manifest_config, config.overwrite)
    staging_dir = output.new_staging_dir(config.output_dir)
    return Destination(staging_dir, f"{staging_dir}/{output.TRANSFORM_TEMP_DIR}", manifest_config,
                       make_cache_identity(config, cnn_description))


def make_manifest(destination, task, sources, result, seconds):
    """The manifest of a finished run: configuration, inputs, counts and timings from Beam's metrics."""
    from features import transform  # tf.Transform's reader, after the run.
    counters, timings = metrics.read_metrics(result)
    config = destination.manifest_config
    return {
        manifest_lib.MANIFEST_SCHEMA_VERSION: schema.SCHEMA_VERSION,
        manifest_lib.MANIFEST_TASK: task,
        manifest_lib.MANIFEST_CONFIG: config,
        manifest_lib.MANIFEST_CONFIG_FINGERPRINT: manifest_lib.fingerprint(config),
        manifest_lib.MANIFEST_INPUTS: [{"paths": list(source.paths), "layout": source.layout,
                                        "task": source.task, "split": source.split} for source in sources],
        manifest_lib.MANIFEST_COUNTS: output.counts_from_metrics(counters),
        manifest_lib.MANIFEST_TIMINGS: dict(timings, wall=round(seconds, 3)),
        manifest_lib.MANIFEST_VOCABULARY: transform.vocabulary_sizes(destination.staging_dir, task),
        manifest_lib.MANIFEST_CREATED: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def run(argv=None, test_pipeline=None):
    """Build and run the pipeline; returns the manifest dict (None for a dry run).

    `test_pipeline` (e.g. Beam's TestPipeline) replaces the pipeline the
    options would make, as in Beam's own examples.
    """
    parser = config_lib.build_argument_parser(cli.StrictArgumentParser)
    cli.add_verbose_flag(parser)
    args, beam_args = cli.parse_pipeline_args(parser, argv)
    options = PipelineOptions(beam_args)
    options.view_as(SetupOptions).save_main_session = False
    dry_run = str(options.get_all_options().get("dry_run", False)) == "True"  # TestOptions; a string.
    config = config_lib.PipelineConfig.from_args(args)
    mapping = paths.read_mapping(config.video_mapping) if config.video_mapping else None
    sources, task, num_candidates = plan_inputs(config, dry_run)
    locate_video = paths.VideoLocator(config.video_dir, config.video_pattern, mapping,
                                      layout=sources[0].layout if sources else annotations.GENERIC_LAYOUT,
                                      allow_links_outside=config.allow_links_outside)
    destination = prepare_destination(config, num_candidates, dry_run)

    started = time.time()
    pipeline = test_pipeline or beam.Pipeline(runner=make_runner(options), options=options)
    with tft_beam.Context(temp_dir=destination.transform_temp_dir):
        transforms.build_pipeline(pipeline, config, sources,
                                  annotations.ReadConfig(max_question_tokens=config.max_question_tokens),
                                  locate_video, task, destination.staging_dir, destination.cache_identity)
    result = pipeline.run()
    if dry_run:
        logging.info("dry run: the job was built but not submitted")
        return None
    result.wait_until_finish()
    manifest = make_manifest(destination, task, sources, result, time.time() - started)
    output.publish(destination.staging_dir, config.output_dir, manifest)
    print(output.format_summary(manifest, config.output_dir, time.time() - started), flush=True)
    counts = manifest[manifest_lib.MANIFEST_COUNTS]
    _check_nothing_lost(counts)
    _refuse_empty_run(counts, config.output_dir)
    return manifest


def main(argv=None):
    logs.configure_logging()
    try:
        run(argv)
    except ValueError as error:
        print(f"pipeline.run: error: {error}", file=sys.stderr)
        sys.exit(2)
    except NothingWrittenError as error:
        print(f"pipeline.run: error: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
