"""A Beam RunInference model handler for the frozen CNN (`--cnn`, see `features.backbones`).

Beam's stock `TFModelHandlerNumpy` loads Keras models through `tensorflow_hub`
and breaks on Keras 3 SavedModels (apache/beam#30616); ours builds the CNN
from `features.cnn` directly. RunInference loads it once per worker process
(`shared.Shared`) and shares it across that process's threads; `large_model`
switches to one model server process per machine.

Elements are `(key, frames)` pairs, frames uint8 [T, size, size, 3]: all
sampled frames of one video. RunInference batches whole videos, weighing
each by its frame count, up to `batch_size` frames per batch (a longer video
makes a batch of its own); the batch's frames go through the CNN in calls of
at most `batch_size` frames, and each video yields `(key, features)` with
float32 [T, feature_dim]. A video's frames therefore stay together from decoding to
the record: nothing is regrouped (no shuffle of features) after the CNN.
"""

import functools

import numpy as np
from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler

from features import backbones, cnn
from pipeline import metrics


def frames_in_element(element, batch_size):
    """The batching weight of a clip: its frame count, within [1, batch_size].

    `KeyedModelHandler` hands the size function the clip's frames (the key
    removed); a `(key, frames)` pair is accepted too. Capped at the batch size
    because Beam's BatchElements emits an empty batch when the first element
    of a batch alone outweighs it.
    """
    frames = element[1] if isinstance(element, tuple) else element
    return min(max(1, len(frames)), batch_size)


class LazyFrozenCnn:
    """The worker's FrozenCnn, built on its first frames: a run whose clips all come from the
    feature cache never builds it (RunInference loads its model when the worker starts)."""

    def __init__(self, backbone, weights, image_size):
        self.arguments = (backbone, weights, image_size)
        self.feature_dim = backbones.get_backbone(backbone).feature_dim
        self._model = None

    def embed(self, frames):
        if self._model is None:
            self._model = cnn.shared_frozen_cnn(*self.arguments)
        return self._model.embed(frames)


class FrozenCnnModelHandler(ModelHandler):
    """Loads `features.cnn.FrozenCnn`; embeds a batch of videos' frames in batched calls."""

    def __init__(self, backbone, weights, image_size, batch_size, large_model=False):
        if batch_size <= 0:
            raise ValueError(f"--inference_batch_size must be positive, got {batch_size}")
        super().__init__(min_batch_size=batch_size, max_batch_size=batch_size,
                         element_size_fn=functools.partial(frames_in_element, batch_size=batch_size),
                         large_model=large_model)
        self.backbone = backbone
        self.weights = weights
        self.image_size = image_size
        self.batch_size = batch_size

    def load_model(self):
        return LazyFrozenCnn(self.backbone, self.weights, self.image_size)

    def run_inference(self, batch, model, inference_args=None):
        counts = [len(frames) for frames in batch]
        if not sum(counts):
            return [np.zeros((0, model.feature_dim), np.float32) for _ in batch]
        frames = np.concatenate(batch)
        with metrics.timed(metrics.STAGE_EMBED):
            features = np.concatenate([model.embed(frames[start:start + self.batch_size])
                                       for start in range(0, len(frames), self.batch_size)])
        metrics.count(metrics.FRAMES_EMBEDDED, len(frames))
        return np.split(features, np.cumsum(counts)[:-1])

    def get_num_bytes(self, batch):
        return sum(frames.nbytes for frames in batch)

    def get_metrics_namespace(self):
        return f"FrozenCnn_{self.backbone}"


def keyed_frozen_cnn_handler(backbone, weights, image_size, batch_size, large_model=False):
    """Handler for `(key, frames)` elements, keeping the key with each clip's features."""
    return KeyedModelHandler(FrozenCnnModelHandler(backbone, weights, image_size, batch_size, large_model))
