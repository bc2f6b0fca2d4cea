"""Figure 5: answering with a warm model against the CNN alone on the same frames.

Trains one epoch on figure 1's large run (`model.train`, in this process; it
also exports), loads the export once with `model.answering.ExportedModel`
(the API `model.predict` and `model.serve` use), then times decode + answer
for one test clip and its questions, and the same backbone and weights
(`features.cnn.FrozenCnn`) embedding the same sampled frames in one call. The
ratio is of the fastest of `latency_repeats` each; weights do not change
the speed, so one epoch suffices.
"""

import contextlib
import json
import os
import statistics
import time

from benchmarks import common


def _seconds(function, repeats):
    """Wall seconds of `repeats` calls after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times


def train(settings, data_dir, model_dir):
    from model import train as train_lib
    common.say("model.train, 1 epoch (with its export)")
    with open(settings.path("train.log"), "w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        status = train_lib.run(["--data_dir", data_dir, "--model_dir", model_dir, "--epochs", "1",
                                "--batch_size", "32", "--progress", "none", "--seed", str(settings.seed)])
    if status:
        raise ValueError(f"model.train failed with status {status} (see {settings.path('train.log')})")


def test_clip(data_dir):
    """(video path, its questions) of the first clip of a synthetic set's test split."""
    from pipeline import synthetic
    with open(os.path.join(data_dir, synthetic.QA_FILE_PATTERN.format(split="test")), encoding="utf-8") as handle:
        rows = json.load(handle)
    video_id = rows[0]["video_id"]
    path = os.path.join(data_dir, synthetic.VIDEOS_DIR, synthetic.VIDEO_FILE_PATTERN.format(video_id=video_id))
    return path, [row["question"] for row in rows if row["video_id"] == video_id]


def measure(settings, shared):
    from features import manifest as manifest_lib
    from model import answering
    large = shared["large_run"]
    model_dir = settings.path("model")
    train(settings, large.output_dir, model_dir)
    started = time.perf_counter()
    model = answering.ExportedModel(model_dir)
    load_seconds = time.perf_counter() - started
    video_path, questions = test_clip(large.data_dir)
    answer_times = _seconds(lambda: model.answer(model.decode(video_path), questions), settings.latency_repeats)
    decoded = model.decode(video_path)
    cnn_config = manifest_lib.cnn_config(model.manifest)
    cnn = common.frozen_cnn(manifest_lib.backbone_name(model.manifest), manifest_lib.image_size(model.manifest),
                            cnn_config[manifest_lib.CNN_WEIGHTS])
    cnn_times = _seconds(lambda: cnn.embed(decoded.frames), settings.latency_repeats)
    decode_times = _seconds(lambda: model.decode(video_path), settings.latency_repeats)
    answer, alone = min(answer_times), min(cnn_times)
    reference = (f"the CNN alone on the {decoded.num_frames} sampled frames at {cnn.image_size} px: "
                 f"{alone * 1000:.0f} ms")
    yield common.figure("answer_ms", answer * 1000, "ms", reference,
                        f"{len(questions)} questions; decoding alone {min(decode_times) * 1000:.0f} ms; "
                        f"fastest of {settings.latency_repeats}, median {statistics.median(answer_times) * 1000:.0f} ms")
    yield common.figure("answer_vs_cnn", answer / alone, "x", reference,
                        f"ratio of medians {statistics.median(answer_times) / statistics.median(cnn_times):.2f}")
    yield common.figure("model_load_seconds", load_seconds, "s", "ExportedModel(model_dir), once per process")
