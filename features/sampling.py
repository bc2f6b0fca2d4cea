"""Which frames of a clip to keep: the sampling rule shared by pipeline and serving.

Two modes, chosen by `SamplingConfig`:

* uniform (default): `frames_per_video` N frames spread over the clip's whole
  duration, the frame shown at the middle of each of N equal time segments.
* rate: one frame every 1/`fps` seconds from the start, at most `max_frames`.

A clip may be a `features.questions.Segment` of the file, [start, end) in
seconds from its first frame (How2QA): frames are then sampled inside the
segment only (uniform: the middles of N equal parts of the segment; rate:
from the segment's start). A segment whose end lies a little past the file's
end (at most `SEGMENT_END_TOLERANCE_SECONDS` or
`SEGMENT_END_TOLERANCE_FRACTION` of the file) is clamped to it; one that
starts at or after the end, or ends further past it, raises
`SegmentOutsideClip`.

Selection works on the presentation times of the frames actually present in
the stream (so variable frame rate and wrong header durations are handled):
the frame chosen for a target time is the last frame shown at or before it.
When a clip has fewer frames than asked, several targets fall on one frame;
each frame is kept once and the true count is what the record stores.
"""

import bisect
import dataclasses

from features import questions, schema

# A segment may end this far past the clip's end (the larger of the two) and is
# then clamped: annotations round times, and header durations differ slightly.
SEGMENT_END_TOLERANCE_SECONDS = 1.0
SEGMENT_END_TOLERANCE_FRACTION = 0.05


class SegmentOutsideClip(ValueError):
    """A segment that does not lie within the clip (the message names both)."""


@dataclasses.dataclass(frozen=True)
class SamplingConfig:
    """How many frames to take from each clip, and where."""

    frames_per_video: int = schema.DEFAULT_FRAMES_PER_VIDEO
    fps: float = 0.0
    max_frames: int = 0

    def __post_init__(self):
        if self.fps:
            if self.fps <= 0:
                raise ValueError(f"--fps must be positive, got {self.fps}")
            if self.max_frames <= 0:
                raise ValueError(
                    f"--max_frames must be a positive number of frames with --fps, got {self.max_frames}")
        elif self.frames_per_video <= 0:
            raise ValueError(
                f"--frames_per_video must be a positive number of frames, got {self.frames_per_video}")

    @property
    def mode(self):
        return "rate" if self.fps else "uniform"

    @property
    def max_sampled_frames(self):
        """Upper bound on frames per video (the padded length for readers)."""
        return self.max_frames if self.fps else self.frames_per_video

    def to_dict(self):
        return {"mode": self.mode, "frames_per_video": self.frames_per_video,
                "fps": self.fps, "max_frames": self.max_frames,
                "max_sampled_frames": self.max_sampled_frames}

    @classmethod
    def from_dict(cls, values):
        return cls(frames_per_video=int(values["frames_per_video"]),
                   fps=float(values["fps"]), max_frames=int(values["max_frames"]))


def target_times(config, start, duration):
    """Times (seconds) at which frames are wanted for a clip [start, start+duration)."""
    if duration <= 0:
        return [start]
    if config.mode == "uniform":
        count = config.frames_per_video
        return [start + (index + 0.5) * duration / count for index in range(count)]
    times = []
    step = 1.0 / config.fps
    while len(times) < config.max_frames:
        time = start + len(times) * step
        if time >= start + duration:
            break
        times.append(time)
    return times


def clip_duration(frame_times):
    """Duration covered by frames at sorted `frame_times`, counting the last frame's own length."""
    if not frame_times:
        return 0.0
    if len(frame_times) == 1:
        return 0.0
    span = frame_times[-1] - frame_times[0]
    mean_step = span / (len(frame_times) - 1)
    return span + mean_step


def clip_segment(segment, frame_times):
    """`segment` with its end clamped to the clip's end; SegmentOutsideClip if it lies past the end."""
    duration = clip_duration(frame_times)
    if segment.start >= duration:
        raise SegmentOutsideClip(
            f"segment {segment.label()} starts at or after the end of the clip, which lasts "
            f"{duration:.3f} s")
    tolerance = max(SEGMENT_END_TOLERANCE_SECONDS, SEGMENT_END_TOLERANCE_FRACTION * duration)
    if segment.end - duration > tolerance:
        raise SegmentOutsideClip(
            f"segment {segment.label()} ends {segment.end - duration:.3f} s after the end of the clip, "
            f"which lasts {duration:.3f} s (at most {tolerance:g} s past it is clamped)")
    if segment.end > duration:
        return questions.Segment(segment.start, duration)
    return segment


def select_frame_indices(config, frame_times, segment=None):
    """Sorted distinct indices into sorted `frame_times` that the config keeps (inside `segment`)."""
    if not frame_times:
        return []
    start, duration = frame_times[0], clip_duration(frame_times)
    if segment is not None:
        segment = clip_segment(segment, frame_times)
        start, duration = start + segment.start, segment.end - segment.start
    selected = set()
    for time in target_times(config, start, duration):
        index = bisect.bisect_right(frame_times, time + 1e-9) - 1
        selected.add(min(max(index, 0), len(frame_times) - 1))
    return sorted(selected)
