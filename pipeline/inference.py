"""A Beam RunInference model handler for the frozen InceptionV3.

Beam's stock `TFModelHandlerNumpy` loads Keras models through `tensorflow_hub`
and breaks on Keras 3 SavedModels (apache/beam#30616); ours builds the CNN
from `features.cnn` directly. RunInference loads it once per worker process
(`shared.Shared`) and shares it across that process's threads; `large_model`
switches to one model server process per machine.

Elements are `(key, frame)` pairs, frame uint8 [size, size, 3]; frames of many
videos are batched together (bounded by `batch_size`, unlike RunInference's
unbounded default) and each yields `(key, features)` with float32 [2048].
"""

import numpy as np
from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler

from features import cnn
from pipeline import progress


class FrozenCnnModelHandler(ModelHandler):
    """Loads `features.cnn.FrozenCnn`; one batched call per batch of frames."""

    def __init__(self, weights, image_size, batch_size, large_model=False):
        if batch_size <= 0:
            raise ValueError(f"--inference_batch_size must be positive, got {batch_size}")
        super().__init__(min_batch_size=batch_size, max_batch_size=batch_size,
                         large_model=large_model)
        self.weights = weights
        self.image_size = image_size

    def load_model(self):
        return cnn.FrozenCnn(self.weights, self.image_size)

    def run_inference(self, batch, model, inference_args=None):
        features = model.embed(np.stack(batch))
        progress.add(progress.FRAMES_EMBEDDED, len(batch))
        return list(features)

    def get_num_bytes(self, batch):
        return sum(frame.nbytes for frame in batch)

    def get_metrics_namespace(self):
        return "FrozenInceptionV3"


def keyed_frozen_cnn_handler(weights, image_size, batch_size, large_model=False):
    """Handler for `(key, frame)` elements, keeping the key with each result."""
    return KeyedModelHandler(FrozenCnnModelHandler(weights, image_size, batch_size, large_model))
