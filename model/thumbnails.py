"""Small JPEG thumbnails of sampled frames, as data URLs for a web page (`model.serve`).

    urls = thumbnails.frame_data_urls(decoded.frames, max_side=160)

Encoded with PyAV's MJPEG encoder (FFmpeg inside the `av` wheel, already a
dependency), so no imaging library is needed. A frame larger than `max_side`
is scaled down (keeping its aspect ratio), never up.
"""

import base64
import fractions

import av
import numpy as np

DEFAULT_MAX_SIDE = 160
JPEG_PIXEL_FORMAT = "yuvj420p"
# MJPEG quantiser bounds (FFmpeg's 2..31 scale; lower is better): small frames, good quality.
JPEG_QUALITY_MIN = 2
JPEG_QUALITY_MAX = 5


def thumbnail_size(height, width, max_side):
    """(height, width) scaled so that the longer side is at most max_side (at least 1 pixel each)."""
    if max_side <= 0:
        raise ValueError(f"max_side must be positive, got {max_side}")
    scale = min(1.0, max_side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def encode_jpeg(frame, max_side=DEFAULT_MAX_SIDE):
    """JPEG bytes of one uint8 RGB frame [height, width, 3]."""
    frame = np.ascontiguousarray(frame, dtype=np.uint8)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"a frame must be [height, width, 3] RGB, got shape {frame.shape}")
    height, width = thumbnail_size(frame.shape[0], frame.shape[1], max_side)
    picture = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(
        width=width, height=height, format=JPEG_PIXEL_FORMAT)
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, JPEG_PIXEL_FORMAT
    encoder.time_base = fractions.Fraction(1, 25)
    encoder.options = {"qmin": str(JPEG_QUALITY_MIN), "qmax": str(JPEG_QUALITY_MAX)}
    packets = encoder.encode(picture) + encoder.encode(None)
    return b"".join(bytes(packet) for packet in packets)


def frame_data_urls(frames, max_side=DEFAULT_MAX_SIDE):
    """['data:image/jpeg;base64,...'] for each frame of a uint8 [n, height, width, 3] array."""
    return ["data:image/jpeg;base64," + base64.b64encode(encode_jpeg(frame, max_side)).decode("ascii")
            for frame in frames]
