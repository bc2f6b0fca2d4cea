"""Issue 5, in process: what `features.video.decode_video` does with odd and damaged real clips.

The pipeline-level cases are in test_robustness_pipeline.py; these look
inside the decoder: memory on a long clip, which frames, which stream, which
way up, and why a cut file is refused.
"""

import os

import numpy as np
import pytest

from features import sampling, seeking, video

import bad_inputs

IMAGE_SIZE = 80
EIGHT = sampling.SamplingConfig(frames_per_video=8)


def peak_rss_kilobytes():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise OSError("no VmHWM in /proc/self/status")


def reset_peak_rss():
    """Make VmHWM restart from the current RSS (Linux: write 5 to /proc/self/clear_refs)."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def test_a_long_clip_is_decoded_in_bounded_memory_keeping_only_sampled_frames(tmp_path, monkeypatch):
    count, width, height = 2000, 320, 240  # 80 s; all frames as RGB would be 460 MB.
    path = bad_inputs.write_long_clip(tmp_path / "long.mp4", count, width, height)
    video.decode_video(path, EIGHT, IMAGE_SIZE)  # Warm up TensorFlow's resize kernels.
    converted = []
    original = seeking._upright_rgb
    monkeypatch.setattr(seeking, "_upright_rgb", lambda frame, *rest: converted.append(frame.pts) or original(frame, *rest))
    try:
        reset_peak_rss()
        before = peak_rss_kilobytes()
    except OSError:
        before = None
    decoded = video.decode_video(path, EIGHT, IMAGE_SIZE)
    assert decoded.total_frames == count and decoded.num_frames == 8
    assert decoded.frames.shape == (8, IMAGE_SIZE, IMAGE_SIZE, 3)
    # Only the 8 selected frames are ever converted to arrays; the others are dropped as decoded.
    assert len(converted) == 8
    assert decoded.frame_indices == [int((k + 0.5) * count / 8) for k in range(8)]
    brightness = np.array([frame.mean() for frame in decoded.frames])
    expected = np.array([(index * bad_inputs.BRIGHTNESS_STEP) % 256 for index in decoded.frame_indices])
    np.testing.assert_allclose(brightness, expected, atol=3)  # The selected frames, lossy-coded.
    if before is not None:
        all_frames_megabytes = count * width * height * 3 / 2**20
        grew_megabytes = (peak_rss_kilobytes() - before) / 1024
        assert grew_megabytes < 64 < all_frames_megabytes / 4, grew_megabytes


def test_a_4k_frame_is_resized_as_soon_as_it_is_decoded(tmp_path):
    decoded = video.decode_video(bad_inputs.write_4k_clip(tmp_path / "uhd.mp4"), EIGHT, IMAGE_SIZE)
    assert (decoded.width, decoded.height) == bad_inputs.FOUR_K
    assert decoded.frames.shape == (3, IMAGE_SIZE, IMAGE_SIZE, 3)
    top, bottom = decoded.frames[0, :IMAGE_SIZE // 2 - 2].mean(), decoded.frames[0, IMAGE_SIZE // 2 + 2:].mean()
    assert top > 180 and bottom < 20


def test_a_one_frame_clip_gives_one_frame(tmp_path):
    decoded = video.decode_video(bad_inputs.write_clip(tmp_path / "one.mp4", 1), EIGHT, IMAGE_SIZE)
    assert (decoded.num_frames, decoded.total_frames, decoded.frame_indices) == (1, 1, [0])


@pytest.mark.parametrize("extension", ["mp4", "mkv"])
def test_variable_frame_rate_frames_are_chosen_by_presentation_time(tmp_path, extension):
    path = bad_inputs.write_variable_rate_clip(tmp_path / f"vfr.{extension}", bad_inputs.VFR_TIMES)
    decoded = video.decode_video(path, EIGHT, IMAGE_SIZE)
    expected = sampling.select_frame_indices(EIGHT, bad_inputs.VFR_TIMES)
    assert decoded.total_frames == len(bad_inputs.VFR_TIMES)
    assert decoded.frame_indices == expected == [5, 15, 16, 17, 18]
    assert decoded.frame_times == pytest.approx([bad_inputs.VFR_TIMES[i] for i in expected], abs=1e-3)
    assert [bad_inputs.frame_number(frame) for frame in decoded.frames] == expected


def band_colours(frame):
    """(dominant channel of the top rows, of the bottom rows): 0 red, 1 green."""
    quarter = frame.shape[0] // 4
    return int(np.argmax(frame[:quarter - 2].mean(axis=(0, 1)))), int(np.argmax(frame[-quarter + 2:].mean(axis=(0, 1))))


@pytest.mark.parametrize("rotation_metadata", [-90, 90, 180])
def test_phone_rotation_metadata_is_applied(tmp_path, rotation_metadata):
    upright = bad_inputs.portrait_frames(6)  # 48 wide, 64 high: red band on top, green at the bottom.
    path = bad_inputs.write_phone_clip(tmp_path / "phone.mp4", upright, rotation_metadata)
    decoded = video.decode_video(path, EIGHT, IMAGE_SIZE)
    assert decoded.rotation == rotation_metadata % 360
    assert (decoded.width, decoded.height) == (48, 64)  # Reported upright.
    for frame in decoded.frames:
        assert band_colours(frame) == (0, 1)


def test_without_rotation_metadata_frames_stay_as_stored(tmp_path):
    path = bad_inputs.write_phone_clip(tmp_path / "sideways.mp4", bad_inputs.portrait_frames(6), None)
    decoded = video.decode_video(path, EIGHT, IMAGE_SIZE)
    assert decoded.rotation == 0 and (decoded.width, decoded.height) == (64, 48)
    assert band_colours(decoded.frames[0]) != (0, 1)


@pytest.mark.parametrize("extension, default_index, used", [
    ("mp4", 1, 1), ("mp4", 0, 0), ("mkv", 1, 1), ("mkv", None, 0)])
def test_the_default_video_stream_is_used_else_the_first(tmp_path, extension, default_index, used):
    path = bad_inputs.write_multi_stream_clip(tmp_path / f"two.{extension}", [3, 5], default_index)
    decoded = video.decode_video(path, EIGHT, IMAGE_SIZE)
    assert (decoded.stream_index, decoded.video_streams) == (used, 2)
    assert decoded.num_frames == [3, 5][used]
    assert [bad_inputs.frame_number(frame, start=10 * used) for frame in decoded.frames] == \
        list(range([3, 5][used]))


def decode_error(path):
    with pytest.raises(video.VideoDecodeError) as raised:
        video.decode_video(str(path), EIGHT, IMAGE_SIZE)
    assert str(raised.value).startswith(f"{path}: ")
    return raised.value.reason


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.85])
def test_cut_files_are_refused_as_truncated_in_every_container(tmp_path, fraction):
    tail = bad_inputs.write_clip(tmp_path / "tail.mp4", 48)
    head = bad_inputs.write_mp4_with_index_first(tmp_path / "head.mp4", 48)
    matroska = bad_inputs.write_clip(tmp_path / "clip.mkv", 48)
    webm = bad_inputs.write_clip(tmp_path / "clip.webm", 48, codec="libvpx-vp9")
    for source in (tail, head, matroska, webm):
        name, extension = os.path.splitext(os.path.basename(source))
        cut = bad_inputs.write_truncated(tmp_path / f"{name}-cut{extension}", source, fraction)
        assert decode_error(cut).startswith(("truncated", "corrupt")), (source, decode_error(cut))


def test_matroska_clips_that_start_late_or_vary_their_rate_are_not_called_truncated(tmp_path):
    late = bad_inputs.write_variable_rate_clip(tmp_path / "late.mkv", [0.5 + i / 24 for i in range(24)])
    assert video.decode_video(late, EIGHT, IMAGE_SIZE).total_frames == 24
    slideshow = bad_inputs.write_variable_rate_clip(tmp_path / "slides.mkv", [0.0, 2.0, 4.0, 6.0, 6.04])
    assert video.decode_video(slideshow, EIGHT, IMAGE_SIZE).total_frames == 5


def test_an_mp4_without_its_index_says_so(tmp_path):
    source = bad_inputs.write_clip(tmp_path / "clip.mp4", 24)
    data = open(source, "rb").read()
    moov = data.index(b"moov") - 4
    cut = bad_inputs.write_bytes(tmp_path / "no-index.mp4", data[:moov])  # Every box whole, no 'moov'.
    assert "no 'moov' index" in decode_error(cut)


@pytest.mark.parametrize("write, reason", [
    (lambda path: bad_inputs.write_empty(path), "file is empty (0 bytes)"),
    (lambda path: bad_inputs.write_random_bytes(path), "not a readable video container"),
    (lambda path: bad_inputs.write_text(path), "not a readable video container"),
    (lambda path: bad_inputs.write_audio_only(path), "no video stream (streams present: audio)"),
])
def test_files_that_are_no_video_say_why(tmp_path, write, reason):
    path = tmp_path / "clip.mp4"
    write(str(path))
    assert reason in decode_error(path)
