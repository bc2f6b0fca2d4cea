"""Real encoded clips with a chosen keyframe interval, for the seek benchmark and the decoding tests.

    write_clip(path, frame_count, fps=30, width=640, height=360, keyframe_interval=60, ...)
    write_long_clip(path, seconds=120, fps=30, width=640, height=360, keyframe_seconds=2.0)

The content is a textured picture that drifts one pixel per frame under a
moving bright square, so that every frame differs from the others and the
encoder's predicted frames carry real motion (a still picture would make
every frame but the keyframes nearly free to decode). Frames are made and
encoded one at a time: a long clip never sits in memory.

The container follows the file's extension (.mp4, .mkv, .webm, .avi, .ts,
.gif); `codec` is an FFmpeg encoder available in PyAV's wheel: libx264,
libvpx-vp9, mpeg4 or gif. A keyframe is forced every `keyframe_interval`
frames and only there (no scene-cut keyframes); `None` leaves the encoder's
default. `frame_times` (seconds) gives a variable frame rate.

`measure_seek(path)` times `features.video.decode_video` on such a clip in
order (`seek=False`) and by seeking, interleaved, and reports the minimum and
median wall and CPU seconds of each, with the frames decoded and seeks made.

    python -m benchmarks.long_clip OUT.mp4 [--seconds 120] [--keyframe_seconds 2] [--measure]
"""

import argparse
import fractions
import json
import statistics
import time

import av
import numpy as np

# Per-encoder options: quality, and how to force keyframes at a fixed interval.
ENCODER_OPTIONS = {
    "libx264": {"crf": "23", "preset": "veryfast"},
    "libvpx-vp9": {"crf": "30", "b": "0", "deadline": "realtime", "cpu-used": "8"},
    "mpeg4": {},
    "gif": {},
}
TEXTURE_BLOCK_PIXELS = 8


def _texture(width, height, seed):
    """Random 8x8-pixel blocks, twice the frame's width so that it can drift."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(height // TEXTURE_BLOCK_PIXELS + 1,
                                        2 * width // TEXTURE_BLOCK_PIXELS + 1, 3), dtype=np.uint8)
    pixels = blocks.repeat(TEXTURE_BLOCK_PIXELS, axis=0).repeat(TEXTURE_BLOCK_PIXELS, axis=1)
    return pixels[:height, :2 * width]


def frame_image(texture, index, width, height):
    """uint8 RGB [height, width, 3] of frame `index`: the texture shifted by `index` pixels, a square on it."""
    offset = index % width
    image = np.ascontiguousarray(texture[:, offset:offset + width])
    side = max(4, min(width, height) // 6)
    left = (index * 3) % max(1, width - side)
    top = (index * 2) % max(1, height - side)
    image[top:top + side, left:left + side] = 255
    return image


def _stream_options(codec, keyframe_interval):
    options = dict(ENCODER_OPTIONS.get(codec, {}))
    if keyframe_interval is not None and codec != "gif":
        options.update(g=str(keyframe_interval), keyint_min=str(keyframe_interval), sc_threshold="0")
    return options


def write_clip(path, frame_count, fps=30, width=640, height=360, keyframe_interval=60, codec="libx264",
               frame_times=None, seed=0):
    """Encode `frame_count` frames to `path` with a keyframe every `keyframe_interval` frames; the path."""
    if frame_count <= 0 or fps <= 0:
        raise ValueError(f"{path}: frame_count and fps must be positive, got {frame_count} and {fps}")
    if frame_times is not None and len(frame_times) != frame_count:
        raise ValueError(f"{path}: {len(frame_times)} frame_times for {frame_count} frames")
    rate = fractions.Fraction(fps).limit_denominator(100000)
    time_base = fractions.Fraction(1, 1000) if frame_times is not None else 1 / rate
    texture = _texture(width, height, seed)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=rate, options=_stream_options(codec, keyframe_interval))
        stream.width, stream.height = width, height
        stream.pix_fmt = "rgb8" if codec == "gif" else "yuv420p"
        if codec == "mpeg4":
            stream.bit_rate = int(width * height * float(rate) * 0.5)  # About 0.5 bit per pixel.
        if frame_times is not None:
            stream.codec_context.time_base = time_base
        for index in range(frame_count):
            frame = av.VideoFrame.from_ndarray(frame_image(texture, index, width, height), format="rgb24")
            frame.pts = index if frame_times is None else int(round(frame_times[index] * 1000))
            frame.time_base = time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return str(path)


def write_long_clip(path, seconds=120, fps=30, width=640, height=360, keyframe_seconds=2.0, codec="libx264"):
    """A clip of `seconds` at `fps` with a keyframe every `keyframe_seconds` (H.264 by default); the path."""
    return write_clip(path, int(round(seconds * fps)), fps, width, height,
                      keyframe_interval=max(1, int(round(keyframe_seconds * fps))), codec=codec)


def measure_seek(path, frames_per_video=16, image_size=299, repeats=5):
    """{"sequential": {...}, "seek": {...}, "wall_ratio_median": r, ...} for decoding `path` both ways."""
    from features import sampling, video

    config = sampling.SamplingConfig(frames_per_video=frames_per_video)
    for seek in (False, True):  # Warm up: TensorFlow's resize, the codecs.
        video.decode_video(path, config, image_size, seek=seek)
    runs = {False: [], True: []}
    for _ in range(repeats):
        for seek in (False, True):
            wall, cpu = time.perf_counter(), time.process_time()
            decoded = video.decode_video(path, config, image_size, seek=seek)
            runs[seek].append((time.perf_counter() - wall, time.process_time() - cpu, decoded))
    result = {"frames_per_video": frames_per_video, "image_size": image_size, "repeats": repeats}
    for seek, name in ((False, "sequential"), (True, "seek")):
        walls, cpus = [run[0] for run in runs[seek]], [run[1] for run in runs[seek]]
        decoded = runs[seek][0][2]
        result[name] = {"wall_min": min(walls), "wall_median": statistics.median(walls),
                        "cpu_min": min(cpus), "cpu_median": statistics.median(cpus),
                        "decoded_frames": decoded.decoded_frames, "seeks": decoded.seeks,
                        "total_frames": decoded.total_frames}
    for measure in ("wall_min", "wall_median", "cpu_min", "cpu_median"):
        result[f"ratio_{measure}"] = result["seek"][measure] / result["sequential"][measure]
    return result


def run(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.long_clip", description=__doc__.split("\n")[0])
    parser.add_argument("path")
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--fps", type=float, default=30)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--keyframe_seconds", type=float, default=2.0)
    parser.add_argument("--codec", default="libx264")
    parser.add_argument("--measure", action="store_true",
                        help="then time decoding 16 frames at 299 px in order and by seeking")
    args = parser.parse_args(argv)
    print(write_long_clip(args.path, args.seconds, args.fps, args.width, args.height, args.keyframe_seconds,
                          args.codec))
    if args.measure:
        print(json.dumps(measure_seek(args.path), indent=1))


if __name__ == "__main__":
    run()
