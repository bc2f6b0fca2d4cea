"""The benchmarks: their parts on real files, and a quick run of every measurement (so none can rot).

The quick run (`python -m benchmarks.run --quick`, as `make bench-quick`) runs
the real pipeline, trainer and answering code on tiny data. Its numbers mean
nothing; the test checks that every figure of `benchmarks/goals.py` comes out
as a number and lands in the results files. It is `full` (`make test-all`):
six pipeline runs, two of them child processes, and a training, each paying
its fixed cost (starting TensorFlow, building the CNN, tracing tf.Transform),
about two minutes of one core, the longest single test. The parts it is made
of are tested here in `make test`.
"""

import importlib.util
import json
import math
import os
import subprocess
import sys

import av
import numpy as np
import pytest

from benchmarks import annotation_scale, common, goals, memory, report
from benchmarks import run as bench_run
from model_helpers import REPO_DIR, command_environment

LONG_CLIP_FIGURES = ("seek_decode_vs_sequential", "long_clip_pipeline_vs_cnn")


def test_msvd_questions_have_the_published_layout_and_sizes():
    rows = annotation_scale.question_rows(annotation_scale.SAMPLES_DIR, 1.0, 1)
    assert {split: len(split_rows) for split, split_rows in rows.items()} == {
        "train": 30933, "val": 6415, "test": 13157}
    all_rows = [row for split_rows in rows.values() for row in split_rows]
    assert all(set(row) == {"answer", "id", "question", "video_id"} and isinstance(row["video_id"], int)
               for row in all_rows)
    assert len({row["id"] for row in all_rows}) == 50505
    assert {row["video_id"] for row in all_rows} == set(range(1, 1971))
    assert {row["video_id"] for row in rows["val"]} == set(range(1201, 1451))
    samples = json.load(open(os.path.join(annotation_scale.SAMPLES_DIR, "test_qa.json"), encoding="utf-8"))
    assert {row["question"] for row in rows["test"]} == {row["question"] for row in samples}
    four = annotation_scale.question_rows(annotation_scale.SAMPLES_DIR, 1.0, 4)
    assert sum(len(split_rows) for split_rows in four.values()) == 4 * 50505


def test_msvd_mapping_names_every_clip_and_refuses_a_bad_line(tmp_path):
    names = annotation_scale.read_mapping(os.path.join(annotation_scale.SAMPLES_DIR, "youtube_mapping.txt"))
    assert sorted(names) == list(range(1, 1971))
    assert names[1] == "-4wsuPCjDBc_5_15"
    bad = tmp_path / "youtube_mapping.txt"
    bad.write_text("-4wsuPCjDBc_5_15 vid1\nno-number-here\n")
    with pytest.raises(ValueError, match=r"youtube_mapping.txt, line 2"):
        annotation_scale.read_mapping(str(bad))


def test_msvd_stand_in_clips_are_hard_links_inside_the_video_dir(tmp_path):
    questions, clips = annotation_scale.write_data_set(str(tmp_path / "msvd"), annotation_scale.SAMPLES_DIR,
                                                       0.01, 1)
    names = sorted(os.listdir(tmp_path / "msvd" / "videos"))
    assert len(names) == clips and all(name.endswith(".avi") for name in names)
    assert questions == sum(len(json.load(open(tmp_path / "msvd" / f"{split}_qa.json"))) for split in
                            ("train", "val", "test"))
    first = tmp_path / "msvd" / "videos" / names[0]
    assert not first.is_symlink() and os.stat(first).st_nlink >= 2
    with av.open(str(first)) as container:  # A real clip under an MSVD-QA name, whatever its extension.
        assert len(list(container.decode(video=0))) == 8


def test_goals_compare_values_with_their_thresholds():
    assert goals.meets("pipeline_steady_vs_cnn", 0.9) is True
    assert goals.meets("pipeline_steady_vs_cnn", 0.8) is False
    assert goals.meets("cache_rerun_vs_first_run", 0.2) is True
    assert goals.meets("cache_rerun_vs_first_run", 0.21) is False
    assert goals.meets("msvd_seconds", 12.0) is None
    assert goals.meets("answer_vs_cnn", None) is None
    assert goals.goal_text("answer_vs_cnn") == "<= 1.2"


def _run(frames, seconds, cpu_seconds):
    manifest = {"counts": {"train": {"frames": frames - 16, "videos": 1}, "test": {"frames": 16}}, "timings": {}}
    return common.PipelineRun("run", "data", "out", (), manifest, seconds, cpu_seconds)


def test_steady_state_cancels_the_fixed_cost():
    rate, fixed, cpu_per_frame = common.steady_state(_run(128, 14.0, 20.0), _run(512, 30.0, 50.0))
    assert rate == pytest.approx(24.0)
    assert fixed == pytest.approx(14.0 - 128 / 24.0)
    assert cpu_per_frame == pytest.approx(30.0 / 384)


def test_report_writes_every_figure_with_its_goal_and_before_value(tmp_path):
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"source": "old run", "figures": {"answer_vs_cnn": {"value": 1.13, "unit": "x"}}}))
    figures = [common.figure("answer_vs_cnn", 1.5, "x", "the CNN alone", "slow"),
               common.figure("cnn_frames_per_second", 29.8, "frames/s", "FrozenCnn.embed"),
               common.figure("seek_decode_vs_sequential", None, "x", "", "not measured")]
    json_path, markdown_path = report.write(str(tmp_path), figures, {"quick": True}, str(baseline), "cmd", 60.0, 1.5)
    written = json.load(open(json_path))["figures"]
    assert [line["id"] for line in written] == ["cnn_frames_per_second", "seek_decode_vs_sequential", "answer_vs_cnn"]
    assert written[2]["met"] is False and written[2]["before"] == 1.13 and written[2]["goal"] == "<= 1.2"
    text = open(markdown_path).read()
    assert "| answer_vs_cnn | " in text and "1.500x" in text and "1.130x" in text and "not measured" in text
    assert "Goals missed: answer_vs_cnn." in text
    with pytest.raises(ValueError, match="not in benchmarks/goals.py"):
        report.complete([common.figure("no_such_figure", 1, "x", "")], {})
    baseline.write_text(json.dumps({"figures": [1, 2]}))
    with pytest.raises(ValueError, match="baseline.json"):
        report.read_baseline(str(baseline))


def test_storage_reencodes_real_records_exactly(tmp_path):
    import tensorflow as tf
    from benchmarks import storage
    from features import questions, quantize, records, schema
    dim, rng = 100, np.random.default_rng(0)
    serialized = []
    for index in range(3):
        question = questions.Question(question_id=str(index), question="what is it?", answer="a ball",
                                      question_type="what", source="test")
        features = rng.normal(size=(4 + index, dim)).astype(np.float32)
        serialized.append(records.build_video_example(f"clip{index}", "train",
                                                      quantize.encode_frames(features, "float16", dim), [question],
                                                      [0], [[1, 2, 3]]).SerializeToString())
    with tf.io.TFRecordWriter(str(tmp_path / f"train-00000-of-00001{schema.RECORD_FILE_SUFFIX}"),
                              options=schema.RECORD_COMPRESSION) as writer:
        for record in serialized:
            writer.write(record)
    manifest = {"config": {"feature_dtype": "float16", "cnn": {"feature_dim": dim}}}
    sizes, stored, count = storage.sizes_per_video(str(tmp_path), manifest)
    assert (stored, count) == ("float16", 3)
    assert sizes["float16"][0] == pytest.approx(np.mean([len(record) for record in serialized]))
    assert sizes["float16"][2] == 5 * dim * 2
    assert sizes["float32"][0] > sizes["float16"][0] > sizes["uint8"][0]
    assert all(serialized_bytes > payload for serialized_bytes, _, payload in sizes.values())


def test_child_memory_counts_the_whole_process_tree(tmp_path):
    grandchild = "b = bytearray(300 * 2**20); import time; time.sleep(1.5)"
    wall, peak = memory.run_measured(
        [sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {grandchild!r}])"],
        str(tmp_path / "child.log"))
    assert peak > 300 * 2**20
    assert wall >= 1.5
    with pytest.raises(ValueError, match="exited with status 3"):
        memory.run_measured([sys.executable, "-c", "import sys; print('bad'); sys.exit(3)"], str(tmp_path / "bad.log"))


def test_a_work_dir_that_is_not_the_benchmarks_is_never_emptied(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not a benchmark work dir"):
        bench_run.run(["--quick", "--work_dir", str(tmp_path)])
    assert (tmp_path / "precious.txt").read_text() == "keep me"


@pytest.mark.full
def test_quick_run_gives_every_figure_as_a_number(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--work_dir", str(tmp_path / "work"),
         "--results_dir", str(tmp_path / "results")],
        cwd=REPO_DIR, env=command_environment(), capture_output=True, text=True, timeout=850)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = {line["id"]: line for line in map(json.loads, result.stdout.splitlines())}
    missing_long_clip = importlib.util.find_spec("benchmarks.long_clip") is None
    for figure_id in goals.FIGURES:
        if missing_long_clip and figure_id in LONG_CLIP_FIGURES:
            assert lines[figure_id]["value"] is None  # Until benchmarks/long_clip.py is merged.
            continue
        value = lines[figure_id]["value"]
        assert isinstance(value, float) and math.isfinite(value), lines[figure_id]
        assert lines[figure_id]["reference"], lines[figure_id]
    large_set = 4 * common.Settings.quick_run("unused").num_videos
    assert f"clips reused {large_set}, embedded 0" in lines["cache_rerun_vs_first_run"]["detail"]
    written = json.load(open(tmp_path / "results" / "results.json"))
    assert [line["id"] for line in written["figures"]] == list(goals.FIGURES)
    markdown = (tmp_path / "results" / "results.md").read_text()
    assert all(f"| {figure_id} |" in markdown for figure_id in goals.FIGURES)
