"""Child: the bare frozen CNN in a tight loop, the limit for feature extraction.

    python -m benchmarks.cnn_limit --json_out F --image_size 96 --batch_size 32 [--seconds 8]
        [--per_frame_seconds 4] [--projection_image_size 299]

`features.cnn.FrozenCnn.embed` (the call the pipeline's model handler makes)
is timed on batches preloaded in memory, so nothing but the CNN runs:

  batched      one call per `batch_size` frames (the pipeline's inference batch)
  per_frame    one `embed` call per frame (the per-frame approach)
  keras_predict_per_frame
               one `model.predict` call per frame, as Keras's video
               classification example does
  projection   batched, at a second image size (only a few batches), to
               project the pipeline's ratio at that size

Random (untrained) weights: the speed of a convolution does not depend on
the values of its weights or inputs.
"""

import argparse
import time

from benchmarks import commands


def _timed_loop(function, seconds, frames_per_call, min_calls=2):
    """Call `function` until `seconds` pass (at least `min_calls`); frames/s and CPU use."""
    calls = 0
    cpu_started, started = time.process_time(), time.perf_counter()
    while calls < min_calls or time.perf_counter() - started < seconds:
        function(calls)
        calls += 1
    wall = time.perf_counter() - started
    return {"frames": calls * frames_per_call, "seconds": wall, "calls": calls,
            "frames_per_second": calls * frames_per_call / wall,
            "cpu_cores_busy": (time.process_time() - cpu_started) / wall}


def measure(image_size, batch_size, seconds, per_frame_seconds, projection_image_size=None,
            num_batches=4, seed=0):
    import numpy as np
    import tensorflow as tf

    from features import cnn

    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    frozen = cnn.FrozenCnn(cnn.RANDOM_WEIGHTS, image_size)
    build_seconds = time.perf_counter() - started
    batches = [rng.integers(0, 256, (batch_size, image_size, image_size, 3), dtype=np.uint8)
               for _ in range(num_batches)]
    for batch in batches[:2]:
        frozen.embed(batch)  # Trace and warm up.
    result = {"image_size": image_size, "batch_size": batch_size, "build_seconds": build_seconds,
              "tensorflow": tf.__version__, "weights": cnn.describe_weights(cnn.RANDOM_WEIGHTS),
              "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
              "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads()}
    result["batched"] = _timed_loop(lambda i: frozen.embed(batches[i % num_batches]), seconds, batch_size)
    frames = np.concatenate(batches)
    frozen.embed(frames[:1])
    result["per_frame"] = _timed_loop(lambda i: frozen.embed(frames[i % len(frames)][np.newaxis]),
                                      per_frame_seconds, 1)
    preprocessed = cnn.preprocess(frames[:8]).numpy()
    frozen.model.predict(preprocessed[:1], verbose=0)
    result["keras_predict_per_frame"] = _timed_loop(
        lambda i: frozen.model.predict(preprocessed[i % 8][np.newaxis], verbose=0), per_frame_seconds, 1)
    if projection_image_size:
        big = cnn.FrozenCnn(cnn.RANDOM_WEIGHTS, projection_image_size)
        big_batch = rng.integers(0, 256, (batch_size, projection_image_size, projection_image_size, 3),
                                 dtype=np.uint8)
        big.embed(big_batch)
        result["projection"] = dict(_timed_loop(lambda i: big.embed(big_batch), 0.0, batch_size),
                                    image_size=projection_image_size)
    return result


def run(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cnn_limit", description=__doc__.split("\n")[0])
    parser.add_argument("--json_out", required=True)
    parser.add_argument("--image_size", type=int, default=96)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=8.0, help="time of the batched loop")
    parser.add_argument("--per_frame_seconds", type=float, default=4.0)
    parser.add_argument("--projection_image_size", type=int, default=0,
                        help="also time a few batches at this size (0: skip)")
    args = parser.parse_args(argv)
    result = measure(args.image_size, args.batch_size, args.seconds, args.per_frame_seconds,
                     args.projection_image_size or None)
    commands.write_result(args.json_out, result)
    return result


if __name__ == "__main__":
    run()
