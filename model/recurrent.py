"""LSTM layers that trace one implementation, the one the machine runs.

A tf_keras LSTM traces a cuDNN and a generic implementation behind one
function, and the gradients of both, so that Grappler can pick the cuDNN
kernel when the layer lands on a GPU. Without a GPU only the generic loop
ever runs, yet the pair is still traced: on this project's 2-core test
machine that was 40% of a small training's time (an attention model, 2
epochs: 26-29 s with the pair, 14-18 s with the generic loop alone; same
losses), and in an export a third of the functions stored.

  lstm(units, **kwargs)        a `keras.layers.LSTM`; on a machine with no GPU it runs its generic loop only
  bidirectional(layer, **kw)   `keras.layers.Bidirectional` whose backward copy does the same
  use_generic_loops(layer)     every LSTM in a layer or built model runs its generic loop, GPU
                               or not (the export serves answers only, on whatever device it is loaded)

The generic loop computes the same values with the same variables, so a
model trained on GPUs loads, trains on and exports from a CPU machine and
back. tf_keras has no public switch for this: `_could_use_gpu_kernel` is the
flag its LSTM sets when built and reads each time it is called (tf_keras
2.21, pinned in setup.py; tests/test_model_export.py and
tests/test_model_network.py fail if the pair comes back).
"""

import tensorflow as tf
import tf_keras as keras

_FUSED_PAIR_FLAG = "_could_use_gpu_kernel"


def gpu_visible():
    """Whether TensorFlow sees a GPU in this process (the fused pair is only worth tracing then)."""
    return bool(tf.config.list_logical_devices("GPU"))


def use_generic_loops(layer):
    """Let each LSTM in `layer` (a layer, a wrapper or a built model) run its generic loop, whatever the machine."""
    for module in (layer, *layer.submodules):
        if isinstance(module, keras.layers.LSTM) and hasattr(module, _FUSED_PAIR_FLAG):
            setattr(module, _FUSED_PAIR_FLAG, False)
    return layer


def _for_this_machine(layer):
    return layer if gpu_visible() else use_generic_loops(layer)


def lstm(units, **kwargs):
    """`keras.layers.LSTM(units, **kwargs)`, tracing its generic loop only when no GPU is visible."""
    return _for_this_machine(keras.layers.LSTM(units, **kwargs))


def bidirectional(layer, **kwargs):
    """`keras.layers.Bidirectional(layer, **kwargs)`; its copies of `layer` follow the same choice.

    Bidirectional builds its forward and backward LSTMs from `layer`'s config,
    which does not carry the flag.
    """
    return _for_this_machine(keras.layers.Bidirectional(layer, **kwargs))
