"""Figure 3: long clips. Seeking against sequential decoding, and the pipeline on 2-minute clips.

`benchmarks.long_clip` writes a 2-minute 640x360 H.264 clip at 30 fps with a
keyframe every 2 s and times `features.video.decode_video` taking 16
uniformly sampled frames at 299 px by seeking and by decoding in order
(`seek=False`); the figure is the ratio of the fastest of each. Then
`pipeline.run` (no feature cache: the clips are hard links to one file, and
the cache would find them by content) embeds a set of such clips, and its
steady-state rate is the run's frames over its time minus figure 1's fixed
cost (same image size and sampling), against figure 1's bare CNN.
"""

import importlib.util
import json
import os

from benchmarks import common

KEYFRAME_SECONDS = 2.0
FIGURE_IDS = ("seek_decode_vs_sequential", "long_clip_pipeline_vs_cnn")


def write_clip_set(settings, clip_path, data_dir):
    """WORK/data_dir: `long_clip_copies` hard links to the clip and one question each, as the synthetic layout."""
    from pipeline import synthetic
    videos = os.path.join(data_dir, synthetic.VIDEOS_DIR)
    os.makedirs(videos, exist_ok=True)
    rows = []
    for video_id in range(settings.long_clip_copies):
        os.link(clip_path, os.path.join(videos, synthetic.VIDEO_FILE_PATTERN.format(video_id=video_id)))
        rows.append({"question": "what is moving?", "answer": "square", "video_id": video_id, "id": video_id})
    with open(os.path.join(data_dir, synthetic.QA_FILE_PATTERN.format(split="train")), "w",
              encoding="utf-8") as handle:
        json.dump(rows, handle)
    return data_dir


def measure(settings, shared):
    if importlib.util.find_spec("benchmarks.long_clip") is None:
        for figure_id in FIGURE_IDS:
            yield common.figure(figure_id, None, "x", "", "not measured: benchmarks/long_clip.py is not here yet")
        return
    from benchmarks import long_clip
    width, height, seconds = settings.long_clip
    clip_path = settings.path("long_clip.mp4")
    common.say(f"writing a {seconds:g} s {width}x{height} clip, a keyframe every {KEYFRAME_SECONDS:g} s")
    long_clip.write_long_clip(clip_path, seconds=seconds, width=width, height=height,
                              keyframe_seconds=KEYFRAME_SECONDS)
    common.say("decoding it by seeking and in order")
    seek = long_clip.measure_seek(clip_path, settings.frames_per_video, settings.image_size, settings.seek_repeats)
    sequential, seeking = seek["sequential"], seek["seek"]
    yield common.figure(
        "seek_decode_vs_sequential", seek["ratio_wall_min"], "x",
        f"sequential decoding: {sequential['wall_min'] * 1000:.0f} ms, {sequential['decoded_frames']} frames decoded",
        f"seeking {seeking['wall_min'] * 1000:.0f} ms, {seeking['seeks']} seeks, {seeking['decoded_frames']} "
        f"frames decoded; {settings.frames_per_video} frames at {settings.image_size} px of a {seconds:g} s "
        f"{width}x{height} clip; fastest of {settings.seek_repeats}, ratio of medians {seek['ratio_wall_median']:.2f}")

    data_dir = write_clip_set(settings, clip_path, settings.path("long_clips"))
    run = common.run_pipeline(settings, "pipeline_long_clips", data_dir)
    rate = run.frames / max(run.seconds - shared["fixed_seconds"], 1e-6)
    yield common.figure(
        "long_clip_pipeline_vs_cnn", rate / shared["cnn_rate"], "x",
        f"bare CNN at {settings.image_size} px: {shared['cnn_rate']:.1f} frames/s",
        f"{rate:.1f} frames/s = {run.frames} frames / ({run.seconds:.1f} - {shared['fixed_seconds']:.1f} s fixed) "
        f"on {run.videos} {seconds:g} s clips; whole run {run.frames / run.seconds / shared['cnn_rate']:.2f}x")
