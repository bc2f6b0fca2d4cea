"""Which tf.distribute strategy to train with, and this process's role in it.

`get_distribution_strategy(name)` is the one place a strategy is chosen:

  auto          TF_CONFIG naming several tasks -> MultiWorkerMirroredStrategy;
                else several local GPUs -> MirroredStrategy;
                else the default strategy (the default device: one GPU or the CPU)
  one_device    the default strategy (one CPU or GPU)
  mirrored      MirroredStrategy over the local GPUs (or the CPU)
  multi_worker  MultiWorkerMirroredStrategy (cluster from TF_CONFIG)
  tpu           TPUStrategy on --tpu (a name or grpc:// address; '' = local TPU)

The default strategy is used for one device because Keras's BackupAndRestore
does not support OneDeviceStrategy. A MultiWorkerMirroredStrategy must be
created before any other TensorFlow work in the process, so call this first.
The batch size a model is trained with is global: the strategy splits each
batch across its replicas.
"""

import json
import os

import tensorflow as tf

from model import storage

STRATEGY_CHOICES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")
DEFAULT_STRATEGY = "default"
MIRRORED = "mirrored"
MULTI_WORKER = "multi_worker"
TPU = "tpu"
TRAINING_TASK_TYPES = ("chief", "worker")


def parse_tf_config(environment=None):
    """TF_CONFIG as a dict ({} when unset); ValueError if it is not valid JSON."""
    environment = os.environ if environment is None else environment
    text = environment.get("TF_CONFIG", "")
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error}): {text[:200]!r}") from None


def cluster_size(tf_config):
    """Number of training tasks (chief + workers) TF_CONFIG names."""
    cluster = tf_config.get("cluster", {})
    return sum(len(cluster.get(task_type, [])) for task_type in TRAINING_TASK_TYPES)


def choose_strategy(name, tf_config, num_gpus):
    """The strategy kind for a requested `name`: default | mirrored | multi_worker | tpu."""
    if name not in STRATEGY_CHOICES:
        raise ValueError(f"--strategy {name!r}: choose one of {', '.join(STRATEGY_CHOICES)}")
    if name == "tpu":
        return TPU
    if name == "multi_worker":
        return MULTI_WORKER
    if name == "mirrored":
        return MIRRORED
    if name == "one_device":
        if cluster_size(tf_config) > 1:
            raise ValueError("--strategy one_device cannot run a cluster: TF_CONFIG names "
                             f"{cluster_size(tf_config)} tasks; use --strategy multi_worker or auto")
        return DEFAULT_STRATEGY
    if cluster_size(tf_config) > 1:
        return MULTI_WORKER
    if num_gpus > 1:
        return MIRRORED
    return DEFAULT_STRATEGY


def task_role(tf_config):
    """(task_type, task_index, is_chief) of this process from TF_CONFIG."""
    task = tf_config.get("task", {})
    task_type, task_index = task.get("type"), int(task.get("index", 0))
    if not task_type:
        return "chief", 0, True
    if task_type not in TRAINING_TASK_TYPES:
        raise ValueError(f"TF_CONFIG task type {task_type!r} is not supported; "
                         f"use {' or '.join(TRAINING_TASK_TYPES)}")
    has_chief = bool(tf_config.get("cluster", {}).get("chief"))
    is_chief = task_type == "chief" or (not has_chief and task_type == "worker" and task_index == 0)
    return task_type, task_index, is_chief


def _tpu_strategy(tpu_address):
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu_address or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.OpError, RuntimeError) as error:
        raise ValueError(f"--strategy tpu: cannot connect to a TPU at {tpu_address or '(local)'!r} "
                         f"({error}); pass --tpu NAME_OR_GRPC_ADDRESS on a TPU VM, or choose "
                         f"another --strategy") from None
    return tf.distribute.TPUStrategy(resolver)


def get_distribution_strategy(name="auto", tpu_address="", environment=None):
    """The tf.distribute strategy for `name` (see the module docstring)."""
    tf_config = parse_tf_config(environment)
    kind = choose_strategy(name, tf_config, len(tf.config.list_physical_devices("GPU")))
    if kind == TPU:
        return _tpu_strategy(tpu_address)
    if kind == MULTI_WORKER:
        return tf.distribute.MultiWorkerMirroredStrategy()
    if kind == MIRRORED:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def describe(strategy):
    """One line for logs: the strategy class and its replica count."""
    return f"{type(strategy).__name__} with {strategy.num_replicas_in_sync} replica(s)"


def mixed_precision_policy(strategy):
    """'mixed_float16' on GPUs, 'mixed_bfloat16' on TPUs, else None (float32)."""
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return "mixed_bfloat16"
    if tf.config.list_physical_devices("GPU"):
        return "mixed_float16"
    return None


def wait_for_all_workers(strategy):
    """Block until every worker of a multi-worker strategy gets here (no-op otherwise).

    Used at the end of training, so no worker exits while the chief still works
    (the cluster's coordination service reports an exited worker as crashed).
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return
    ones = strategy.run(lambda: tf.constant(1.0))
    strategy.reduce(tf.distribute.ReduceOp.SUM, ones, axis=None).numpy()


def worker_write_dir(directory, is_chief, task_index):
    """Where this worker writes files meant for `directory`: the chief writes there,
    other workers into a temporary subdirectory the caller removes afterwards."""
    if is_chief:
        return directory
    return storage.join(directory, f"{storage.WORKER_TEMP_PREFIX}{task_index}")
