"""Which frames of a clip to keep: the sampling rule shared by pipeline and serving.

Two modes, chosen by `SamplingConfig`:

* uniform (default): `frames_per_video` N frames spread over the clip's whole
  duration, the frame shown at the middle of each of N equal time segments.
* rate: one frame every 1/`fps` seconds from the start, at most `max_frames`.

Selection works on the presentation times of the frames actually present in
the stream (so variable frame rate and wrong header durations are handled):
the frame chosen for a target time is the last frame shown at or before it.
When a clip has fewer frames than asked, several targets fall on one frame;
each frame is kept once and the true count is what the record stores.
"""

import bisect
import dataclasses

from features import schema


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


def select_frame_indices(config, frame_times):
    """Sorted distinct indices into sorted `frame_times` that the config keeps."""
    if not frame_times:
        return []
    start = frame_times[0]
    selected = set()
    for time in target_times(config, start, clip_duration(frame_times)):
        index = bisect.bisect_right(frame_times, time + 1e-9) - 1
        selected.add(min(max(index, 0), len(frame_times) - 1))
    return sorted(selected)
