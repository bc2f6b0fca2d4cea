"""The serving SavedModel under M/export/, with signatures that take raw inputs.

  serving_features(question [B] string, frame_features [B, T, 2048] float32,
                   frame_count [B] int32)
      raw (dequantised, un-normalised) frame features, e.g. read from records
  serving_frames(frames [T, H, W, 3] uint8, question [Q] string)
      the sampled frames of one video: resized (`features.cnn.resize_frames`) and
      embedded by the same frozen CNN as the pipeline (`features.cnn.FrozenCnn`
      with the manifest's weights, checked against its sha256), in chunks of at
      most CNN_CHUNK_FRAMES frames (a 16-frame clip costs 16 frames of CNN work)

Both tokenise the questions with the pipeline's tf.Transform graph and return
`answers` [B, K] (strings, best first) and `probabilities` [B, K] float32,
K = min(--top_k, answer vocabulary size). The SavedModel loads with plain
`tf.saved_model.load`; `assets.extra/manifest.json` (the pipeline's manifest)
and `assets.extra/config.json` make the export self-contained for
`model.predict`.

    python -m model.export --model_dir M --data_dir OUT [--top_k 10]
"""

import argparse
import sys
import uuid

import tensorflow as tf

from features import cnn as cnn_lib
from features import manifest as manifest_lib
from features import schema
from model import config as config_lib
from model import data_info as data_info_lib
from model import network, storage

SIGNATURE_FEATURES = "serving_features"
SIGNATURE_FRAMES = "serving_frames"
INPUT_QUESTION = "question"
INPUT_FRAME_FEATURES = "frame_features"
INPUT_FRAME_COUNT = "frame_count"
INPUT_FRAMES = "frames"
OUTPUT_ANSWERS = "answers"
OUTPUT_PROBABILITIES = "probabilities"
DEFAULT_TOP_K = 10
CNN_CHUNK_FRAMES = 32  # Most frames per CNN call inside serving_frames: bounds memory on long clips.


class _Untracked:
    """Holds an object without making it a SavedModel child.

    Saving a Keras model as a child makes tf.saved_model.save trace every layer
    for Keras's own format (about 30 s for InceptionV3); the signatures need
    only the variables, which ServingModule tracks itself.
    """

    def __init__(self, value):
        self.value = value


class ServingModule(tf.Module):
    """The Keras model, the question transform, the answer strings and the frozen CNN."""

    def __init__(self, keras_model, transform_layer, answers, frozen_cnn, top_k):
        super().__init__(name="videoqa_serving")
        self._keras_model = _Untracked(keras_model)
        self._cnn_model = _Untracked(frozen_cnn.model)
        self.model_variables = list(keras_model.variables)
        self.cnn_variables = list(frozen_cnn.model.variables)
        self.transform_layer = transform_layer
        self.answer_strings = tf.constant(list(answers), tf.string)
        self.top_k = int(min(top_k, len(answers)))
        self.image_size = int(frozen_cnn.image_size)

    def question_token_ids(self, question):
        """Question strings [Q] -> int32 token ids [Q, L>=1] through the tf.Transform graph."""
        count = tf.shape(question, out_type=tf.int64)[0]
        rows = tf.range(count, dtype=tf.int64)
        sparse = tf.SparseTensor(indices=tf.stack([rows, tf.zeros_like(rows)], axis=1),
                                 values=question, dense_shape=tf.stack([count, tf.constant(1, tf.int64)]))
        outputs = self.transform_layer({schema.TRANSFORM_INPUT_QUESTION: sparse})
        token_ids = tf.sparse.to_dense(outputs[schema.TRANSFORM_QUESTION_TOKEN_IDS],
                                       default_value=schema.PADDING_TOKEN_ID)
        token_ids = tf.reshape(tf.cast(token_ids, tf.int32), [count, -1])
        padding = tf.maximum(1 - tf.shape(token_ids)[1], 0)  # At least one (padding) column.
        return tf.pad(token_ids, [[0, 0], [0, padding]])

    def answer(self, question, frame_features, frame_count):
        inputs = {schema.FRAME_FEATURES_KEY: frame_features,
                  schema.NUM_FRAMES_KEY: tf.cast(frame_count, tf.int32),
                  schema.QUESTION_TOKEN_IDS_KEY: self.question_token_ids(question)}
        probabilities = tf.cast(self._keras_model.value(inputs, training=False), tf.float32)
        top = tf.math.top_k(probabilities, k=self.top_k)
        return {OUTPUT_ANSWERS: tf.gather(self.answer_strings, top.indices),
                OUTPUT_PROBABILITIES: top.values}

    @tf.function(input_signature=[
        tf.TensorSpec([None], tf.string, name=INPUT_QUESTION),
        tf.TensorSpec([None, None, schema.FEATURE_DIM], tf.float32, name=INPUT_FRAME_FEATURES),
        tf.TensorSpec([None], tf.int32, name=INPUT_FRAME_COUNT)])
    def serving_features(self, question, frame_features, frame_count):
        return self.answer(question, frame_features, frame_count)

    def embed_frames(self, frames):
        """uint8 [T, H, W, 3] -> float32 [T, 2048]: resize as the pipeline, CNN in chunks."""
        shape = tf.shape(frames)
        same_size = tf.logical_and(tf.equal(shape[1], self.image_size), tf.equal(shape[2], self.image_size))
        resized = tf.cond(same_size, lambda: frames,
                          lambda: cnn_lib.resize_frames(frames, self.image_size))
        resized = tf.ensure_shape(resized, [None, self.image_size, self.image_size, 3])
        count = tf.shape(resized)[0]
        chunks = tf.TensorArray(tf.float32, size=0, dynamic_size=True, infer_shape=False,
                                element_shape=tf.TensorShape([None, schema.FEATURE_DIM]))
        for start in tf.range(0, count, CNN_CHUNK_FRAMES):  # The last chunk is not padded.
            chunk = resized[start:start + CNN_CHUNK_FRAMES]
            chunks = chunks.write(chunks.size(), tf.cast(
                self._cnn_model.value(cnn_lib.preprocess(chunk), training=False), tf.float32))
        return tf.reshape(chunks.concat(), [count, schema.FEATURE_DIM])

    @tf.function(input_signature=[
        tf.TensorSpec([None, None, None, 3], tf.uint8, name=INPUT_FRAMES),
        tf.TensorSpec([None], tf.string, name=INPUT_QUESTION)])
    def serving_frames(self, frames, question):
        features = self.embed_frames(frames)
        num_questions = tf.shape(question)[0]
        frame_features = tf.tile(features[tf.newaxis], [num_questions, 1, 1])
        frame_count = tf.fill([num_questions], tf.shape(features)[0])
        return self.answer(question, frame_features, frame_count)


def build_frozen_cnn(manifest):
    """The pipeline's CNN from the manifest, refusing weights whose sha256 differs."""
    cnn_config = manifest_lib.cnn_config(manifest)
    frozen = cnn_lib.FrozenCnn(cnn_config["weights"], int(cnn_config["image_size"]))
    if frozen.checksum != cnn_config["weights_sha256"]:
        raise ValueError(
            f"the CNN weights {cnn_config['weights']!r} give sha256 {frozen.checksum}, but the "
            f"pipeline's manifest records {cnn_config['weights_sha256']}: serving would compute "
            f"different features than training saw. Make the same weights available (same file, "
            f"same Keras version) and export again.")
    return frozen


def weights_to_export(model_dir):
    """The best weights on the validation split, else the final ones."""
    for name in (storage.BEST_WEIGHTS_FILE, storage.FINAL_WEIGHTS_FILE):
        path = storage.join(model_dir, name)
        if storage.exists(path):
            return path
    raise ValueError(f"{model_dir} holds neither {storage.BEST_WEIGHTS_FILE} nor "
                     f"{storage.FINAL_WEIGHTS_FILE}: training has not finished an epoch yet")


def load_trained_model(model_dir, data_info, weights_path=None):
    """(keras model with trained weights, RunConfig, weights path); refuses mismatched data."""
    run_config = config_lib.load_run_config(model_dir)
    config_lib.check_data_matches(model_dir, run_config.data, data_info.signature, data_info.data_dir)
    weights_path = weights_path or weights_to_export(model_dir)
    model = network.build_from_data_info(run_config.network, data_info)
    storage.load_weights(model, weights_path)
    return model, run_config, weights_path


def export_model(model_dir, data_info, top_k=DEFAULT_TOP_K, weights_path=None):
    """Write M/export (replacing an earlier export); return its path."""
    if top_k <= 0:
        raise ValueError(f"--top_k must be positive, got {top_k}")
    model, run_config, weights_path = load_trained_model(model_dir, data_info, weights_path)
    module = ServingModule(model, data_info.transform_output.transform_features_layer(),
                           data_info.answers, build_frozen_cnn(data_info.manifest), top_k)
    export_dir = storage.join(model_dir, storage.EXPORT_DIR)
    local = "://" not in export_dir
    staging_dir = f"{export_dir}.tmp-{uuid.uuid4().hex[:8]}" if local else export_dir
    if not local:
        storage.remove_tree(export_dir)
    tf.saved_model.save(module, staging_dir, signatures={
        SIGNATURE_FEATURES: module.serving_features.get_concrete_function(),
        SIGNATURE_FRAMES: module.serving_frames.get_concrete_function()})
    extra_dir = storage.join(staging_dir, storage.EXPORT_EXTRA_DIR)
    storage.make_dirs(extra_dir)
    storage.write_json(storage.join(extra_dir, storage.EXPORT_MANIFEST_FILE), data_info.manifest)
    export_info = dict(run_config.to_dict(), export={
        "weights": weights_path, "top_k": module.top_k, "answers": list(data_info.answers),
        "signatures": [SIGNATURE_FEATURES, SIGNATURE_FRAMES]})
    storage.write_json(storage.join(extra_dir, storage.EXPORT_CONFIG_FILE), export_info)
    if local:
        storage.remove_tree(export_dir)
        tf.io.gfile.rename(staging_dir, export_dir)
    return export_dir


def run(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m model.export", description="Export M/export: a SavedModel serving raw inputs.")
    parser.add_argument("--model_dir", required=True, help="the --model_dir of a training run")
    parser.add_argument("--data_dir", required=True, help="the pipeline output the model was trained on")
    parser.add_argument("--top_k", type=int, default=DEFAULT_TOP_K, help="answers returned per question")
    parser.add_argument("--weights", default=None,
                        help=f"weights file to export (default: M/{storage.BEST_WEIGHTS_FILE})")
    args = parser.parse_args(argv)
    try:
        config_lib.check_model_dir(args.model_dir)
        data_info = data_info_lib.load_data_info(args.data_dir)
        export_dir = export_model(args.model_dir, data_info, args.top_k, args.weights)
    except ValueError as error:
        print(f"model.export: error: {error}", file=sys.stderr)
        return 2
    print(f"exported {export_dir} (signatures {SIGNATURE_FEATURES}, {SIGNATURE_FRAMES})")
    return 0


if __name__ == "__main__":
    sys.exit(run())
