"""Decoding and sampling real encoded clips of different frame rates, sizes, codecs and lengths."""

import numpy as np
import pytest

from features import questions, sampling, video
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


# Segments (How2QA): [start, end) in seconds from the clip's first frame.

def test_uniform_sampling_inside_a_segment_takes_the_middles_of_its_equal_parts(tmp_path):
    path = write_numbered_clip(tmp_path / "segment.mp4", count=48, fps=24)  # 2 s
    segment = questions.Segment(0.5, 1.5)
    decoded = video.decode_video(path, sampling.SamplingConfig(frames_per_video=4), IMAGE_SIZE, segment=segment)
    # Middles of four 0.25 s parts: 0.625, 0.875, 1.125 and 1.375 s, i.e. frames 15, 21, 27 and 33.
    assert decoded.frame_indices == [15, 21, 27, 33]
    assert [frame_number(frame) for frame in decoded.frames] == [15, 21, 27, 33 % 32]
    assert decoded.total_frames == 48 and decoded.duration == pytest.approx(2.0)
    assert decoded.segment == segment
    assert decoded.summary()["segment"] == {"start": 0.5, "end": 1.5}


def test_rate_sampling_inside_a_segment_starts_at_its_start(tmp_path):
    path = write_numbered_clip(tmp_path / "segment.mp4", count=48, fps=24)
    decoded = video.decode_video(path, sampling.SamplingConfig(fps=4, max_frames=100), IMAGE_SIZE,
                                 segment=questions.Segment(0.5, 1.5))
    assert decoded.frame_indices == [12, 18, 24, 30]  # 0.5, 0.75, 1.0 and 1.25 s


def test_a_segment_ending_slightly_past_the_clip_is_clamped_and_one_past_it_is_refused(tmp_path):
    path = write_numbered_clip(tmp_path / "segment.mp4", count=48, fps=24)  # 2 s
    config = sampling.SamplingConfig(frames_per_video=4)
    clamped = video.decode_video(path, config, IMAGE_SIZE, segment=questions.Segment(1.0, 2.9))
    assert clamped.segment.end == pytest.approx(2.0)
    assert clamped.frame_indices == [27, 33, 39, 45]  # Middles of [1, 2): 1.125 ... 1.875 s.
    for segment, reason in [(questions.Segment(1.0, 3.1), "segment [1:3.1] ends 1.100 s after the end of the clip"),
                            (questions.Segment(2.0, 3.0), "segment [2:3] starts at or after the end of the clip"),
                            (questions.Segment(7.5, 9.0), "segment [7.5:9] starts at or after the end of the clip")]:
        with pytest.raises(video.VideoDecodeError) as raised:
            video.decode_video(path, config, IMAGE_SIZE, segment=segment)
        assert raised.value.reason.startswith(reason)
        assert "which lasts 2.000 s" in raised.value.reason and path in str(raised.value)


def test_a_whole_clip_summary_has_no_segment(tmp_path):
    path = write_numbered_clip(tmp_path / "whole.mp4", count=12, fps=24)
    decoded = video.decode_video(path, sampling.SamplingConfig(frames_per_video=3), IMAGE_SIZE)
    assert decoded.segment is None and "segment" not in decoded.summary()


def test_segments_are_measured_from_the_first_frame_and_tolerate_five_percent_of_a_long_clip():
    times = [10.0 + 0.1 * index for index in range(20)]  # Starts at 10 s, lasts 2 s.
    config = sampling.SamplingConfig(frames_per_video=5)
    assert sampling.select_frame_indices(config, times, questions.Segment(0.5, 1.0)) == [5, 6, 7, 8, 9]
    assert sampling.select_frame_indices(config, times) == [2, 6, 10, 14, 18]
    long_times = [0.5 * index for index in range(200)]  # 100 s: 5% is 5 s.
    assert sampling.clip_segment(questions.Segment(90, 104.9), long_times) == questions.Segment(90, 100.0)
    with pytest.raises(sampling.SegmentOutsideClip, match=r"ends 5.100 s after"):
        sampling.clip_segment(questions.Segment(90, 105.1), long_times)
