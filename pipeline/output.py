"""The output directory: configuration check, staging, publishing, manifest, summary.

A run writes everything into `OUT/.staging-<id>/` and only when the pipeline
has finished moves it into place: the previous manifest goes first, then the
previous records, errors and transform_fn, then the new files move in, and
`manifest.json` is written last. A reader that finds `manifest.json` therefore
finds a complete run; an interrupted run leaves at most a staging directory,
removed by the next run, so re-running never mixes old and new shards.
"""

import json
import logging
import posixpath
import uuid

from apache_beam.io.filesystems import FileSystems

from features import manifest as manifest_lib
from features import schema
from pipeline import metrics

STAGING_PREFIX = ".staging-"
TRANSFORM_TEMP_DIR = "_tft_temp"
MOST_FREQUENT_REASONS = 5


def _published_patterns(output_dir):
    patterns = [f"{output_dir}/{schema.record_file_prefix(split)}-*" for split in schema.SPLITS]
    for directory in (schema.ERRORS_DIR, schema.TRANSFORM_FN_DIR, schema.TRANSFORMED_METADATA_DIR):
        patterns.append(f"{output_dir}/{directory}/**")
    return patterns


def _match(pattern):
    return [metadata.path for metadata in FileSystems.match([pattern])[0].metadata_list]


def _delete_files(paths):
    if paths:
        FileSystems.delete(paths)


def delete_tree(directory):
    """Delete every file under `directory` (and the directory itself where that exists)."""
    _delete_files(_match(f"{directory.rstrip('/')}/**"))
    if FileSystems.exists(directory):
        try:
            FileSystems.delete([directory])
        except Exception:  # Object stores have no directories to delete.
            pass


def config_differences(old, new, prefix=""):
    """Keys (dotted) whose values differ between two config dicts."""
    differences = []
    for key in sorted(set(old) | set(new)):
        old_value, new_value = old.get(key), new.get(key)
        if isinstance(old_value, dict) and isinstance(new_value, dict):
            differences += config_differences(old_value, new_value, f"{prefix}{key}.")
        elif old_value != new_value:
            differences.append(f"{prefix}{key}")
    return differences


def check_output_dir(output_dir, config, overwrite):
    """Refuse, before any work, an output dir holding another configuration's records."""
    path = manifest_lib.manifest_path(output_dir)
    if overwrite or not FileSystems.exists(path):
        return
    with FileSystems.open(path) as handle:
        try:
            existing = json.loads(handle.read().decode("utf-8"))
        except ValueError:
            return  # An unreadable manifest belongs to no configuration; it will be replaced.
    old_config = existing.get(manifest_lib.MANIFEST_CONFIG, {})
    if existing.get(manifest_lib.MANIFEST_CONFIG_FINGERPRINT) != manifest_lib.fingerprint(config):
        differences = config_differences(old_config, config) or ["schema_version"]
        raise ValueError(
            f"--output_dir {output_dir} already holds records made with a different "
            f"configuration (differs in: {', '.join(differences)}). Use a new --output_dir, "
            f"or pass --overwrite to replace them.")


def new_staging_dir(output_dir):
    """Remove staging dirs of interrupted runs; return a fresh one's path."""
    stale = sorted({path[:path.index("/", len(output_dir) + 1 + len(STAGING_PREFIX))]
                    for path in _match(f"{output_dir}/{STAGING_PREFIX}*/**")})
    for staging in stale:
        logging.info("removing %s left by an interrupted run", staging)
        delete_tree(staging)
    return f"{output_dir}/{STAGING_PREFIX}{uuid.uuid4().hex[:12]}"


def _make_parent(path):
    parent = posixpath.dirname(path)
    if "://" not in parent and not FileSystems.exists(parent):
        FileSystems.mkdirs(parent)


def publish(staging_dir, output_dir, manifest):
    """Replace the previous run's outputs by the staged ones; manifest.json last."""
    manifest_path = manifest_lib.manifest_path(output_dir)
    if FileSystems.exists(manifest_path):
        FileSystems.delete([manifest_path])
    for pattern in _published_patterns(output_dir):
        _delete_files(_match(pattern))
    delete_tree(f"{staging_dir}/{TRANSFORM_TEMP_DIR}")
    sources = _match(f"{staging_dir}/**")
    destinations = [output_dir + path[len(staging_dir):] for path in sources]
    for destination in destinations:
        _make_parent(destination)
    if sources:
        FileSystems.rename(sources, destinations)
    delete_tree(staging_dir)
    manifest_lib.write_manifest(output_dir, manifest)


def counts_from_metrics(counters):
    """Summed Beam counters -> the manifest's `counts` section."""
    counts = {split: {name: int(counters.get(metrics.split_metric(split, name), 0))
                      for name in metrics.PER_SPLIT_NAMES} for split in schema.SPLITS}
    for name in (metrics.ANNOTATION_FILES, metrics.INPUT_QUESTIONS, metrics.WRITTEN_QUESTIONS,
                 metrics.REJECTED_QUESTIONS, metrics.REJECTED_FILES, metrics.TRUNCATED_QUESTIONS,
                 metrics.VIDEOS_EMBEDDED, metrics.VIDEOS_REUSED, metrics.CACHE_ENTRIES_CORRUPT):
        counts[name] = int(counters.get(name, 0))
    prefix = metrics.REJECTED_BY_STAGE_PREFIX
    counts["rejected_by_stage"] = {name[len(prefix):]: int(value) for name, value in sorted(counters.items())
                                   if name.startswith(prefix)}
    return counts


def _general_reason(error):
    """An error's reason without the file it names, so that equal reasons add up."""
    reason = str(error.get("reason", ""))
    source = str(error.get("source", "")).split(":")[0]
    for prefix in (f"{source}: ", f"{source.rsplit('/', 1)[-1]}: "):
        if source and reason.startswith(prefix):
            return reason[len(prefix):]
    head, separator, rest = reason.partition(": ")
    return rest if separator and ("/" in head or "." in head) else reason


def most_frequent_reasons(output_dir, limit=MOST_FREQUENT_REASONS):
    """[(reason, count)] of the run's errors/ files, most frequent first."""
    import collections
    counter = collections.Counter()
    for path in _match(f"{output_dir}/{schema.ERRORS_DIR}/*"):
        with FileSystems.open(path) as handle:
            for line in handle.read().decode("utf-8").splitlines():
                if line.strip():
                    counter[_general_reason(json.loads(line))] += 1
    return counter.most_common(limit)


def format_summary(manifest, output_dir, seconds):
    """The run's closing summary, one fact per line."""
    counts = manifest[manifest_lib.MANIFEST_COUNTS]
    config = manifest[manifest_lib.MANIFEST_CONFIG]
    frames = sum(counts[split]["frames"] for split in schema.SPLITS)
    inputs = manifest.get(manifest_lib.MANIFEST_INPUTS, [])
    layouts = sorted({entry["layout"] for entry in inputs})
    lines = [
        f"pipeline.run finished in {seconds:.1f} s -> {output_dir}",
        f"  layout: {', '.join(layouts) or 'none'}; task: {manifest[manifest_lib.MANIFEST_TASK]}",
        f"  CNN: {config[manifest_lib.CONFIG_CNN][manifest_lib.CNN_NOTE]}",
        f"  input questions: {counts[metrics.INPUT_QUESTIONS]} = written "
        f"{counts[metrics.WRITTEN_QUESTIONS]} + rejected {counts[metrics.REJECTED_QUESTIONS]}",
        f"  annotation files read: {counts[metrics.ANNOTATION_FILES]}, "
        f"rejected whole: {counts[metrics.REJECTED_FILES]}",
        f"  questions truncated to {config[manifest_lib.CONFIG_MAX_QUESTION_TOKENS]} tokens: "
        f"{counts[metrics.TRUNCATED_QUESTIONS]}",
        f"  videos embedded: {counts[metrics.VIDEOS_EMBEDDED]}, reused from the feature cache: "
        f"{counts[metrics.VIDEOS_REUSED]}",
    ]
    for split in schema.SPLITS:
        split_counts = counts[split]
        lines.append(f"  {split:5s}: {split_counts['videos']} videos, {split_counts['questions']} "
                     f"questions, {split_counts['frames']} frames")
    if counts["rejected_by_stage"]:
        stage_counts = ", ".join(f"{stage} {count}" for stage, count in counts["rejected_by_stage"].items())
        lines.append(f"  rejected by stage: {stage_counts} (reasons in {output_dir}/{schema.ERRORS_DIR}/)")
    vocabulary = manifest[manifest_lib.MANIFEST_VOCABULARY]
    lines.append("  vocabularies: " + ", ".join(f"{size} {name.replace('_', ' ')}"
                                                for name, size in vocabulary.items()))
    lines.append(f"  throughput: {frames / max(seconds, 1e-9):.1f} frames/s end to end")
    return "\n".join(lines)
