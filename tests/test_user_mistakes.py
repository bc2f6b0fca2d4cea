"""What a new user gets wrong, caught, each with the real command.

  * A misspelt or unknown flag is an error before any work, naming the closest known flag.
  * A symbolic link inside --video_dir that points outside it is refused (tests/test_robustness_pipeline.py);
    --allow_links_outside follows a link farm (the How2QA run below keeps its videos that way).
  * The split rule is per clip: How2QA's validation and test files may ask about different segments of
    one video; the same segment under two splits is refused.
  * A run that writes no question at all exits non-zero with the counts and the most frequent reasons.
"""

import csv
import os
import shutil

import pytest

from features import manifest as manifest_lib
from features import questions, schema

import bad_inputs
import shared_runs

DATASETS = os.environ.get("VIDEOQA_SHARED_DATASETS", "/work/shared/datasets")
HOW2QA_VIDEOS = 6


@pytest.mark.parametrize("module, arguments, misspelt", [
    # Ours and Beam's misspelt together: one line names each with its closest flag.
    ("pipeline.run", ["--annotations", "a.json", "--video_dir", "v", "--output_dir", "{out}",
                      "--feature_cahce", "{out}-cache", "--frames_per_vidoe", "32", "--runer=DataflowRunner"],
     {"--feature_cahce": "--feature_cache", "--frames_per_vidoe": "--frames_per_video", "--runer": "--runner"}),
    ("model.train", ["--data_dir", "d", "--model_dir", "{out}", "--epoch", "3"], {"--epoch": "--epochs"}),
    ("model.predict", ["--model_dir", "{out}", "--video", "v.mp4", "--questoin", "what?"],
     {"--questoin": "--question"}),
])
def test_a_misspelt_flag_stops_the_command_before_any_work(tmp_path, module, arguments, misspelt):
    output = str(tmp_path / "out")
    completed = shared_runs.run_module(module, *[argument.format(out=output) for argument in arguments])
    assert completed.returncode == 2
    line = shared_runs.error_line(completed.stderr, module)
    assert f"unknown flag{'s' if len(misspelt) > 1 else ''} " in line
    for flag, suggestion in misspelt.items():
        assert f"{flag} (did you mean {suggestion}?)" in line, line
    assert "Traceback" not in completed.stderr and not os.path.exists(output)


@pytest.mark.slow
def test_a_run_that_writes_nothing_fails_with_the_counts_and_the_reasons(tmp_path):
    """The real NExT-QA files as published, with none of their videos: every row rejected, exit status 1."""
    empty_videos = tmp_path / "videos"
    empty_videos.mkdir()
    output_dir = str(tmp_path / "out")
    completed = shared_runs.run_module(
        "pipeline.run", "--annotations", os.path.join(DATASETS, "nextqa", "*.csv"),
        "--video_mapping", os.path.join(DATASETS, "nextqa", "map_vid_vidorID.json"),
        "--video_dir", str(empty_videos), "--output_dir", output_dir,
        "--cnn", "mobilenet_v3_large", "--cnn_weights", "random", "--image_size", "32", "--frames_per_video", "2")
    assert completed.returncode == 1, completed.stderr[-3000:]
    line = shared_runs.error_line(completed.stderr, "pipeline.run")
    assert "no question was written: 400 input questions, 400 rejected" in line
    assert "Most frequent reasons: 400 x file not found" in line
    assert "input questions: 400 = written 0 + rejected 400" in completed.stdout
    assert len(bad_inputs.read_errors(output_dir)) == 400  # errors/ is still written.


@pytest.fixture(scope="module")
def how2qa(tmp_path_factory):
    """How2QA as published, videos kept as a link farm, val and test sharing a video on other segments.

    Run in this process (`shared_runs.run_pipeline_in_process`): its tests read what it wrote."""
    def build(directory):
        from pipeline import synthetic
        data = os.path.join(directory, "data")
        synthetic.generate(data, HOW2QA_VIDEOS, seed=4, layout="how2qa")
        store, farm = os.path.join(directory, "store"), os.path.join(data, "linked_videos")
        shutil.move(os.path.join(data, "videos"), store)
        os.makedirs(farm)
        for name in os.listdir(store):
            os.symlink(os.path.join(store, name), os.path.join(farm, name))
        val_path = os.path.join(data, "how2QA_val_release.csv")
        test_path = os.path.join(data, "how2QA_test_public_release.csv")
        val_rows = list(csv.reader(open(val_path, encoding="utf-8", newline="")))
        shared_video = val_rows[0][0]
        with open(test_path, "a", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            # Another segment of a validation video: a clip of its own, in the test split.
            writer.writerow([shared_video, "[0.5:1.5]", "one", "two", "four", "how many circles are there?", "three"])
            # The very segment of another validation question: refused in both splits.
            writer.writerow([val_rows[1][0], val_rows[1][1], "one", "two", "four", "how many circles?", "three"])
        output_dir = os.path.join(directory, "out")
        completed = shared_runs.run_pipeline_in_process([
            "--annotations", os.path.join(data, "how2QA_*.csv"), "--video_dir", farm,
            "--allow_links_outside", "--output_dir", output_dir,
            "--cnn", "mobilenet_v3_large", "--cnn_weights", "random", "--image_size", "32", "--frames_per_video", "4"])
        assert completed["returncode"] == 0, completed["stderr"][-4000:]
        start, end = (float(value) for value in val_rows[1][1].strip("[]").split(":"))
        return dict(completed, output_dir=output_dir, shared_video=shared_video,
                    refused_clip=questions.clip_id(val_rows[1][0], questions.Segment(start, end)))

    return shared_runs.build_once(tmp_path_factory, "how2qa_run", build)


@pytest.mark.slow
def test_how2qa_segments_are_clips_and_a_video_may_serve_two_splits(how2qa):
    manifest = manifest_lib.read_manifest(how2qa["output_dir"])
    assert manifest_lib.task(manifest) == schema.TASK_MULTIPLE_CHOICE and manifest_lib.num_candidates(manifest) == 4
    clips = {split: {video[schema.VIDEO_ID_KEY] for video in videos}
             for split, videos in shared_runs.read_parsed(how2qa["output_dir"]).items()}
    shared = how2qa["shared_video"]
    assert f"{shared}[0.5:1.5]" in clips[schema.TEST_SPLIT]
    assert any(clip.startswith(f"{shared}[") for clip in clips[schema.VALIDATION_SPLIT])
    all_clips = [clip for split_clips in clips.values() for clip in split_clips]
    assert len(all_clips) == len(set(all_clips))  # No clip in two splits.
    assert how2qa["refused_clip"] not in all_clips


@pytest.mark.slow
def test_the_same_segment_under_two_splits_is_refused_with_its_reason(how2qa):
    errors = bad_inputs.read_errors(how2qa["output_dir"])
    refused = [error for error in errors if error["stage"] == "assign_splits"]
    assert refused and all("test and val" in error["reason"] for error in refused)
    assert all(how2qa["refused_clip"] in error["reason"] for error in refused)
    assert "links outside" not in " ".join(error["reason"] for error in errors)  # --allow_links_outside.


@pytest.mark.slow
def test_frames_are_sampled_inside_each_segment(how2qa):
    parsed = shared_runs.read_parsed(how2qa["output_dir"])
    by_clip = {video[schema.VIDEO_ID_KEY]: video for videos in parsed.values() for video in videos}
    shared = how2qa["shared_video"]
    segments = [clip for clip in by_clip if clip.startswith(f"{shared}[")]
    assert len(segments) >= 2
    features = [by_clip[clip][schema.FRAME_FEATURES_KEY] for clip in segments]
    assert not all((features[0] == other).all() for other in features[1:])  # Other segment, other frames.
