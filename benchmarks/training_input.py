"""Child: training fed from the TFRecords vs training fed the same tensors from memory.

    python -m benchmarks.training_input --json_out F --data_dir OUT [--batch_size 32]
        [--steps 10] [--epochs 3] [--rounds 6]

The records side is exactly the trainer's input: `model.train.make_datasets`
(GZIP shards -> parse -> per-question examples -> shuffle -> padded batches ->
prefetch, repeated) and the trainer's compiled model (`model.network`). The
memory side is `steps` batches taken from that same dataset once, kept as
tensors and served with `Dataset.from_tensor_slices(...).repeat()`, so both
train on identical shapes and values. Each round runs one fit per side of
`epochs` x `steps` steps, records then memory; the first epoch of each fit
(iterator start, shuffle buffer fill) is reported separately and left out.
The ratio is of each side's fastest steady epoch: on a machine shared with
other jobs the fastest of many short epochs is the least disturbed estimate
(as `timeit` advises); the median over rounds of each round's ratio is kept
beside it. `input_cost` times the input alone (reading the GZIP records,
parsing them, the whole input pipeline) in CPU ms per batch, to show what
the records side takes away from training on a machine with few cores; CPU
per step of both sides is also taken over the steady epochs only (the first
epoch of a fit refills the 1024-example shuffle buffer: about a third of the
train split parsed before the first step).
"""

import argparse
import statistics
import time

from benchmarks import commands


def _epoch_timer():
    import tf_keras as keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []
            self.cpu_seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()
            self.cpu_started = time.process_time()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.started)
            self.cpu_seconds.append(time.process_time() - self.cpu_started)

    return EpochTimer()


def input_cost(info, records, batch_size, batches=100):
    """CPU and wall ms per batch of the input alone (no training): what it takes from training.

    read: the GZIP shards' records; parse: + parsing and dequantising; full:
    the trainer's whole input pipeline. Videos per batch = batch / questions per video.
    """
    import tensorflow as tf

    from features import records as records_lib
    from model import data

    files = data.record_files(info.data_dir, "train")
    videos = data.read_videos(files, info.feature_dtype)
    questions_per_video = (data.count_examples(info.data_dir, "train")
                           / max(int(videos.reduce(0, lambda count, _: count + 1)), 1))
    videos_per_batch = max(1, round(batch_size / questions_per_video))
    read = tf.data.Dataset.from_tensor_slices(files).interleave(
        lambda path: tf.data.TFRecordDataset(path, compression_type="GZIP"), cycle_length=1)
    parsed = read.map(lambda serialized: records_lib.parse_video_example(serialized, info.feature_dtype))
    costs = {"videos_per_batch": videos_per_batch, "questions_per_video": questions_per_video}
    for name, dataset in (("read", read.repeat().batch(videos_per_batch)),
                          ("read_and_parse", parsed.repeat().batch(videos_per_batch)),
                          ("full", records)):
        iterator = iter(dataset)
        for _ in range(5):
            next(iterator)
        cpu_started, started = time.process_time(), time.perf_counter()
        for _ in range(batches):
            next(iterator)
        costs[name] = {"cpu_ms_per_batch": 1000 * (time.process_time() - cpu_started) / batches,
                       "wall_ms_per_batch": 1000 * (time.perf_counter() - started) / batches}
    return costs


def measure(data_dir, batch_size, steps, epochs, rounds, cache_input="auto", seed=0):
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    from model import config as config_lib
    from model import data_info as data_info_lib
    from model import data, network, train

    keras.utils.set_random_seed(seed)
    info = data_info_lib.load_data_info(data_dir)
    training_config = config_lib.TrainingConfig(batch_size=batch_size, seed=seed)
    cache, cache_note = train.input_cache_decision(info, cache_input)
    records, steps_per_epoch, _, train_examples = train.make_datasets(info, training_config, seed, cache)
    model = network.compile_model(network.build_from_data_info(config_lib.NetworkConfig(), info),
                                  training_config.learning_rate)

    taken = list(records.take(steps).as_numpy_iterator())
    inputs = {key: np.stack([batch[0][key] for batch in taken]) for key in taken[0][0]}
    labels = np.stack([batch[1] for batch in taken])
    memory = tf.data.Dataset.from_tensor_slices((inputs, labels)).repeat().prefetch(tf.data.AUTOTUNE)
    model.fit(records, epochs=1, steps_per_epoch=2, verbose=0)  # Trace the train step once.

    sides = {"records": records, "memory": memory}
    timings = {name: {"first_epoch_seconds": [], "steady_epoch_seconds": [], "steady_cpu_seconds": []}
               for name in sides}
    round_ratios = []
    for _ in range(rounds):
        steady = {}
        for name, dataset in sides.items():
            timer = _epoch_timer()
            model.fit(dataset, epochs=epochs, steps_per_epoch=steps, verbose=0, callbacks=[timer])
            timings[name]["first_epoch_seconds"].append(timer.seconds[0])
            timings[name]["steady_epoch_seconds"].extend(timer.seconds[1:])
            timings[name]["steady_cpu_seconds"].extend(timer.cpu_seconds[1:])
            steady[name] = statistics.mean(timer.seconds[1:])
        round_ratios.append(steady["memory"] / steady["records"])
    result = {"batch_size": batch_size, "steps_per_measured_epoch": steps, "epochs_per_fit": epochs,
              "rounds": rounds, "train_examples": train_examples, "cache_input": cache_input,
              "cache": cache, "cache_note": cache_note, "cache_auto_max_bytes": data.CACHE_AUTO_MAX_BYTES,
              "cache_bytes": train.input_cache_bytes(info),
              "trainer_steps_per_epoch": steps_per_epoch,
              "shuffle_buffer": training_config.shuffle_buffer, "model": model.name,
              "round_ratios": round_ratios}
    for name in sides:
        steady = statistics.median(timings[name]["steady_epoch_seconds"])
        fastest = min(timings[name]["steady_epoch_seconds"])
        cpu_total = sum(timings[name]["steady_cpu_seconds"])
        wall_total = sum(timings[name]["steady_epoch_seconds"])
        result[name] = dict(timings[name], median_steady_epoch_seconds=steady,
                            examples_per_second=steps * batch_size / steady,
                            best_examples_per_second=steps * batch_size / fastest,
                            cpu_cores_busy=cpu_total / wall_total,
                            cpu_ms_per_step=1000 * cpu_total
                            / (len(timings[name]["steady_cpu_seconds"]) * steps))
    result["input_cost"] = input_cost(info, records, batch_size)
    result["ratio"] = (result["records"]["best_examples_per_second"]
                       / result["memory"]["best_examples_per_second"])
    result["ratio_median_of_rounds"] = statistics.median(round_ratios)
    return result


def run(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.training_input",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--json_out", required=True)
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10, help="steps per measured epoch")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per fit (the first is not steady)")
    parser.add_argument("--rounds", type=int, default=6, help="alternating fits per side")
    parser.add_argument("--cache_input", default="auto", help="as model.train's --cache_input")
    args = parser.parse_args(argv)
    result = measure(args.data_dir, args.batch_size, args.steps, args.epochs, args.rounds, args.cache_input)
    commands.write_result(args.json_out, result)
    return result


if __name__ == "__main__":
    run()
