"""`pipeline.run --feature_cache`: a second run embeds only what the cache lacks, and writes the same records.

The session's run (conftest.pipeline_run) filled a cache. This module damages
one of its entries, then runs the same command into a new output dir: every
clip but the damaged one is reused, the damaged one is reported, recomputed
and counted, and every record is byte for byte the one the first run wrote.
(The cache on the multi-processing DirectRunner, two worker processes that
each import TensorFlow and build the CNN, is make test-all's: test_pipeline_layouts.)
"""

import glob
import os

import numpy as np
import pytest

from features import manifest as manifest_lib
from features import schema
from pipeline import metrics

import shared_runs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rerun(pipeline_run, tmp_path_factory):
    def build(directory):
        cache_copy = os.path.join(directory, "feature_cache")
        import shutil
        shutil.copytree(pipeline_run["cache_dir"], cache_copy)
        entries = sorted(glob.glob(os.path.join(cache_copy, "*", "*.entry")))
        with open(entries[0], "r+b") as handle:  # Damage one entry: flip its last byte.
            handle.seek(-1, os.SEEK_END)
            last = handle.read(1)
            handle.seek(-1, os.SEEK_END)
            handle.write(bytes([last[0] ^ 0xFF]))
        command = [argument.replace(pipeline_run["cache_dir"], cache_copy)
                   .replace(pipeline_run["output_dir"], os.path.join(directory, "out"))
                   for argument in pipeline_run["command"]]
        completed = shared_runs.run_command(command)
        assert completed.returncode == 0, completed.stderr[-4000:]
        return dict(shared_runs.completed_to_dict(completed), output_dir=os.path.join(directory, "out"),
                    entries=len(entries), damaged=entries[0])

    return shared_runs.build_once(tmp_path_factory, "cache_rerun", build)


def test_the_rerun_reuses_every_clip_but_the_damaged_one(rerun, pipeline_output):
    first = manifest_lib.read_manifest(pipeline_output)[manifest_lib.MANIFEST_COUNTS]
    counts = manifest_lib.read_manifest(rerun["output_dir"])[manifest_lib.MANIFEST_COUNTS]
    embedded_first_time = first[metrics.VIDEOS_EMBEDDED]
    assert first[metrics.VIDEOS_REUSED] == 0 and embedded_first_time == rerun["entries"] > 0
    assert counts[metrics.VIDEOS_REUSED] == embedded_first_time - 1
    assert counts[metrics.VIDEOS_EMBEDDED] == 1 and counts[metrics.CACHE_ENTRIES_CORRUPT] == 1
    assert f"videos embedded: 1, reused from the feature cache: {embedded_first_time - 1}" in rerun["stdout"]
    assert os.path.basename(rerun["damaged"]) in rerun["stderr"]  # Reported, with the entry's path.


def test_records_made_with_the_cache_equal_records_made_without_it(rerun, pipeline_output):
    """Every reused clip's record is byte for byte the first run's. The one clip embedded again (its entry
    was damaged) went through the CNN in another batch, which may change float rounding: its features
    agree to float16 precision, and everything else about it is identical."""
    first, second = shared_runs.read_serialized(pipeline_output), shared_runs.read_serialized(rerun["output_dir"])
    assert sorted(first) == sorted(second) and first
    differing = [video_id for video_id in first if first[video_id] != second[video_id]]
    assert len(differing) <= 1, differing
    if differing:
        before = {video[schema.VIDEO_ID_KEY]: video for videos in shared_runs.read_parsed(pipeline_output).values()
                  for video in videos}[differing[0]]
        after = {video[schema.VIDEO_ID_KEY]: video for videos in shared_runs.read_parsed(rerun["output_dir"]).values()
                 for video in videos}[differing[0]]
        for key, value in before.items():
            if key == schema.FRAME_FEATURES_KEY:
                np.testing.assert_allclose(after[key], value, rtol=2e-3, atol=1e-3)
            else:
                assert after[key] == value, key


def test_the_damaged_entry_was_replaced_by_a_whole_one(rerun, pipeline_output):
    from pipeline import cache_entry
    manifest = manifest_lib.read_manifest(pipeline_output)
    with open(rerun["damaged"], "rb") as handle:
        entry = cache_entry.parse_entry(handle.read(), os.path.basename(rerun["damaged"])[:-len(".entry")],
                                        manifest_lib.feature_dtype(manifest), manifest_lib.feature_dim(manifest))
    assert entry.num_frames == len(entry.frame_bytes) > 0


def test_the_rerun_counts_every_input_question_on_two_workers(rerun, pipeline_output):
    first = manifest_lib.read_manifest(pipeline_output)[manifest_lib.MANIFEST_COUNTS]
    counts = manifest_lib.read_manifest(rerun["output_dir"])[manifest_lib.MANIFEST_COUNTS]
    for name in (metrics.INPUT_QUESTIONS, metrics.WRITTEN_QUESTIONS, metrics.REJECTED_QUESTIONS):
        assert counts[name] == first[name] > 0
