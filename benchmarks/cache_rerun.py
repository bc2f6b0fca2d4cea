"""Figure 2: a re-run with the feature cache when only the vocabulary changed.

Runs `pipeline.run` again over figure 1's large set with its `--feature_cache`,
a new output dir and another `--answer_top_k` (a new vocabulary, so the
records must be rewritten, but no clip needs decoding or the CNN). The figure
is the re-run's wall time over the first run's; the manifest's counts say how
many clips were reused.
"""

from benchmarks import common

RERUN_ANSWER_TOP_K = 5


def measure(settings, shared):
    first = shared["large_run"]
    rerun = common.run_pipeline(settings, "pipeline_large_rerun", first.data_dir, *first.extra,
                                "--answer_top_k", str(RERUN_ANSWER_TOP_K))
    counts = rerun.manifest["counts"]
    yield common.figure(
        "cache_rerun_vs_first_run", rerun.seconds / first.seconds, "x",
        f"first run with --feature_cache: {first.seconds:.1f} s, {first.videos} clips at {settings.image_size} px",
        f"re-run {rerun.seconds:.1f} s (manifest wall {rerun.timing('wall'):.1f} vs {first.timing('wall'):.1f} s); "
        f"clips reused {counts.get('videos_reused', 0)}, embedded {counts.get('videos_embedded', 0)}")
