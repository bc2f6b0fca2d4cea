"""Decode a video file (or a segment of it) and sample its frames, reading through Beam's FileSystems.

`decode_video(path, sampling_config, image_size, segment=None, seek=True)`
returns the sampled frames as uint8 RGB [n, size, size, 3] plus what was
learnt about the clip. It reads the file twice: first the packets only
(cheap, no decoding: `features.demux`) to learn the presentation time of
every frame actually present and where the keyframes are; `features.sampling`
chooses the frames (inside `segment` if one is given); then only the frames
needed to reach them are decoded (`features.seeking`): in order from the
start, or, with `seek=True` and a stream that allows it, by seeking to the
keyframe before each sampled frame that lies past the next keyframe. Both
give the same frames, bit for bit; a seek that lands anywhere unexpected
falls back to decoding in order. Kept frames are rotated upright
(display-matrix rotation) and resized together, in groups of at most
`seeking.RESIZE_BATCH_BYTES` at native size, so memory stays bounded by the
sampled frames, whatever the clip's length or frame size.

A container with several video streams is read from the stream marked
default (else the first); `DecodedVideo` records which one and how many there
were. A truncated file is refused, not read as a shorter clip: an MP4 whose
boxes run past the end of the file or lack the 'moov' index, fewer frames
than the container declares, or frames covering clearly less time than the
duration a Matroska/WebM header declares (they declare no frame count).
Formats that declare neither (MPEG-TS/PS, raw streams) cannot tell a cut
file from a shorter one. A segment that lies past the clip's end is refused
too (`sampling.clip_segment`).

Any problem raises `VideoDecodeError` whose message names the file and the
reason; the pipeline turns it into an error record and moves on.
"""

import contextlib
import dataclasses
import typing

import av
import numpy as np
from apache_beam.io.filesystems import CompressionTypes, FileSystems

from features import demux, questions, sampling, seeking
from features.demux import VideoDecodeError  # noqa: F401  (re-exported: callers catch video.VideoDecodeError)


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
    # The part of the file sampled (end clamped to the file's end), None for the whole file.
    segment: typing.Optional[questions.Segment] = None
    decoded_frames: int = 0     # frames the decoder produced to reach the sampled ones
    seeks: int = 0              # seeks made (0 when decoded in order)
    seek_fallback: str = ""     # why seeking was abandoned for decoding in order, if it was

    @property
    def num_frames(self):
        return int(self.frames.shape[0])

    def summary(self):
        summary = {"num_frames": self.num_frames, "total_frames": self.total_frames,
                   "duration": round(self.duration, 3), "width": self.width,
                   "height": self.height, "rotation": self.rotation,
                   "stream_index": self.stream_index, "video_streams": self.video_streams}
        if self.segment is not None:
            summary["segment"] = self.segment.to_dict()
        return summary


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


@contextlib.contextmanager
def _opened(path):
    """The open input container of `path`, closed (with its file) on leaving."""
    handle, container = _open_container(path)
    try:
        yield container
    finally:
        container.close()
        handle.close()


def _index(path):
    """(StreamIndex, stream index, number of video streams) from the packet pass."""
    try:
        with _opened(path) as container:
            stream, stream_count = _choose_stream(path, container)
            return demux.index_stream(path, container, stream), stream.index, stream_count
    except VideoDecodeError as error:
        # A cut MP4 may open with a garbled index: its box structure tells what happened.
        explained = error.reason.startswith(("file not found", "file is empty", "truncated"))
        reason = None if explained else _diagnose_mp4(path)
        if reason:
            raise VideoDecodeError(path, reason) from None
        raise


def _decode_frames(path, stream_index, packets, selected, image_size, seek):
    """(DecodedFrames, width, height, seek fallback reason) of the `selected` ordinals."""
    with _opened(path) as container:
        stream = container.streams[stream_index]
        width, height = stream.codec_context.width, stream.codec_context.height
        if not (seek and seeking.can_seek(stream, packets)):
            return seeking.decode_sequentially(path, container, stream, selected, image_size), width, height, ""
        try:
            return seeking.decode_by_seeking(container, stream, packets, selected, image_size), \
                width, height, ""
        except (seeking.SeekUnreliable, av.FFmpegError, OSError) as error:
            fallback = str(error) or type(error).__name__
    with _opened(path) as container:  # Decode in order from a fresh start.
        decoded = seeking.decode_sequentially(path, container, container.streams[stream_index],
                                              selected, image_size)
    return decoded, width, height, fallback


def decode_video(path, sampling_config, image_size, segment=None, seek=True):
    """Decode `path` and return a DecodedVideo of the sampled, resized frames.

    `segment` (a `features.questions.Segment`) restricts sampling to that part
    of the file; `seek=False` decodes in order from the start (the reference
    that seeking must match, for benchmarks and tests).
    """
    packets, stream_index, stream_count = _index(path)
    all_times = packets.frame_times
    try:
        selected = sampling.select_frame_indices(sampling_config, all_times, segment)
        sampled_segment = None if segment is None else sampling.clip_segment(segment, all_times)
    except sampling.SegmentOutsideClip as error:
        raise VideoDecodeError(path, str(error)) from None
    decoded, width, height, fallback = _decode_frames(
        path, stream_index, packets, selected, image_size, seek)
    if decoded.rotation in (90, 270):
        width, height = height, width
    return DecodedVideo(
        frames=decoded.frames, frame_indices=selected, frame_times=[all_times[i] for i in selected],
        total_frames=len(all_times), duration=sampling.clip_duration(all_times),
        width=width, height=height, rotation=decoded.rotation, stream_index=stream_index,
        video_streams=stream_count, segment=sampled_segment, decoded_frames=decoded.decoded_frames,
        seeks=decoded.seeks, seek_fallback=fallback)
