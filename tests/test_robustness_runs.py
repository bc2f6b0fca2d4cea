"""Issue 5: configuration mistakes, escaping mapping entries, and a pipeline run killed mid-way.

  * Bad flags and an output dir holding another configuration's records stop
    `python -m pipeline.run` with exit code 2 and one line on stderr, before
    anything is written (one as a subprocess; the others call the same
    `pipeline.run.main` in this process, to spare a TensorFlow start each).
  * An MSVD-style `youtube_mapping.txt` whose entries leave `--video_dir` is
    refused row by row (`bad_inputs.build_mapped_dataset`, one run per session).
  * A run killed with SIGKILL while it writes, over an output dir holding an
    older run's records, leaves those records readable; started again it
    produces exactly what an uninterrupted run produces, with no old shards,
    no duplicates and no staging dirs left.
"""

import glob
import json
import os
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest

from features import manifest as manifest_lib
from features import schema
from model import train

import bad_inputs
import model_helpers
import shared_runs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mapped(tmp_path_factory):
    return bad_inputs.mapped_run(tmp_path_factory)


# Escaping mapping entries.

@pytest.mark.parametrize("video_id, reason", [
    (90, "video path '../outside.avi' escapes --video_dir"),
    (91, "video path '../../etc/passwd.avi' escapes --video_dir"),
    (92, "video path '/etc/passwd.avi' is absolute; it must be relative to --video_dir"),
    (93, "video path 'sub/../../outside.avi' escapes --video_dir"),
    (bad_inputs.UNMAPPED_VIDEO_ID, "video_id '99' is not in --video_mapping"),
])
def test_mapping_entries_that_leave_the_video_dir_are_rejected(mapped, video_id, reason):
    errors = [error for error in bad_inputs.read_errors(mapped["output_dir"])
              if bad_inputs.error_question_id(error) == str(video_id * 10)]
    assert len(errors) == 1
    assert errors[0]["stage"] == "read_annotations" and errors[0]["reason"] == reason
    assert errors[0]["source"].endswith("train_qa.json:item " + errors[0]["source"].rsplit(" ", 1)[-1])


def test_the_mapped_run_writes_every_mapped_video(mapped):
    videos = bad_inputs.read_videos(mapped["output_dir"])
    assert sorted(videos) == sorted(str(video_id) for video_id in bad_inputs.MAPPED_CLIPS)
    written = sum(outcome == "written" for outcome in mapped["dataset"]["expected"].values())
    assert f"input questions: {written + 5} = written {written} + rejected 5" in mapped["stdout"]


# Configuration errors.

def snapshot(directory):
    """{relative path: (size, mtime_ns)} of every file under `directory`."""
    found = {}
    for path in bad_inputs.file_tree(directory):
        status = os.stat(os.path.join(directory, path))
        found[path] = (status.st_size, status.st_mtime_ns)
    return found


def run_in_process(argv):
    """`pipeline.run.main(argv)` (what `python -m pipeline.run` calls): (exit status, stderr)."""
    completed = shared_runs.run_pipeline_in_process(argv)
    return completed["returncode"], completed["stderr"]


def test_a_bad_flag_exits_2_with_one_line_on_stderr(mapped, tmp_path):
    output_dir = str(tmp_path / "out")
    completed = bad_inputs.run_command(
        bad_inputs.mapped_pipeline_command(mapped["dataset"], output_dir, "--frames_per_video", "0"))
    assert completed.returncode == 2
    assert shared_runs.error_line(completed.stderr) == \
        "pipeline.run: error: --frames_per_video must be a positive number of frames, got 0"
    assert "Traceback" not in completed.stderr and completed.stdout == ""
    assert not os.path.exists(output_dir)


@pytest.mark.parametrize("flags, message", [
    (["--image_size", "31"], "--image_size 31 is below EfficientNetV2B0's minimum input of 32x32"),
    (["--cnn", "inception_v3", "--image_size", "74"], "--image_size 74 is below InceptionV3's minimum input of 75x75"),
    (["--cnn_weights", "{tmp}/no_such.weights.h5"],
     "--cnn_weights '{tmp}/no_such.weights.h5': no such weights file (expected 'imagenet', 'random[:SEED]'"),
    (["--fps", "2"], "--max_frames must be a positive number of frames with --fps, got 0"),
    (["--annotations", "{tmp}/nothing/*_qa.json"], "matches no files"),
    (["--video_mapping", "{tmp}/missing_mapping.txt"], "{tmp}/missing_mapping.txt: file not found"),
])
def test_bad_flags_are_refused_before_any_work(mapped, tmp_path, flags, message):
    output_dir = str(tmp_path / "out")
    flags = [flag.format(tmp=tmp_path) for flag in flags]
    status, stderr = run_in_process(
        bad_inputs.mapped_pipeline_command(mapped["dataset"], output_dir, *flags)[3:])
    assert status == 2
    assert message.format(tmp=tmp_path) in shared_runs.error_line(stderr)
    assert not os.path.exists(output_dir)  # Nothing written, not even the directory.


def test_an_output_dir_with_another_configuration_is_refused_untouched(mapped, tmp_path):
    output_dir = str(tmp_path / "occupied")
    shutil.copytree(mapped["output_dir"], output_dir)
    before = snapshot(output_dir)
    status, stderr = run_in_process(
        bad_inputs.mapped_pipeline_command(mapped["dataset"], output_dir, "--frames_per_video", "4")[3:])
    assert status == 2
    line = shared_runs.error_line(stderr)
    assert f"--output_dir {output_dir} already holds records made with a different configuration" in line
    assert "differs in: sampling.frames_per_video, sampling.max_sampled_frames" in line
    assert "--overwrite" in line
    assert snapshot(output_dir) == before


def test_a_weights_file_that_is_not_keras_weights_is_refused(mapped, tmp_path):
    weights = bad_inputs.write_random_bytes(str(tmp_path / "garbage.weights.h5"), size=5000)
    output_dir = str(tmp_path / "out")
    status, stderr = run_in_process(
        bad_inputs.mapped_pipeline_command(mapped["dataset"], output_dir, "--cnn_weights", weights)[3:])
    assert status == 2 and "garbage.weights.h5" in shared_runs.error_line(stderr)
    assert not os.path.exists(output_dir)


# A run killed mid-way and started again.

def staged_output(output_dir):
    """Files a run writes into its staging dir once its outputs start to be final."""
    return (glob.glob(os.path.join(output_dir, ".staging-*", schema.ERRORS_DIR, "errors-*.jsonl"))
            + glob.glob(os.path.join(output_dir, ".staging-*", schema.TRANSFORM_FN_DIR, "saved_model.pb")))


def kill_while_writing(command, output_dir, timeout=600):
    """Start `command`; SIGKILL it as soon as it has final files in its staging dir."""
    process = subprocess.Popen(command, cwd=model_helpers.REPO_DIR, env=model_helpers.command_environment(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + timeout
    while not staged_output(output_dir):
        if process.poll() is not None:
            raise AssertionError(f"the run ended ({process.returncode}) before it could be killed:\n"
                                 + process.stdout.read()[-3000:])
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("the run wrote nothing to its staging dir in time")
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL


def comparable(output_dir):
    """Everything a run published, in a form two runs can be compared by."""
    manifest = manifest_lib.read_manifest(output_dir)
    return {
        "files": bad_inputs.file_tree(output_dir),
        "videos": bad_inputs.read_videos(output_dir),
        "errors": sorted(json.dumps(error, sort_keys=True) for error in bad_inputs.read_errors(output_dir)),
        "vocabularies": [bad_inputs.read_vocabulary(output_dir, name)
                         for name in (schema.QUESTION_VOCABULARY_NAME, schema.ANSWER_VOCABULARY_NAME)],
        "counts": manifest[manifest_lib.MANIFEST_COUNTS],
        "fingerprint": manifest[manifest_lib.MANIFEST_CONFIG_FINGERPRINT],
    }


@pytest.mark.full  # kills and restarts pipeline.run: make test-all
def test_a_killed_run_started_again_gives_the_uninterrupted_records(mapped, tmp_path_factory, capsys):
    previous = bad_inputs.bad_inputs_run(tmp_path_factory)  # Another configuration's finished run.
    output_dir = str(tmp_path_factory.mktemp("interrupted") / "out")
    shutil.copytree(previous["output_dir"], output_dir)
    # Make the older run a two-shard one, so leftovers could not hide behind equal file names.
    old_train = os.path.join(output_dir, f"train-00000-of-00001{schema.RECORD_FILE_SUFFIX}")
    os.rename(old_train, os.path.join(output_dir, f"train-00000-of-00002{schema.RECORD_FILE_SUFFIX}"))
    shutil.copy(os.path.join(output_dir, f"val-00000-of-00001{schema.RECORD_FILE_SUFFIX}"),
                os.path.join(output_dir, f"train-00001-of-00002{schema.RECORD_FILE_SUFFIX}"))
    old_manifest = open(manifest_lib.manifest_path(output_dir)).read()
    old_files = snapshot(output_dir)
    command = bad_inputs.mapped_pipeline_command(mapped["dataset"], output_dir, "--overwrite")

    kill_while_writing(command, output_dir)
    # The older run is still whole and readable; the killed one left only its staging dir.
    assert open(manifest_lib.manifest_path(output_dir)).read() == old_manifest
    staging = glob.glob(os.path.join(output_dir, ".staging-*"))
    assert len(staging) == 1
    assert {path: facts for path, facts in snapshot(output_dir).items()
            if not path.startswith(".staging-")} == old_files
    # A reader pointed at what a killed run leaves in a fresh dir is told what is wrong.
    fresh = str(tmp_path_factory.mktemp("killed_fresh") / "out")
    shutil.copytree(staging[0], os.path.join(fresh, os.path.basename(staging[0])))
    capsys.readouterr()
    assert train.run(["--data_dir", fresh, "--model_dir", fresh + "-model"]) == 2
    refused = capsys.readouterr().err
    assert f"{fresh}/{schema.TRANSFORM_FN_DIR} not found" in refused and "pipeline.run" in refused

    restarted = bad_inputs.run_command(command)
    assert restarted.returncode == 0, restarted.stderr[-4000:]
    assert "removing" in restarted.stderr and ".staging-" in restarted.stderr  # The leftover is cleared.
    again, reference = comparable(output_dir), comparable(mapped["output_dir"])
    assert not [path for path in again["files"] if ".staging-" in path or "beam-temp" in path]
    assert again["files"] == reference["files"]
    assert [path for path in again["files"] if path.startswith("train-")] == \
        [f"train-00000-of-00001{schema.RECORD_FILE_SUFFIX}"]
    for key in ("errors", "vocabularies", "counts", "fingerprint"):
        assert again[key] == reference[key], key
    assert sorted(again["videos"]) == sorted(reference["videos"])
    for video_id, video in again["videos"].items():
        expected = reference["videos"][video_id]
        for key in (schema.SPLIT_KEY, schema.NUM_FRAMES_KEY, schema.QUESTION_ID_KEY, schema.QUESTION_KEY,
                    schema.ANSWER_KEY, schema.LABEL_KEY, schema.QUESTION_TOKEN_IDS_KEY):
            assert video[key] == expected[key], (video_id, key)
        np.testing.assert_allclose(video[schema.FRAME_FEATURES_KEY], expected[schema.FRAME_FEATURES_KEY],
                                   rtol=1e-2, atol=1e-3)
