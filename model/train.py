"""Train the VideoQA model on a pipeline output dir.

    python -m model.train --data_dir OUT --model_dir M [--epochs N] [--batch_size B]
        [--video_encoder lstm|mean|attention|transformer|none]
        [--transformer_layers 2 --transformer_heads 4 --transformer_width 128]
        [--strategy auto|one_device|mirrored|multi_worker|tpu]

The model is built and compiled inside `strategy.scope()`; --batch_size is
global. Every epoch writes a checkpoint (M/checkpoints/) and a
BackupAndRestore backup (M/backup/), so a killed run started again with the
same command resumes at the last finished epoch; M/config.json records the
configuration and a different one is refused. The best epoch on the
validation split is kept as M/best.weights.h5, metrics go to M/history.json
and TensorBoard logs to M/logs. At the end the chief writes
M/final.weights.h5 and the serving export (M/export); other workers write to
temporary directories that are removed.
"""

if __name__ == "__main__":
    import sys as _sys

    from features import console as _console
    _console.quiet_tensorflow_startup(_sys.argv[1:])

import importlib.util
import sys
import time

import tf_keras as keras

from features import cli, schema, serving
from features import manifest as manifest_lib
from model import callbacks as callbacks_lib
from model import config as config_lib
from model import data, encoders, network, storage
from model import strategy as strategy_lib


PROGRESS_VERBOSITY = {"bar": 1, "epoch": 2, "none": 0}  # --progress -> Keras fit's verbose


def build_parser():
    network_defaults, training_defaults = config_lib.NetworkConfig(), config_lib.TrainingConfig()
    parser = cli.StrictArgumentParser(prog="python -m model.train", description="Train the VideoQA model.")
    add = parser.add_argument
    add("--data_dir", required=True, help="output dir of `python -m pipeline.run`")
    add("--model_dir", required=True, help="where checkpoints, logs and the model go")
    add("--epochs", type=int, default=training_defaults.epochs, help="passes over the training split")
    add("--batch_size", type=int, default=training_defaults.batch_size,
        help="global batch size (split across replicas)")
    add("--learning_rate", type=float, default=training_defaults.learning_rate, help="Adam learning rate")
    add("--shuffle_buffer", type=int, default=training_defaults.shuffle_buffer,
        help="examples in the shuffle buffer")
    add("--seed", type=int, default=training_defaults.seed,
        help="seed for initialisation, shuffling and dropout")
    add("--video_encoder", choices=tuple(encoders.VIDEO_ENCODERS), default=network_defaults.video_encoder,
        help="lstm: order-aware; mean: bag of frames; attention: the question attends over "
             "bidirectional LSTM states; transformer: self-attention with learned positions; "
             "none: question only")
    add("--embedding_dim", type=int, default=network_defaults.embedding_dim,
        help="question token embedding size")
    add("--question_units", type=int, default=network_defaults.question_units, help="question LSTM size")
    add("--video_units", type=int, default=network_defaults.video_units,
        help="size of the video vector (the LSTM, or the Dense after the mean, attention or transformer); "
             "attention's bidirectional LSTM has half of it per direction")
    add("--hidden_units", type=int, default=network_defaults.hidden_units, help="hidden Dense layer size")
    add("--dropout", type=float, default=network_defaults.dropout,
        help="dropout before the answer layer (and inside the transformer)")
    add("--transformer_layers", type=int, default=network_defaults.transformer_layers,
        help="--video_encoder transformer: number of self-attention blocks")
    add("--transformer_heads", type=int, default=network_defaults.transformer_heads,
        help="--video_encoder transformer: attention heads per block (must divide --transformer_width)")
    add("--transformer_width", type=int, default=network_defaults.transformer_width,
        help="--video_encoder transformer: width of the frame tokens (frames are projected to it)")
    add("--transformer_max_frames", type=int, default=network_defaults.transformer_max_frames,
        help="--video_encoder transformer: learned frame positions; 0: the data's most frames per clip")
    add("--strategy", choices=strategy_lib.STRATEGY_CHOICES, default="auto",
        help="tf.distribute strategy (auto: from TF_CONFIG and the local GPUs)")
    add("--tpu", default="", help="TPU name or grpc:// address for --strategy tpu")
    add("--cache_input", choices=data.CACHE_CHOICES, default=data.CACHE_AUTO,
        help="keep the parsed train/validation videos in memory after the first epoch: auto does "
             f"when their features fit {data.CACHE_AUTO_MAX_BYTES // 2**30} GiB (float32)")
    add("--no_export", action="store_true",
        help="skip writing M/export at the end (run `python -m model.export` later)")
    add("--top_k", type=int, default=None, help="answers per question in the export (default: model.export's)")
    add("--progress", choices=tuple(PROGRESS_VERBOSITY), default=None,
        help="Keras progress: bar, one line per epoch, or none (default: bar on a terminal, else epoch)")
    cli.add_verbose_flag(parser)
    return parser


def configs_from_args(args):
    network_config = config_lib.NetworkConfig(
        video_encoder=args.video_encoder, embedding_dim=args.embedding_dim,
        question_units=args.question_units, video_units=args.video_units,
        hidden_units=args.hidden_units, dropout=args.dropout,
        transformer_layers=args.transformer_layers, transformer_heads=args.transformer_heads,
        transformer_width=args.transformer_width, transformer_max_frames=args.transformer_max_frames)
    training_config = config_lib.TrainingConfig(
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
        shuffle_buffer=args.shuffle_buffer, seed=args.seed)
    return network_config, training_config


def input_cache_bytes(data_info):
    """Memory the train and validation splits' padded features would take in the input cache."""
    counts = data_info.manifest[manifest_lib.MANIFEST_COUNTS]
    videos = sum(counts[split]["videos"] for split in (schema.TRAIN_SPLIT, schema.VALIDATION_SPLIT))
    return data.cached_bytes(videos, data_info.max_frames, data_info.feature_dim)


def input_cache_decision(data_info, cache_input):
    """(cache or not, why): --cache_input, and for auto the splits' features against the budget."""
    cached_bytes = input_cache_bytes(data_info)
    cache = data.should_cache(cache_input, cached_bytes)
    size = f"{cached_bytes / 2**20:,.0f} MiB of features"
    if cache_input == data.CACHE_AUTO:
        budget = f"{data.CACHE_AUTO_MAX_BYTES / 2**30:g} GiB"
        return cache, (f"input cache: on ({size}, within --cache_input auto's {budget})" if cache else
                       f"input cache: off ({size}, over --cache_input auto's {budget}: records are read "
                       f"every epoch)")
    return cache, f"input cache: {'on' if cache else 'off'} (--cache_input {cache_input}; {size})"


def make_datasets(data_info, training_config, seed, cache=False):
    """(train dataset, steps per epoch, validation dataset or None, train example count)."""
    train_examples = data.count_examples(data_info.data_dir, schema.TRAIN_SPLIT, in_vocabulary_only=True)
    if train_examples < training_config.batch_size:
        raise ValueError(
            f"{data_info.data_dir} has {train_examples} training questions with a known answer, "
            f"fewer than one batch (--batch_size {training_config.batch_size}); lower --batch_size")
    common = dict(spec=data.InputSpec.from_data_info(data_info), batch_size=training_config.batch_size, cache=cache)
    train = data.make_dataset(data_info.data_dir, schema.TRAIN_SPLIT, training=True, repeat=True,
                              shuffle_buffer=training_config.shuffle_buffer,
                              seed=seed, **common)
    steps_per_epoch = train_examples // training_config.batch_size
    validation = None
    if data.has_records(data_info.data_dir, schema.VALIDATION_SPLIT):
        validation = data.make_dataset(data_info.data_dir, schema.VALIDATION_SPLIT, **common)
    return train, steps_per_epoch, validation, train_examples


def build_callbacks(model_dir, training_config, monitor, is_chief, task_index, monitor_mode="max"):
    """The ordered callbacks.

    Throughput comes first (it adds to the logs the others record) and the
    backup last: once an epoch's backup exists, its history entry, best weights
    and checkpoint exist too, so a resumed run never misses an epoch.
    """
    checkpoint_pattern = storage.join(model_dir, storage.CHECKPOINTS_DIR, storage.EPOCH_WEIGHTS_PATTERN)
    callbacks = [
        callbacks_lib.Throughput(training_config.batch_size),
        callbacks_lib.HistoryRecorder(model_dir, is_chief),
        callbacks_lib.BestWeights(model_dir, monitor, is_chief, task_index, monitor_mode),
        keras.callbacks.ModelCheckpoint(checkpoint_pattern, save_weights_only=True),
        keras.callbacks.BackupAndRestore(storage.join(model_dir, storage.BACKUP_DIR)),
    ]
    if importlib.util.find_spec("tensorboard") is None:
        print("warning: the tensorboard package is not installed, so no TensorBoard logs are "
              "written (pip install tensorboard)", file=sys.stderr)
    else:
        callbacks.append(keras.callbacks.TensorBoard(storage.join(model_dir, storage.LOGS_DIR),
                                                     profile_batch=0))
    return callbacks


def save_final_weights(model, model_dir, is_chief, task_index):
    """The chief writes M/final.weights.h5; another worker writes to a temp dir and removes it."""
    directory = strategy_lib.worker_write_dir(model_dir, is_chief, task_index)
    storage.save_weights(model, storage.join(directory, storage.FINAL_WEIGHTS_FILE))
    if not is_chief:
        storage.remove_tree(directory)


def train(args):
    """Train as `args` asks; returns a summary dict."""
    tf_config = strategy_lib.parse_tf_config()
    # A multi-worker strategy must exist before any other TensorFlow work.
    distribution = strategy_lib.get_distribution_strategy(args.strategy, args.tpu)
    _, task_index, is_chief = strategy_lib.task_role(tf_config)
    from model import data_info as data_info_lib  # Imports tf.Transform: after the strategy.

    network_config, training_config = configs_from_args(args)
    data_info = data_info_lib.load_data_info(args.data_dir)
    run_config = config_lib.RunConfig(network_config, training_config, data_info.signature)
    resuming = config_lib.check_resume(args.model_dir, run_config)
    if resuming and callbacks_lib.read_history(args.model_dir).get("completed"):
        print(f"{args.model_dir} already holds a finished run of this configuration: nothing to "
              f"do (use a new --model_dir to train again)")
        return {"already_completed": True}
    backup = callbacks_lib.verify_backup(storage.join(args.model_dir, storage.BACKUP_DIR))
    done_epochs = callbacks_lib.completed_epochs(backup)
    if done_epochs:
        print(f"resuming {args.model_dir} after epoch {done_epochs} (backup checkpoint {backup})")
    if is_chief and not resuming:
        config_lib.save_run_config(args.model_dir, run_config)

    # A resumed run continues with fresh shuffles and dropout masks, not a replay of epoch 1's.
    seed = training_config.seed + done_epochs
    keras.utils.set_random_seed(seed)
    policy = strategy_lib.mixed_precision_policy(distribution)
    if policy:
        keras.mixed_precision.set_global_policy(policy)
    cache, cache_note = input_cache_decision(data_info, args.cache_input)
    train_dataset, steps_per_epoch, validation, train_examples = make_datasets(
        data_info, training_config, seed, cache)
    with distribution.scope():
        model = network.compile_model(network.build_from_data_info(network_config, data_info),
                                      data_info.task, training_config.learning_rate)
    monitor, monitor_mode = network.monitored_metric(model, data_info.task, validation is not None)
    print(f"training {model.name} ({model.count_params():,} parameters) with "
          f"{strategy_lib.describe(distribution)}{', ' + policy if policy else ''}: "
          f"{train_examples} training questions, {steps_per_epoch} steps of {training_config.batch_size} "
          f"per epoch, best model by {monitor}; {cache_note}", flush=True)
    verbose = PROGRESS_VERBOSITY[args.progress or ("bar" if sys.stdout.isatty() else "epoch")]
    started = time.perf_counter()
    history = model.fit(train_dataset, epochs=training_config.epochs, steps_per_epoch=steps_per_epoch,
                        validation_data=validation,
                        callbacks=build_callbacks(args.model_dir, training_config, monitor, is_chief,
                                                  task_index, monitor_mode),
                        verbose=verbose)
    seconds = time.perf_counter() - started
    save_final_weights(model, args.model_dir, is_chief, task_index)
    summary = {"epochs_run": len(history.epoch), "seconds": seconds,
               "examples_per_second": history.history.get("examples_per_second", [None])[-1]}
    try:
        if is_chief:
            summary.update(finish_as_chief(args, data_info))
    finally:
        strategy_lib.wait_for_all_workers(distribution)  # Even if the export failed.
    return summary


def finish_as_chief(args, data_info):
    """Mark the run finished, then export; returns the best epoch and the export dir."""
    callbacks_lib.mark_history_completed(args.model_dir)
    storage.remove_tree(storage.join(args.model_dir, storage.BACKUP_DIR))  # Empty by now.
    best_path = storage.join(args.model_dir, storage.BEST_STATE_FILE)
    result = {"best": storage.read_json(best_path) if storage.exists(best_path) else None}
    if args.no_export:
        return result
    from model import export
    top_k = args.top_k if args.top_k is not None else serving.DEFAULT_TOP_K
    try:
        result["export_dir"] = export.export_model(args.model_dir, data_info, top_k)
    except ValueError as error:
        raise ValueError(
            f"training finished (weights in {args.model_dir}) but the export failed: {error} -- "
            f"once fixed, run `python -m model.export --model_dir {args.model_dir} "
            f"--data_dir {args.data_dir}`") from None
    return result


def run(argv=None):
    args = build_parser().parse_args(argv)
    try:
        summary = train(args)
    except ValueError as error:
        print(f"model.train: error: {error}", file=sys.stderr)
        return 2
    if summary.get("already_completed"):
        return 0
    throughput = summary["examples_per_second"]
    print(f"trained {summary['epochs_run']} epoch(s) in {summary['seconds']:.1f} s"
          + (f", {throughput:.0f} examples/s in the last epoch" if throughput else ""))
    if summary.get("best"):
        best = summary["best"]
        print(f"best epoch {best['epoch']}: {best['monitor']} {best['value']:.4f} -> "
              f"{storage.join(args.model_dir, storage.BEST_WEIGHTS_FILE)}")
    if summary.get("export_dir"):
        print(f"exported {summary['export_dir']}")
    return 0


if __name__ == "__main__":
    sys.exit(run())
