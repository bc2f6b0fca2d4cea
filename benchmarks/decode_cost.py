"""Child: what decoding, sampling and resizing cost per sampled frame.

    python -m benchmarks.decode_cost --json_out F --video_glob 'D/videos/*.mp4' --image_size 96
        [--frames_per_video 16] [--max_videos 32] [--projection_image_size 299]

Times `features.video.decode_video` (the pipeline's own call: two passes over
the file, decode up to the last sampled frame, convert, rotate, resize) over
real clips, and `features.cnn.resize_frames` alone on frames of the clips'
size, so decoding and resizing can be told apart.
"""

import argparse
import glob
import time

from benchmarks import commands


def measure(video_glob, image_size, frames_per_video, max_videos, projection_image_size=None):
    import numpy as np

    from features import cnn, sampling, video

    files = sorted(glob.glob(video_glob))[:max_videos]
    if not files:
        raise ValueError(f"no videos match {video_glob}")
    config = sampling.SamplingConfig(frames_per_video)
    first = video.decode_video(files[0], config, image_size)  # Warm up (TF eager ops, codecs).
    height, width = first.height, first.width
    result = {"videos": len(files), "clip_width": width, "clip_height": height,
              "clip_frames": first.total_frames, "image_size": image_size}

    def decode_all(size):
        sampled, started = 0, time.perf_counter()
        for path in files:
            sampled += video.decode_video(path, config, size).num_frames
        seconds = time.perf_counter() - started
        return {"sampled_frames": sampled, "seconds": seconds,
                "ms_per_sampled_frame": 1000 * seconds / sampled}

    def resize_only(size, repeats=200):
        frame = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
        cnn.resize_frames(frame, size).numpy()
        started = time.perf_counter()
        for _ in range(repeats):
            cnn.resize_frames(frame, size).numpy()
        return 1000 * (time.perf_counter() - started) / repeats

    result["decode_video"] = decode_all(image_size)
    result["resize_ms_per_frame"] = resize_only(image_size)
    if projection_image_size:
        video.decode_video(files[0], config, projection_image_size)
        result["projection"] = {"image_size": projection_image_size,
                                "decode_video": decode_all(projection_image_size),
                                "resize_ms_per_frame": resize_only(projection_image_size)}
    return result


def run(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.decode_cost",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--json_out", required=True)
    parser.add_argument("--video_glob", required=True)
    parser.add_argument("--image_size", type=int, default=96)
    parser.add_argument("--frames_per_video", type=int, default=16)
    parser.add_argument("--max_videos", type=int, default=32)
    parser.add_argument("--projection_image_size", type=int, default=0)
    args = parser.parse_args(argv)
    result = measure(args.video_glob, args.image_size, args.frames_per_video, args.max_videos,
                     args.projection_image_size or None)
    commands.write_result(args.json_out, result)
    return result


if __name__ == "__main__":
    run()
