"""Child: answering latency on one clip, model loaded once, vs the CNN alone on the same frames.

    python -m benchmarks.latency --json_out F --model_dir M --video clip.mp4
        [--question Q ...] [--repeats 5]

Follows `model.predict.predict` step by step but loads the SavedModel once:
decode and sample the clip as the pipeline did (`model.predict.decode`), then
call the export's `serving_frames` signature (resize + frozen CNN + question
transform + LSTM model) on all questions together. The reference is the
pipeline's CNN (`model.export.build_frozen_cnn`, same weights, checksum
checked) embedding the same sampled frames in one call. Also timed, to
explain the difference: decoding alone, `serving_frames` alone and the
`serving_features` signature (everything but the CNN). Each is timed `repeats`
times after one warm-up; the ratio uses the fastest time of each (least
disturbed by other jobs on a shared machine), medians are kept beside.
"""

import argparse
import statistics
import time

from benchmarks import commands

DEFAULT_QUESTIONS = ("what is happening to the square?", "what color is the square?",
                     "how many circles are there?", "is the ball appearing or disappearing?",
                     "what is the man doing?")


def _seconds(function, repeats):
    """{'median', 'best'} seconds of `repeats` calls after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return {"median": statistics.median(times), "best": min(times)}


def measure(model_dir, video_path, questions, repeats):
    import numpy as np
    import tensorflow as tf

    from model import export, predict

    export_dir, manifest, _ = predict.read_export_manifest(model_dir)
    started = time.perf_counter()
    loaded = tf.saved_model.load(export_dir)
    load_seconds = time.perf_counter() - started
    serving_frames = loaded.signatures[export.SIGNATURE_FRAMES]
    serving_features = loaded.signatures[export.SIGNATURE_FEATURES]
    question_tensor = tf.constant(list(questions))
    decoded = predict.decode(video_path, manifest)
    frames = decoded.frames

    def answer():
        clip = predict.decode(video_path, manifest)
        outputs = serving_frames(frames=tf.constant(clip.frames), question=question_tensor)
        return outputs["answers"].numpy()

    frozen = export.build_frozen_cnn(manifest)
    features = frozen.embed(frames)
    tiled = tf.constant(np.repeat(features[np.newaxis], len(questions), axis=0))
    counts = tf.fill([len(questions)], len(frames))

    result = {
        "video": video_path, "clip_seconds": decoded.duration, "clip_frames": decoded.total_frames,
        "clip_width": decoded.width, "clip_height": decoded.height,
        "sampled_frames": decoded.num_frames, "image_size": frozen.image_size,
        "questions": len(questions), "repeats": repeats, "model_load_seconds": load_seconds,
        "answer_seconds": _seconds(answer, repeats),
        "decode_seconds": _seconds(lambda: predict.decode(video_path, manifest), repeats),
        "serving_frames_seconds": _seconds(
            lambda: serving_frames(frames=tf.constant(frames), question=question_tensor)["answers"].numpy(),
            repeats),
        "serving_features_seconds": _seconds(
            lambda: serving_features(question=question_tensor, frame_features=tiled,
                                     frame_count=counts)["answers"].numpy(), repeats),
        "cnn_seconds": _seconds(lambda: frozen.embed(frames), repeats),
        "example_answers": [answer.decode("utf-8") for answer in answer()[:, 0]],
    }
    result["ratio"] = result["answer_seconds"]["best"] / result["cnn_seconds"]["best"]
    result["ratio_of_medians"] = result["answer_seconds"]["median"] / result["cnn_seconds"]["median"]
    return result


def run(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.latency", description=__doc__.split("\n")[0])
    parser.add_argument("--json_out", required=True)
    parser.add_argument("--model_dir", required=True)
    parser.add_argument("--video", required=True)
    parser.add_argument("--question", action="append", default=None)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    result = measure(args.model_dir, args.video, args.question or DEFAULT_QUESTIONS, args.repeats)
    commands.write_result(args.json_out, result)
    return result


if __name__ == "__main__":
    run()
