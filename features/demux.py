"""The packet pass of decoding: where every frame of a video stream lies, without decoding it.

`index_stream(path, container, stream)` reads every packet of the stream
(cheap: no decoding) and returns a `StreamIndex`: the presentation time of
every frame actually present, in presentation order, and, when the packets
carry usable timestamps, each frame's pts and which frames are keyframes
(where decoding may start after a seek: `features.seeking`).

It also refuses truncated files: fewer frames than the container declares,
or frames covering clearly less time than the duration a Matroska/WebM
header declares (they declare no frame count). Formats that declare neither
(MPEG-TS/PS, raw streams) cannot tell a cut file from a shorter one.

`VideoDecodeError` lives here because every decoding module raises it;
`features.video` re-exports it.
"""

import dataclasses
import typing

import av


class VideoDecodeError(Exception):
    """A video that cannot be used, with the file and the reason."""

    def __init__(self, path, reason):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


# A stream whose frames end earlier than its declared duration by more than
# all of these is truncated.
TRUNCATION_TOLERANCE_SECONDS = 0.1
TRUNCATION_TOLERANCE_FRACTION = 0.05
TRUNCATION_TOLERANCE_FRAMES = 3


@dataclasses.dataclass(frozen=True)
class StreamIndex:
    """Every frame of one video stream, in presentation order, as its packets describe it."""

    frame_times: typing.List[float]           # seconds, sorted
    # The same frames' pts in the stream's time base; None when some packet has
    # no pts, two share one, or some are to be discarded (then frames cannot be
    # found again by pts alone).
    frame_pts: typing.Optional[typing.List[int]]
    keyframe_ordinals: typing.List[int]       # indices into frame_pts of the keyframes, sorted

    @property
    def seekable(self):
        """Whether frames can be found again by pts after a seek."""
        return self.frame_pts is not None and bool(self.keyframe_ordinals)


def declared_duration(stream):
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


def _read_packets(path, container, stream):
    """[(pts or None, is_keyframe, is_discard)] of every non-empty packet of `stream`, in file order."""
    packets = []
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue  # End-of-stream flush packet.
            packets.append((packet.pts, packet.is_keyframe, packet.is_discard))
    except av.FFmpegError as error:
        raise VideoDecodeError(
            path, f"corrupt or truncated stream after {len(packets)} packets ({error})") from None
    return packets


def _check_not_truncated(path, stream, times, rate):
    """VideoDecodeError if the container declares more frames or time than `times` (sorted) cover."""
    declared = stream.frames
    if declared and len(times) < declared:
        raise VideoDecodeError(
            path, f"truncated: the container declares {declared} frames but only "
                  f"{len(times)} are present")
    declared_seconds = declared_duration(stream)
    gaps = sorted(later - earlier for earlier, later in zip(times, times[1:])) or [1.0 / rate]
    typical_gap = gaps[len(gaps) // 2]  # Median: a GOP cut in the middle leaves a few long gaps.
    shown_until = times[-1] + typical_gap
    if declared_seconds and declared_seconds - shown_until > max(
            TRUNCATION_TOLERANCE_SECONDS, TRUNCATION_TOLERANCE_FRACTION * declared_seconds,
            TRUNCATION_TOLERANCE_FRAMES * typical_gap):
        raise VideoDecodeError(
            path, f"truncated: the container declares {declared_seconds:.2f} s of video but its "
                  f"frames end at {shown_until:.2f} s")


def index_stream(path, container, stream):
    """StreamIndex of `stream` from its packets alone; VideoDecodeError for an empty or cut stream."""
    time_base = float(stream.time_base) if stream.time_base else 0.0
    rate = float(stream.average_rate or stream.guessed_rate or 25)
    packets = _read_packets(path, container, stream)
    if not packets:
        declared_seconds = declared_duration(stream)
        if declared_seconds:
            raise VideoDecodeError(path, f"truncated: the container declares {declared_seconds:.2f} s "
                                         f"of video but holds no frames")
        raise VideoDecodeError(path, "the video stream holds no frames")
    all_pts = [pts for pts, _, _ in packets]
    # Frames the decoder drops (before an edit list's start) would make decoded
    # frames and packets disagree: such streams are only read sequentially.
    any_discarded = any(is_discard for _, _, is_discard in packets)
    if time_base and None not in all_pts:
        frame_pts = sorted(all_pts)
        times = [pts * time_base for pts in frame_pts]
        if any_discarded or len(set(frame_pts)) < len(frame_pts):
            frame_pts = None
    else:
        # Packets without timestamps: the n-th packet is shown at n / rate.
        times, frame_pts = sorted(
            pts * time_base if pts is not None and time_base else ordinal / rate
            for ordinal, (pts, _, _) in enumerate(packets)), None
    _check_not_truncated(path, stream, times, rate)
    keyframe_ordinals = []
    if frame_pts is not None:
        ordinal_of = {pts: ordinal for ordinal, pts in enumerate(frame_pts)}
        keyframe_ordinals = sorted(ordinal_of[pts] for pts, is_keyframe, _ in packets if is_keyframe)
    return StreamIndex(frame_times=times, frame_pts=frame_pts, keyframe_ordinals=keyframe_ordinals)
