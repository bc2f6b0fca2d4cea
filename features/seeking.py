"""Decoding the selected frames of a stream: sequentially, or by seeking to the keyframes before them.

Both readers take the ordinals (presentation order) of the frames to keep
and return the same thing: those frames rotated upright (display-matrix
rotation) and resized together through `features.frames.resize_frames`, in
groups of at most `RESIZE_BATCH_BYTES` at native size, so memory stays
bounded by the sampled frames whatever the clip's length or frame size.

`decode_sequentially` decodes from the start up to the last wanted frame,
counting the frames it decodes: the reference behaviour.

`decode_by_seeking` uses the keyframes found by the packet pass
(`features.demux.StreamIndex`): when the keyframe at or before the next
wanted frame lies beyond the decoder's position, it seeks there
(`container.seek(pts, stream=..., backward=True, any_frame=False)`) and
decodes forward, recognising frames by their pts; when the next wanted frame
comes before the next keyframe, it keeps decoding. A frame decoded after a
seek from an intra-coded keyframe is the same, bit for bit, as the one
sequential decoding gives. Whenever a seek lands anywhere other than a
keyframe at or before the wanted frame, or the frames decoded do not match
the packets' pts, it raises `SeekUnreliable` and the caller decodes
sequentially instead: it never returns frames it is not sure of.
"""

import bisect
import dataclasses

import av
import numpy as np

from features import frames as frames_lib
from features.demux import VideoDecodeError

# Sampled frames wait at their native size until this many bytes are pending,
# then are resized in one call (a call per frame costs twice as much per frame:
# benchmarks/decode_cost.py). 64 MiB is ten 1080p frames.
RESIZE_BATCH_BYTES = 64 * 2**20

# Codecs whose frames may draw over the previous frame's canvas: a frame
# marked as a keyframe is no safe starting point, so they are never seeked.
SEQUENTIAL_ONLY_CODECS = frozenset({"gif", "apng", "webp"})

# Codecs whose non-reference frames (B-frames, H.264 nal_ref_idc 0, HEVC
# sub-layer non-reference pictures) change no decoder state that later frames
# use: while seeking, such a frame that is not wanted is not decoded at all
# (FFmpeg's skip_frame=NONREF), which halves the work on typical H.264. Not
# VP8/VP9: a frame that refreshes no reference may still update the entropy
# contexts later frames read.
SKIP_NONREF_CODECS = frozenset({"h264", "hevc", "mpeg4", "mpeg1video", "mpeg2video"})


class SeekUnreliable(Exception):
    """Seeking in this stream did not give the frames the packet pass announced (the reason)."""


@dataclasses.dataclass
class DecodedFrames:
    """The kept frames of one stream and what reading them cost."""

    frames: np.ndarray      # uint8 [len(selected), size, size, 3]
    rotation: int           # degrees counter-clockwise applied to make frames upright
    decoded_frames: int     # frames the decoder produced (kept or not)
    seeks: int              # seeks made


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


class _FrameCollector:
    """Converts kept frames to upright RGB and resizes them in bounded batches."""

    def __init__(self, image_size):
        self.image_size = image_size
        self.resized, self.pending, self.rotation = [], [], 0
        self.reformatter = av.video.reformatter.VideoReformatter()

    def add(self, frame):
        rgb, self.rotation = _upright_rgb(frame, self.reformatter)
        if self.pending and self.pending[0].shape != rgb.shape:
            self._resize_pending()  # The stream changed its frame size.
        self.pending.append(rgb)
        if len(self.pending) * rgb.nbytes >= RESIZE_BATCH_BYTES:
            self._resize_pending()

    def _resize_pending(self):
        if self.pending:
            self.resized.append(frames_lib.resize_frames(np.stack(self.pending), self.image_size).numpy())
            self.pending.clear()

    def finish(self):
        self._resize_pending()
        if not self.resized:
            return np.zeros((0, self.image_size, self.image_size, 3), np.uint8)
        return np.concatenate(self.resized)


def can_seek(stream, stream_index):
    """Whether `decode_by_seeking` may be tried on this stream."""
    return stream_index.seekable and stream.codec_context.name not in SEQUENTIAL_ONLY_CODECS


def decode_sequentially(path, container, stream, selected, image_size):
    """DecodedFrames of the `selected` ordinals, decoding every frame up to the last of them."""
    wanted = set(selected)
    last_wanted = selected[-1]
    collector = _FrameCollector(image_size)
    ordinal = -1
    stream.thread_type = "AUTO"
    try:
        for frame in container.decode(stream):
            ordinal += 1
            if ordinal in wanted:
                collector.add(frame)
            if ordinal >= last_wanted:
                break
    except av.FFmpegError as error:
        raise VideoDecodeError(
            path, f"corrupt or truncated stream: decoding failed after frame {ordinal} ({error})") from None
    frames = collector.finish()
    if len(frames) != len(selected):
        raise VideoDecodeError(
            path, f"truncated: the stream decoded to {ordinal + 1} frames but its "
                  f"packets announced at least {last_wanted + 1}")
    return DecodedFrames(frames, collector.rotation, decoded_frames=ordinal + 1, seeks=0)


class _SeekingDecoder:
    """Decoder position over one stream, moved forward by decoding or by seeking to a keyframe."""

    def __init__(self, container, stream, stream_index, selected):
        self.container, self.stream = container, stream
        self.frame_pts = stream_index.frame_pts
        self.wanted_pts = {self.frame_pts[ordinal] for ordinal in selected}
        self.skip_nonref = stream.codec_context.name in SKIP_NONREF_CODECS
        self.ordinal_of = {pts: ordinal for ordinal, pts in enumerate(self.frame_pts)}
        self.keyframes = stream_index.keyframe_ordinals
        self.position = -1          # ordinal of the last frame decoded
        self.seeked_to = None       # ordinal of the keyframe of the last seek
        self.decoded_frames = self.seeks = 0
        self.packets = self.frames = None

    def keyframe_before(self, ordinal):
        """The last keyframe ordinal at or before `ordinal`, else None."""
        found = bisect.bisect_right(self.keyframes, ordinal) - 1
        return self.keyframes[found] if found >= 0 else None

    def _start(self, packets, first_packet=None):
        if self.packets is not None:
            self.packets.close()
        self.packets = packets
        self.frames = self._decode(first_packet)

    def _decode(self, first_packet):
        if first_packet is not None:
            yield from self._decode_packet(first_packet)
        for packet in self.packets:
            yield from self._decode_packet(packet)

    def _decode_packet(self, packet):
        if self.skip_nonref:
            wanted = packet.pts is None or packet.pts in self.wanted_pts
            self.stream.codec_context.skip_frame = "DEFAULT" if wanted else "NONREF"
        return packet.decode()

    def seek_to(self, keyframe, wanted):
        """Seek to the keyframe ordinal `keyframe`; SeekUnreliable unless it lands at or before `wanted`."""
        self.container.seek(self.frame_pts[keyframe], stream=self.stream, backward=True, any_frame=False)
        self.seeks += 1
        self.seeked_to = keyframe
        packets = self.container.demux(self.stream)
        first = next((packet for packet in packets if packet.size), None)
        landed = None if first is None or first.pts is None else self.ordinal_of.get(first.pts)
        if first is None or not first.is_keyframe or landed is None or landed > wanted:
            where = "the end of the stream" if first is None else (
                f"a {'key' if first.is_keyframe else 'non-key'}frame packet with pts {first.pts}")
            raise SeekUnreliable(f"seeking to pts {self.frame_pts[keyframe]} (frame {keyframe}) "
                                 f"landed on {where}")
        self._start(packets, first)

    def take(self, wanted):
        """Decode forward to the frame of ordinal `wanted` and return it."""
        if self.frames is None:
            self._start(self.container.demux(self.stream))
        for frame in self.frames:
            self.decoded_frames += 1
            ordinal = self.ordinal_of.get(frame.pts)
            if ordinal is None:
                raise SeekUnreliable(f"the decoder gave a frame with pts {frame.pts}, which no packet had")
            if ordinal > wanted:
                raise SeekUnreliable(f"the decoder passed frame {wanted} (pts {self.frame_pts[wanted]}) "
                                     f"without giving it")
            if frame.is_corrupt and self.seeked_to is not None and ordinal >= self.seeked_to:
                # E.g. an intra frame marked as a keyframe that later frames reach past.
                raise SeekUnreliable(f"frame {ordinal}, decoded after seeking to frame {self.seeked_to}, "
                                     f"is marked corrupt")
            self.position = max(self.position, ordinal)
            if ordinal == wanted:
                return frame
        raise SeekUnreliable(f"the stream ended before frame {wanted} (pts {self.frame_pts[wanted]})")

    def close(self):
        if self.packets is not None:
            self.packets.close()


def decode_by_seeking(container, stream, stream_index, selected, image_size):
    """DecodedFrames of the `selected` ordinals, seeking past the frames between them.

    SeekUnreliable (or av.FFmpegError) when the caller should decode sequentially instead.
    """
    collector = _FrameCollector(image_size)
    decoder = _SeekingDecoder(container, stream, stream_index, selected)
    # Seek when a keyframe lies after the next frame to decode and at or before the wanted one.
    seek_targets = [decoder.keyframe_before(wanted) for wanted in selected]
    seek_targets = [keyframe if keyframe is not None and keyframe > previous + 1 else None
                    for keyframe, previous in zip(seek_targets, [-1] + list(selected[:-1]))]
    # With seeks, slice threads only: frame threads decode frames ahead that each
    # seek throws away, and restart after every flush (measured slower in CPU and
    # wall time); without, frame threads as when decoding in order.
    stream.thread_type = "SLICE" if any(target is not None for target in seek_targets) else "AUTO"
    try:
        for wanted, keyframe in zip(selected, seek_targets):
            if keyframe is not None:
                decoder.seek_to(keyframe, wanted)
            collector.add(decoder.take(wanted))
    finally:
        decoder.close()
    return DecodedFrames(collector.finish(), collector.rotation, decoder.decoded_frames, decoder.seeks)
