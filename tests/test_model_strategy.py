"""Strategy choice from --strategy, TF_CONFIG and the devices; chief and worker roles."""

import json

import pytest
import tensorflow as tf

from model import strategy

TWO_WORKERS = {"cluster": {"worker": ["localhost:1111", "localhost:2222"]},
               "task": {"type": "worker", "index": 1}}
VERTEX_STYLE = {"cluster": {"chief": ["host0:2222"], "worker": ["host1:2222", "host2:2222"]},
                "task": {"type": "chief", "index": 0}}


@pytest.mark.parametrize("name, tf_config, num_gpus, expected", [
    ("auto", {}, 0, strategy.DEFAULT_STRATEGY),
    ("auto", {}, 1, strategy.DEFAULT_STRATEGY),
    ("auto", {}, 4, strategy.MIRRORED),
    ("auto", TWO_WORKERS, 0, strategy.MULTI_WORKER),
    ("auto", VERTEX_STYLE, 8, strategy.MULTI_WORKER),
    ("auto", {"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 0}}, 0,
     strategy.DEFAULT_STRATEGY),
    ("one_device", {}, 4, strategy.DEFAULT_STRATEGY),
    ("mirrored", {}, 0, strategy.MIRRORED),
    ("multi_worker", {}, 0, strategy.MULTI_WORKER),
    ("tpu", {}, 0, strategy.TPU),
])
def test_choose_strategy(name, tf_config, num_gpus, expected):
    assert strategy.choose_strategy(name, tf_config, num_gpus) == expected


def test_one_device_refuses_a_cluster_and_unknown_names_are_refused():
    with pytest.raises(ValueError, match="multi_worker"):
        strategy.choose_strategy("one_device", TWO_WORKERS, 0)
    with pytest.raises(ValueError, match="--strategy"):
        strategy.choose_strategy("parameter_server", {}, 0)


def test_task_roles():
    assert strategy.task_role({}) == ("chief", 0, True)
    assert strategy.task_role(TWO_WORKERS) == ("worker", 1, False)
    assert strategy.task_role(dict(TWO_WORKERS, task={"type": "worker", "index": 0}))[2] is True
    assert strategy.task_role(VERTEX_STYLE) == ("chief", 0, True)
    assert strategy.task_role(dict(VERTEX_STYLE, task={"type": "worker", "index": 0}))[2] is False
    with pytest.raises(ValueError, match="evaluator"):
        strategy.task_role(dict(TWO_WORKERS, task={"type": "evaluator", "index": 0}))


def test_tf_config_is_read_from_the_environment():
    assert strategy.parse_tf_config({}) == {}
    assert strategy.parse_tf_config({"TF_CONFIG": json.dumps(TWO_WORKERS)}) == TWO_WORKERS
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        strategy.parse_tf_config({"TF_CONFIG": "{cluster"})


def test_default_strategy_on_one_cpu_and_mirrored_when_asked():
    assert strategy.get_distribution_strategy("auto", environment={}) is tf.distribute.get_strategy()
    mirrored = strategy.get_distribution_strategy("mirrored", environment={})
    assert isinstance(mirrored, tf.distribute.MirroredStrategy)
    assert mirrored.num_replicas_in_sync >= 1
    assert strategy.mixed_precision_policy(tf.distribute.get_strategy()) in (None, "mixed_float16")


def test_tpu_without_a_tpu_is_a_clear_error():
    with pytest.raises(ValueError, match="--strategy tpu: cannot connect"):
        strategy.get_distribution_strategy("tpu", tpu_address="", environment={})


def test_only_the_chief_writes_into_the_model_dir(tmp_path):
    assert strategy.worker_write_dir(str(tmp_path), True, 0) == str(tmp_path)
    other = strategy.worker_write_dir(str(tmp_path), False, 1)
    assert other.startswith(str(tmp_path)) and other != str(tmp_path)
