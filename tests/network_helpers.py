"""Shared by tests/test_model_network.py and tests/test_model_encoders.py: tiny models and padded batches.

Models are tiny (feature_dim 16, 8 units) so that every encoder and task can
be built in a few seconds; `MODELS` builds each (encoder, task) once per
session and the test modules share it (tests only call these models; a test
that trains or loads weights builds its own).
"""

import numpy as np

from features import schema
from model import config, network

FEATURE_DIM = 16
VOCABULARY_INPUT_DIM = 20
NUM_ANSWERS = 6
NUM_CANDIDATES = 4
MAX_FRAMES = 8          # the "data's" most frames per clip: the transformer's position table
FRAME_COUNTS = (5, 3, 8, 1)
TOKEN_COUNTS = (4, 2, 6, 1)
TIGHT_FRAMES, TIGHT_TOKENS = MAX_FRAMES, max(TOKEN_COUNTS)
PADDED_FRAMES, PADDED_TOKENS = 20, 15


def small_config(encoder, **overrides):
    sizes = dict(video_encoder=encoder, embedding_dim=8, question_units=8, video_units=8, hidden_units=8,
                 dropout=0.0, transformer_layers=2, transformer_heads=2, transformer_width=8)
    sizes.update(overrides)
    return config.NetworkConfig(**sizes)


def small_model(encoder, task=schema.TASK_OPEN_ENDED, seed=0, max_frames=MAX_FRAMES, num_answers=NUM_ANSWERS,
                identity_statistics=False, **overrides):
    """A tiny uncompiled model with seeded weights and (random, or 0/1) feature statistics."""
    import tf_keras as keras
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    mean, stddev = rng.normal(size=FEATURE_DIM), rng.uniform(0.5, 2.0, size=FEATURE_DIM)
    if identity_statistics:
        mean, stddev = np.zeros(FEATURE_DIM), np.ones(FEATURE_DIM)
    return network.build_model(small_config(encoder, **overrides), task, FEATURE_DIM, VOCABULARY_INPUT_DIM,
                               num_answers, mean, stddev, max_frames=max_frames)


class ModelCache:
    """small_model(encoder, task) built once per (encoder, task): call them, do not train them."""

    def __init__(self):
        self.models = {}

    def get(self, encoder, task=schema.TASK_OPEN_ENDED):
        if (encoder, task) not in self.models:
            self.models[(encoder, task)] = small_model(encoder, task)
        return self.models[(encoder, task)]


MODELS = ModelCache()


def _pad(rows, padded):
    for index, row in enumerate(rows):
        padded[index, :len(row)] = row
    return padded


def make_inputs(batch, frame_length, token_length, fill_frames=np.zeros):
    """Pad a ragged batch (see `example_batch`); padded frames get `fill_frames(shape)`, padded tokens 0."""
    frames, tokens, candidates = batch
    size = len(frames)
    inputs = {
        schema.FRAME_FEATURES_KEY: _pad(frames, fill_frames((size, frame_length, FEATURE_DIM)).astype(np.float32)),
        schema.NUM_FRAMES_KEY: np.array([len(video) for video in frames], np.int32),
        schema.QUESTION_TOKEN_IDS_KEY: _pad(tokens, np.zeros((size, token_length), np.int32)),
    }
    if candidates is not None:
        padded = np.zeros((size, NUM_CANDIDATES, token_length), np.int32)
        for index, question_candidates in enumerate(candidates):
            for choice, candidate in enumerate(question_candidates):
                padded[index, choice, :len(candidate)] = candidate
        inputs[schema.CANDIDATE_TOKEN_IDS_KEY] = padded
    return inputs


def example_batch(rng, task=schema.TASK_OPEN_ENDED):
    """(frames, tokens, candidates or None): 4 ragged questions of FRAME_COUNTS frames."""
    frames = [rng.normal(size=(count, FEATURE_DIM)).astype(np.float32) for count in FRAME_COUNTS]
    tokens = [rng.integers(1, VOCABULARY_INPUT_DIM, size=count) for count in TOKEN_COUNTS]
    candidates = None
    if task == schema.TASK_MULTIPLE_CHOICE:
        candidates = [[rng.integers(1, VOCABULARY_INPUT_DIM, size=rng.integers(1, TIGHT_TOKENS + 1))
                       for _ in range(NUM_CANDIDATES)] for _ in FRAME_COUNTS]
    return frames, tokens, candidates


def with_frames(batch, frames):
    return (frames,) + tuple(batch[1:])


_serving_models = {}


def run_model(model, inputs):
    """(answer output, frame weights or None) as numpy, through `network.serving_model`."""
    if id(model) not in _serving_models:
        _serving_models[id(model)] = (model, network.serving_model(model))  # Keeps `model` alive.
    outputs = _serving_models[id(model)][1](inputs, training=False)
    if isinstance(outputs, dict):
        return (outputs[network.ANSWER_OUTPUT].numpy(), outputs[network.VIDEO_WEIGHTS_OUTPUT].numpy())
    return outputs.numpy(), None
