"""Encode the synthetic clips: H.264/VP9/MPEG-4/MJPEG files and animated GIFs, with PyAV only.

    write_video(path, frames, fps, codec="libx264")   the container follows the extension
    write_gif(path, frames, fps)                       an animated GIF as TGIF-QA publishes them

`ClipSettings` holds the size and timing of one data set's clips and checks them.

GIF frames are snapped to one fixed 252-colour palette (a 6x7x6 RGB cube, no
dithering) shared by every frame, and GIF stores exact indices: a GIF decodes
to exactly `quantize_for_gif(frames)`, so reversal twins stay exact reversals
and the same frames always give the same bytes. GIF delays are whole
hundredths of a second, so a GIF's frame rate must divide 100 (10, 20, 25 fps).
"""

import dataclasses
import fractions

import av
import numpy as np

# libx264 at high quality, so twins decode to near-identical frames. Macroblock-tree
# rate control is off because with it this FFmpeg build's x264 gave different bytes
# (and decoded pixels) for identical input from run to run, even single-threaded.
DEFAULT_CODEC_OPTIONS = {
    "libx264": {"crf": "17", "preset": "veryfast", "x264-params": "mbtree=0"},
    "libvpx-vp9": {"crf": "20", "b": "0", "deadline": "realtime", "cpu-used": "8"},
}
FULL_RANGE_CODECS = ("mjpeg",)
BITEXACT_CONTAINER_OPTIONS = {"fflags": "+bitexact"}

# The GIF palette: levels per channel of an RGB cube (6 * 7 * 6 = 252 of the 256 entries).
GIF_CUBE_LEVELS = (6, 7, 6)
GIF_TICKS_PER_SECOND = 100  # GIF frame delays are in hundredths of a second.


@dataclasses.dataclass(frozen=True)
class ClipSettings:
    """Size and timing of the clips of one data set (for How2QA, `seconds` is one event's length)."""

    width: int
    height: int
    fps: float
    seconds: float

    @property
    def num_frames(self):
        return int(round(self.fps * self.seconds))

    def validate(self, gif=False):
        """Raise ValueError naming the flag when these settings cannot make a clip."""
        if min(self.width, self.height) < 32 or self.width % 2 or self.height % 2:
            raise ValueError(f"--width and --height must be even and at least 32 pixels, "
                             f"got {self.width}x{self.height}")
        if self.fps <= 0:
            raise ValueError(f"--fps must be positive, got {self.fps:g}")
        if self.num_frames < 2:
            raise ValueError(f"--fps x --seconds must give at least 2 frames, got {self.num_frames}")
        if gif:
            gif_delay_ticks(self.fps)


def gif_delay_ticks(fps):
    """Hundredths of a second per GIF frame; ValueError unless `fps` divides 100 (at most 50 fps)."""
    ticks = GIF_TICKS_PER_SECOND / fps if fps > 0 else 0
    if not 2 <= round(ticks) or abs(ticks - round(ticks)) > 1e-9:
        raise ValueError(f"GIF frame delays are whole hundredths of a second: --fps must divide 100 "
                         f"and be at most 50 (e.g. 10, 20 or 25), got {fps:g}")
    return int(round(ticks))


def _check_frames(frames):
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or not len(frames):
        raise ValueError(f"frames must be uint8 [T>0, H, W, 3], got {frames.dtype} {frames.shape}")
    return frames


def write_video(path, frames, fps, codec="libx264", pix_fmt=None, options=None, container_options=None):
    """Encode uint8 RGB frames [T, H, W, 3] to `path` with PyAV; the container follows the extension.

    `fps` may be an int, float or fractions.Fraction. `pix_fmt` defaults to
    yuv420p (yuvj420p for mjpeg), which needs even width and height; `options`
    are codec options (defaults: high quality for libx264 and libvpx-vp9);
    `container_options` are the muxer's (BITEXACT_CONTAINER_OPTIONS: the same
    bytes every time, which Matroska/WebM otherwise are not: random UIDs).
    """
    frames = _check_frames(frames)
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    pix_fmt = pix_fmt or ("yuvj420p" if codec in FULL_RANGE_CODECS else "yuv420p")
    height, width = frames.shape[1:3]
    if pix_fmt.endswith("420p") and (width % 2 or height % 2):
        raise ValueError(f"{pix_fmt} needs even width and height, got {width}x{height}; "
                         f"use even sizes or pix_fmt='yuv444p'")
    rate = fractions.Fraction(fps).limit_denominator(100000)
    options = dict(DEFAULT_CODEC_OPTIONS.get(codec, {}) if options is None else options)
    with av.open(path, mode="w", container_options=dict(container_options or {})) as container:
        stream = container.add_stream(codec, rate=rate, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if codec not in DEFAULT_CODEC_OPTIONS:
            stream.bit_rate = int(width * height * float(rate) * 0.5)  # About 0.5 bit per pixel.
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts, frame.time_base = index, 1 / rate
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def gif_palette():
    """uint8 [256, 4] ARGB (PyAV's pal8 layout): the colour cube, then unused black entries."""
    channels = np.meshgrid(*[np.round(np.arange(levels) * 255 / (levels - 1)) for levels in GIF_CUBE_LEVELS],
                           indexing="ij")
    palette = np.zeros((256, 4), np.uint8)
    size = int(np.prod(GIF_CUBE_LEVELS))
    palette[:size, 0] = 255
    for channel, values in enumerate(channels):
        palette[:size, channel + 1] = values.ravel()
    return palette


def palette_indices(frames):
    """uint8 palette index of every pixel of uint8 RGB `frames` (nearest level per channel)."""
    levels = np.array(GIF_CUBE_LEVELS)
    steps = np.round(np.asarray(frames, np.float32) * (levels - 1) / 255).astype(np.int32)
    red, green, blue = steps[..., 0], steps[..., 1], steps[..., 2]
    return (red * levels[1] * levels[2] + green * levels[2] + blue).astype(np.uint8)


def quantize_for_gif(frames):
    """The RGB frames a GIF written from `frames` decodes to."""
    return gif_palette()[palette_indices(frames)][..., 1:]


def write_gif(path, frames, fps):
    """Write uint8 RGB frames [T, H, W, 3] as a looping animated GIF (PyAV's gif encoder, pal8)."""
    frames = _check_frames(frames)
    delay_ticks = gif_delay_ticks(fps)
    palette = gif_palette()
    height, width = frames.shape[1:3]
    time_base = fractions.Fraction(delay_ticks, GIF_TICKS_PER_SECOND)
    with av.open(path, mode="w", format="gif") as container:
        stream = container.add_stream("gif", rate=fractions.Fraction(GIF_TICKS_PER_SECOND, delay_ticks))
        stream.width, stream.height, stream.pix_fmt = width, height, "pal8"
        for index, indices in enumerate(palette_indices(frames)):
            frame = av.VideoFrame.from_ndarray((np.ascontiguousarray(indices), palette), format="pal8")
            frame.pts, frame.time_base = index, time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
