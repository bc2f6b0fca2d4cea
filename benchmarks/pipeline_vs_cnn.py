"""Figure 1: the pipeline against the bare CNN, at 299 px where the CNN does the real work.

Two runs of `pipeline.run` on synthetic sets of N and 4N clips, both with
`--feature_cache` (a first run: every clip is decoded, embedded and stored;
the 4N run is figure 2's first run). The difference of the two calls' wall
times over the difference of their frame counts is the steady-state cost per
frame (fixed costs cancel); the bare CNN (`FrozenCnn.embed` on batches of
random frames in memory) is timed before and after the runs, and the faster
of the two is the reference. Shares `cnn_rate`, `fixed_seconds` and the
large run with the later modules.
"""

from benchmarks import common


def measure(settings, shared):
    size = settings.image_size
    small_data = common.synthetic_data(settings, "synthetic_small", settings.num_videos)
    large_data = common.synthetic_data(settings, "synthetic_large", 4 * settings.num_videos)
    common.say(f"bare CNN at {size} px")
    rate_before, cpu_before = common.cnn_rate(settings.backbone, size, settings.cnn_seconds)
    small = common.run_pipeline(settings, "pipeline_small", small_data,
                                "--feature_cache", settings.path("cache_small"))
    large = common.run_pipeline(settings, "pipeline_large", large_data,
                                "--feature_cache", settings.path("cache_large"))
    rate_after, cpu_after = common.cnn_rate(settings.backbone, size, settings.cnn_seconds)
    cnn_rate, cnn_cpu = max(rate_before, rate_after), min(cpu_before, cpu_after)
    steady_rate, fixed_seconds, steady_cpu = common.steady_state(small, large)
    shared.update(cnn_rate=cnn_rate, fixed_seconds=fixed_seconds, large_run=large)

    reference = f"bare CNN at {size} px: {cnn_rate:.1f} frames/s"
    yield common.figure("cnn_frames_per_second", cnn_rate, "frames/s",
                        f"FrozenCnn.embed, InceptionV3 with random weights, {size} px",
                        f"before the runs {rate_before:.1f}, after {rate_after:.1f}")
    yield common.figure(
        "pipeline_steady_vs_cnn", steady_rate / cnn_rate, "x", reference,
        f"{steady_rate:.1f} frames/s = ({large.frames} - {small.frames}) frames / "
        f"({large.seconds:.1f} - {small.seconds:.1f}) s of pipeline.run at {large.videos} and {small.videos} clips")
    yield common.figure(
        "pipeline_steady_cpu_vs_cnn", cnn_cpu / steady_cpu, "x", f"bare CNN: {cnn_cpu * 1000:.0f} CPU-ms per frame",
        f"pipeline {steady_cpu * 1000:.0f} CPU-ms per frame (process CPU time, difference of the two runs)")
    yield common.figure("pipeline_whole_vs_cnn", large.frames / large.seconds / cnn_rate, "x", reference,
                        f"{large.frames} frames in {large.seconds:.1f} s, fixed costs included")
    embed_seconds = small.timing("embed_frames") + large.timing("embed_frames")
    yield common.figure(
        "pipeline_cnn_stage_vs_cnn", (small.frames + large.frames) / max(embed_seconds, 1e-9) / cnn_rate, "x",
        reference, f"manifest timings: embed_frames {embed_seconds:.1f} s for {small.frames + large.frames} frames")
    stages = ", ".join(f"{stage} {seconds:.1f}" for stage, seconds in sorted(large.manifest["timings"].items()))
    yield common.figure("pipeline_fixed_seconds", fixed_seconds, "s",
                        "a run's time that does not grow with its frames",
                        f"large run's manifest timings (s): {stages}")
