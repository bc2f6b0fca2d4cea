"""Decoding and sampling real encoded clips of different frame rates, sizes, codecs and lengths."""

import numpy as np
import pytest

from features import sampling, video
from pipeline import synthetic

IMAGE_SIZE = 80


def numbered_frames(count, width, height):
    """Frames whose grey level encodes their index (index mod 32, times 8), so sampling is checkable."""
    frames = np.zeros((count, height, width, 3), np.uint8)
    for index in range(count):
        frames[index] = (index % 32) * 8
    return frames


def write_numbered_clip(path, count, fps, width=64, height=48, codec="libx264"):
    synthetic.write_video(str(path), numbered_frames(count, width, height), fps, codec=codec)
    return str(path)


def frame_number(frame):
    return int(round(float(frame.mean()) / 8))


@pytest.mark.parametrize("fps, count, width, height, codec, extension", [
    (24, 48, 64, 48, "libx264", "mp4"),
    (30, 90, 96, 64, "libx264", "mp4"),
    (10, 25, 48, 80, "mpeg4", "avi"),
    (25, 30, 64, 64, "libvpx-vp9", "webm"),
])
def test_uniform_sampling_takes_the_middle_of_equal_segments(tmp_path, fps, count, width, height, codec,
                                                             extension):
    path = write_numbered_clip(tmp_path / f"clip.{extension}", count, fps, width, height, codec)
    decoded = video.decode_video(path, sampling.SamplingConfig(frames_per_video=5), IMAGE_SIZE)
    assert decoded.frames.shape == (5, IMAGE_SIZE, IMAGE_SIZE, 3)
    assert decoded.frames.dtype == np.uint8
    assert (decoded.width, decoded.height) == (width, height)
    assert decoded.total_frames == count
    assert decoded.duration == pytest.approx(count / fps, rel=0.05)
    # Segment k of 5 has its middle at (k + 0.5) / 5 of the clip: frame floor((k + 0.5) * count / 5).
    expected = [int((k + 0.5) * count / 5) for k in range(5)]
    assert decoded.frame_indices == expected
    assert [frame_number(frame) for frame in decoded.frames] == [i % 32 for i in expected]


def test_a_clip_shorter_than_asked_keeps_each_frame_once_and_records_the_true_count(tmp_path):
    path = write_numbered_clip(tmp_path / "short.mp4", count=5, fps=24)
    decoded = video.decode_video(path, sampling.SamplingConfig(frames_per_video=16), IMAGE_SIZE)
    assert decoded.num_frames == 5
    assert decoded.frame_indices == [0, 1, 2, 3, 4]
    assert [frame_number(frame) for frame in decoded.frames] == [0, 1, 2, 3, 4]


def test_rate_sampling_takes_one_frame_per_period_up_to_the_maximum(tmp_path):
    path = write_numbered_clip(tmp_path / "rate.mp4", count=60, fps=20)  # 3 seconds
    every_half_second = video.decode_video(path, sampling.SamplingConfig(fps=2, max_frames=100), IMAGE_SIZE)
    assert every_half_second.frame_indices == [0, 10, 20, 30, 40, 50]
    capped = video.decode_video(path, sampling.SamplingConfig(fps=2, max_frames=4), IMAGE_SIZE)
    assert capped.frame_indices == [0, 10, 20, 30]


def test_the_original_talk_image_size_and_the_native_one(tmp_path):
    path = write_numbered_clip(tmp_path / "sizes.mp4", count=12, fps=12, width=320, height=240)
    for size in (150, 299):
        decoded = video.decode_video(path, sampling.SamplingConfig(frames_per_video=3), size)
        assert decoded.frames.shape == (3, size, size, 3)


def test_selection_follows_presentation_times_not_frame_counts():
    # Variable frame rate: frames bunched at the start. The last frame shown at
    # or before each segment middle is taken.
    # Duration 3.6 s (span 3 s + the mean step 0.6 s); middles at 0.45, 1.35,
    # 2.25 and 3.15 s fall on frames 3, 3, 4 and 5.
    times = [0.0, 0.1, 0.2, 0.3, 2.0, 3.0]
    indices = sampling.select_frame_indices(sampling.SamplingConfig(frames_per_video=4), times)
    assert indices == [3, 4, 5]


@pytest.mark.parametrize("frames_per_video, fps, max_frames", [(0, 0.0, 0), (-3, 0.0, 0), (16, 2.0, 0),
                                                                (16, -1.0, 5)])
def test_bad_sampling_configurations_are_value_errors(frames_per_video, fps, max_frames):
    with pytest.raises(ValueError):
        sampling.SamplingConfig(frames_per_video=frames_per_video, fps=fps, max_frames=max_frames)


def test_a_missing_file_names_the_file(tmp_path):
    missing = str(tmp_path / "nowhere.mp4")
    with pytest.raises(video.VideoDecodeError) as raised:
        video.decode_video(missing, sampling.SamplingConfig(), IMAGE_SIZE)
    assert missing in str(raised.value)
