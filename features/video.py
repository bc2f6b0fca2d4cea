"""Decode a video file and sample its frames, reading through Beam's FileSystems.

`decode_video(path, sampling_config, image_size)` returns the sampled frames as
uint8 RGB [n, size, size, 3] plus what was learnt about the clip. It reads
the file twice: first the packets only (cheap, no decoding) to learn the
presentation time of every frame actually present, then it decodes in order
and keeps only the selected frames, each rotated upright (display-matrix
rotation); they are resized together, in groups of at most
`RESIZE_BATCH_BYTES` at native size. So memory stays bounded by the sampled
frames, whatever the clip's length or frame size.

A container with several video streams is read from the stream marked
default (else the first); `DecodedVideo` records which one and how many there
were. A truncated file is refused, not read as a shorter clip: an MP4 whose
boxes run past the end of the file or lack the 'moov' index, fewer frames
than the container declares, or frames covering clearly less time than the
duration a Matroska/WebM header declares (they declare no frame count).
Formats that declare neither (MPEG-TS/PS, raw streams) cannot tell a cut
file from a shorter one.

Any problem raises `VideoDecodeError` whose message names the file and the
reason; the pipeline turns it into an error record and moves on.
"""

import dataclasses

import av
import numpy as np
from apache_beam.io.filesystems import CompressionTypes, FileSystems

from features import frames as frames_lib
from features import sampling


class VideoDecodeError(Exception):
    """A video that cannot be used, with the file and the reason."""

    def __init__(self, path, reason):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclasses.dataclass
class DecodedVideo:
    """Sampled frames of one clip and facts about the clip."""

    frames: np.ndarray          # uint8 [num_frames, size, size, 3]
    frame_indices: list         # ordinal of each kept frame in presentation order
    frame_times: list           # presentation time (s) of each kept frame
    total_frames: int           # frames present in the stream
    duration: float             # seconds covered by the stream's frames
    width: int
    height: int
    rotation: int               # degrees counter-clockwise applied to make frames upright
    stream_index: int
    video_streams: int

    @property
    def num_frames(self):
        return int(self.frames.shape[0])

    def summary(self):
        return {"num_frames": self.num_frames, "total_frames": self.total_frames,
                "duration": round(self.duration, 3), "width": self.width,
                "height": self.height, "rotation": self.rotation,
                "stream_index": self.stream_index, "video_streams": self.video_streams}


def _open_container(path):
    matches = FileSystems.match([path])[0].metadata_list
    if not matches:
        raise VideoDecodeError(path, "file not found")
    if matches[0].size_in_bytes == 0:
        raise VideoDecodeError(path, "file is empty (0 bytes)")
    handle = FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
    try:
        return handle, av.open(handle, mode="r", metadata_errors="ignore")
    except av.FFmpegError as error:
        handle.close()
        raise VideoDecodeError(path, f"not a readable video container ({error})") from None


def _diagnose_mp4(path):
    """Why an MP4/MOV file FFmpeg could not use is broken, or None if it is not one / looks whole.

    Walks the top-level boxes (4-byte size, 4-byte type): a box running past
    the end of the file, or no 'moov' index, means the file was cut off.
    """
    try:
        size = FileSystems.match([path])[0].metadata_list[0].size_in_bytes
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            offset, types = 0, []
            while offset + 8 <= size:
                handle.seek(offset)
                header = handle.read(16)
                box_size, box_type = int.from_bytes(header[:4], "big"), header[4:8]
                if not types and box_type != b"ftyp":
                    return None
                name = box_type.decode("latin-1")
                if box_size == 1 and len(header) >= 16:
                    box_size = int.from_bytes(header[8:16], "big")
                elif box_size == 0:
                    box_size = size - offset
                if box_size < 8:
                    return f"corrupt MP4: box {name!r} at byte {offset} has an invalid size {box_size}"
                types.append(box_type)
                if offset + box_size > size:
                    return (f"truncated: the MP4 box {name!r} at byte {offset} declares {box_size} bytes "
                            f"but the file ends after {size - offset} of them (the file was cut off)")
                offset += box_size
    except (OSError, ValueError, IndexError):
        return None
    if types and b"moov" not in types:
        return ("truncated or unfinished MP4: it has no 'moov' index box (the file was cut off "
                "before it was written)")
    return None


def _choose_stream(path, container):
    streams = list(container.streams.video)
    if not streams:
        kinds = sorted({stream.type for stream in container.streams}) or ["none"]
        raise VideoDecodeError(path, f"no video stream (streams present: {', '.join(kinds)})")
    for stream in streams:
        if stream.disposition & av.stream.Disposition.default:
            return stream, len(streams)
    return streams[0], len(streams)


def _frame_times(path, container, stream):
    """Sorted presentation times of every packet of `stream` (no decoding)."""
    time_base = float(stream.time_base) if stream.time_base else 0.0
    rate = float(stream.average_rate or stream.guessed_rate or 25)
    times = []
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue  # End-of-stream flush packet.
            if packet.pts is not None and time_base:
                times.append(packet.pts * time_base)
            else:
                times.append(len(times) / rate)
    except av.FFmpegError as error:
        raise VideoDecodeError(
            path, f"corrupt or truncated stream after {len(times)} packets ({error})") from None
    if not times:
        declared_seconds = _declared_duration(stream)
        if declared_seconds:
            raise VideoDecodeError(path, f"truncated: the container declares {declared_seconds:.2f} s "
                                         f"of video but holds no frames")
        raise VideoDecodeError(path, "the video stream holds no frames")
    declared = stream.frames
    if declared and len(times) < declared:
        raise VideoDecodeError(
            path, f"truncated: the container declares {declared} frames but only "
                  f"{len(times)} are present")
    times = sorted(times)
    declared_seconds = _declared_duration(stream)
    gaps = sorted(later - earlier for earlier, later in zip(times, times[1:])) or [1.0 / rate]
    typical_gap = gaps[len(gaps) // 2]  # Median: a GOP cut in the middle leaves a few long gaps.
    shown_until = times[-1] + typical_gap
    if declared_seconds and declared_seconds - shown_until > max(
            TRUNCATION_TOLERANCE_SECONDS, TRUNCATION_TOLERANCE_FRACTION * declared_seconds,
            TRUNCATION_TOLERANCE_FRAMES * typical_gap):
        raise VideoDecodeError(
            path, f"truncated: the container declares {declared_seconds:.2f} s of video but its "
                  f"frames end at {shown_until:.2f} s")
    return times


# A stream whose frames end earlier than its declared duration by more than
# all of these is truncated.
TRUNCATION_TOLERANCE_SECONDS = 0.1
TRUNCATION_TOLERANCE_FRACTION = 0.05
TRUNCATION_TOLERANCE_FRAMES = 3


def _declared_duration(stream):
    """Seconds the video stream's header says it lasts (Matroska/WebM DURATION tag), else None.

    Only a duration the muxer wrote is trusted: FFmpeg estimates the others
    (from the bit rate or the last timestamps), which proves nothing.
    """
    tag = (stream.metadata or {}).get("DURATION")
    if not tag:
        return None
    try:
        hours, minutes, seconds = tag.split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except ValueError:
        return None


def _upright_rgb(frame, reformatter):
    """Decoded frame -> uint8 RGB at native size, rotated by its display matrix.

    One `VideoReformatter` per clip keeps its colour-conversion context;
    `frame.to_ndarray(format=...)` would build one for every frame (3x slower).
    """
    rgb = reformatter.reformat(frame, format="rgb24").to_ndarray()
    rotation = int(round((frame.rotation or 0) / 90.0)) % 4
    if rotation:
        rgb = np.ascontiguousarray(np.rot90(rgb, rotation))
    return rgb, rotation * 90


# Sampled frames wait at their native size until this many bytes are pending,
# then are resized in one call (a call per frame costs twice as much per frame:
# benchmarks/decode_cost.py). 64 MiB is ten 1080p frames.
RESIZE_BATCH_BYTES = 64 * 2**20


def _decode_selected(path, container, stream, selected, image_size):
    wanted = set(selected)
    last_wanted = selected[-1]
    resized, pending, rotation, ordinal = [], [], 0, -1
    reformatter = av.video.reformatter.VideoReformatter()

    def resize_pending():
        if pending:
            resized.append(frames_lib.resize_frames(np.stack(pending), image_size).numpy())
            pending.clear()

    stream.thread_type = "AUTO"
    try:
        for frame in container.decode(stream):
            ordinal += 1
            if ordinal in wanted:
                rgb, rotation = _upright_rgb(frame, reformatter)
                if pending and pending[0].shape != rgb.shape:
                    resize_pending()  # The stream changed its frame size.
                pending.append(rgb)
                if len(pending) * rgb.nbytes >= RESIZE_BATCH_BYTES:
                    resize_pending()
            if ordinal >= last_wanted:
                break
    except av.FFmpegError as error:
        raise VideoDecodeError(
            path, f"corrupt or truncated stream: decoding failed after frame {ordinal} ({error})") from None
    resize_pending()
    frames = np.concatenate(resized) if resized else np.zeros((0, image_size, image_size, 3), np.uint8)
    if len(frames) != len(selected):
        raise VideoDecodeError(
            path, f"truncated: the stream decoded to {ordinal + 1} frames but its "
                  f"packets announced at least {last_wanted + 1}")
    return frames, rotation


def decode_video(path, sampling_config, image_size, segment=None):
    """Decode `path` and return a DecodedVideo of the sampled, resized frames."""
    if segment is not None:
        raise VideoDecodeError(path, "segments are not supported yet")
    try:
        handle, container = _open_container(path)
        try:
            stream, stream_count = _choose_stream(path, container)
            stream_index = stream.index
            all_times = _frame_times(path, container, stream)
        finally:
            container.close()
            handle.close()
    except VideoDecodeError as error:
        # A cut MP4 may open with a garbled index: its box structure tells what happened.
        explained = error.reason.startswith(("file not found", "file is empty", "truncated"))
        reason = None if explained else _diagnose_mp4(path)
        if reason:
            raise VideoDecodeError(path, reason) from None
        raise
    selected = sampling.select_frame_indices(sampling_config, all_times)
    handle, container = _open_container(path)
    try:
        stream = container.streams[stream_index]
        width, height = stream.codec_context.width, stream.codec_context.height
        frames, rotation = _decode_selected(path, container, stream, selected, image_size)
    finally:
        container.close()
        handle.close()
    if rotation in (90, 270):
        width, height = height, width
    return DecodedVideo(
        frames=frames, frame_indices=selected, frame_times=[all_times[i] for i in selected],
        total_frames=len(all_times), duration=sampling.clip_duration(all_times),
        width=width, height=height, rotation=rotation, stream_index=stream_index,
        video_streams=stream_count)
