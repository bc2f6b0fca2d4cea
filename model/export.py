"""The serving SavedModel under M/export/, with signatures that take raw inputs.

Names are `features.serving`'s (Q questions, T frames, D the backbone's feature dimension):

  serving_features(question [Q] string, frame_features [Q, T, D] float32, num_frames [Q] int32
                   [, candidates [Q, C] string])
      raw (dequantised, un-normalised) frame features, e.g. read from records
  serving_frames(frames [T, H, W, 3] uint8, question [Q] string [, candidates [Q, C] string])
      the sampled frames of one video: resized (`features.frames.resize_frames`) and embedded
      by the same frozen CNN as the pipeline (the manifest's backbone and weights, checked
      against their sha256), in chunks of at most CNN_CHUNK_FRAMES frames

`candidates` exists for multiple-choice models only. Both tokenise the texts
with the pipeline's tf.Transform graph and return `answers` [Q, K] (strings,
best first: the answer vocabulary, or the question's own candidates) and
`probabilities` [Q, K]; a count model returns `count` [Q] (clipped to the
training range) and `answers` [Q, 1] (the rounded count). Encoders that
attend over frames also return `frame_weights` [Q, T]. The SavedModel loads
with plain `tf.saved_model.load`; it answers, it holds no gradient functions
(to train further, start from the model dir's Keras weights).
`assets.extra/manifest.json` (the pipeline's manifest) and
`assets.extra/config.json` make the export self-contained for
`model.predict` and `model.serve`.

    python -m model.export --model_dir M --data_dir OUT [--top_k 10]
"""

if __name__ == "__main__":
    import sys as _sys

    from features import console as _console
    _console.quiet_tensorflow_startup(_sys.argv[1:])

import sys
import uuid

import tensorflow as tf

from features import cli, schema, serving
from features import cnn as cnn_lib
from features import frames as frames_lib
from features import manifest as manifest_lib
from model import checkpoint, storage
from model import config as config_lib
from model import network, recurrent


# Serving computes no gradients, so the export does not trace and store a gradient function for
# every op type its functions use (TensorFlow's default): a third of the export's time (10.4 -> 7.0 s
# for the open-ended attention model on EfficientNetV2B0 features, measured alternating).
SAVE_OPTIONS = tf.saved_model.SaveOptions(experimental_custom_gradients=False)


class _Untracked:
    """Holds an object without making it a SavedModel child.

    Saving a Keras model as a child makes tf.saved_model.save trace every layer
    for Keras's own format (about 30 s for InceptionV3); the signatures need
    only the variables, which ServingModule tracks itself.
    """

    def __init__(self, value):
        self.value = value


class ServingModule(tf.Module):
    """The Keras model, the text transform, the answers and the frozen CNN, behind two signatures."""

    def __init__(self, keras_model, data_info, frozen_cnn, top_k):
        super().__init__(name="videoqa_serving")
        self._keras_model = _Untracked(keras_model)
        self._cnn = _Untracked(frozen_cnn)
        self.model_variables = list(keras_model.variables)
        self.cnn_variables = list(frozen_cnn.model.variables)
        self.transform_layer = data_info.transform_output.transform_features_layer()
        self.task = data_info.task
        self.feature_dim = data_info.feature_dim
        self.image_size = int(frozen_cnn.image_size)
        if self.task == schema.TASK_OPEN_ENDED:
            self.answer_strings = tf.constant(list(data_info.answers), tf.string)
            self.top_k = int(min(top_k, len(data_info.answers)))
        elif self.task == schema.TASK_MULTIPLE_CHOICE:
            self.top_k = int(data_info.num_candidates)
        else:
            self.top_k = 1
            self.count_range = tf.constant(data_info.count_range or (0.0, 0.0), tf.float32)
        multiple_choice = self.task == schema.TASK_MULTIPLE_CHOICE
        question = tf.TensorSpec([None], tf.string, name=serving.INPUT_QUESTION)
        candidates = [tf.TensorSpec([None, None], tf.string, name=serving.INPUT_CANDIDATES)] if multiple_choice else []
        # No AutoGraph: the code below is plain graph code, and converting the Keras layers and the
        # tf.Transform graph took as long as tracing them. serving_frames calls serving_features, so
        # the model is traced (and stored in the SavedModel) once.
        self.serving_features = tf.function(self._serving_features, autograph=False, input_signature=[
            question, tf.TensorSpec([None, None, self.feature_dim], tf.float32, name=serving.INPUT_FRAME_FEATURES),
            tf.TensorSpec([None], tf.int32, name=serving.INPUT_NUM_FRAMES), *candidates])
        self.serving_frames = tf.function(self._serving_frames, autograph=False, input_signature=[
            tf.TensorSpec([None, None, None, 3], tf.uint8, name=serving.INPUT_FRAMES), question, *candidates])

    def _token_ids(self, texts, transform_input, ids_output, counts_output):
        """Texts [N, K] -> int32 token ids [N, K, L>=1] through the tf.Transform graph."""
        shape = tf.shape(texts, out_type=tf.int64)
        every_position = tf.where(tf.ones_like(texts, dtype=tf.bool))  # Row-major; keeps empty strings.
        outputs = self.transform_layer({transform_input: tf.SparseTensor(
            every_position, tf.reshape(texts, [-1]), shape)})
        counts = tf.reshape(tf.sparse.to_dense(outputs[counts_output]), [-1])
        ragged = tf.RaggedTensor.from_row_lengths(outputs[ids_output].values, tf.cast(counts, tf.int64))
        dense = tf.cast(ragged.to_tensor(default_value=schema.PADDING_TOKEN_ID), tf.int32)
        dense = tf.pad(dense, [[0, 0], [0, tf.maximum(1 - tf.shape(dense)[1], 0)]])
        return tf.reshape(dense, tf.stack([tf.cast(shape[0], tf.int32), tf.cast(shape[1], tf.int32), -1]))

    def answer(self, question, frame_features, num_frames, candidates=None):
        inputs = {schema.FRAME_FEATURES_KEY: frame_features, schema.NUM_FRAMES_KEY: tf.cast(num_frames, tf.int32),
                  schema.QUESTION_TOKEN_IDS_KEY: self._token_ids(
                      question[:, tf.newaxis], schema.TRANSFORM_INPUT_QUESTION,
                      schema.TRANSFORM_QUESTION_TOKEN_IDS, schema.TRANSFORM_QUESTION_TOKEN_COUNTS)[:, 0]}
        if candidates is not None:
            inputs[schema.CANDIDATE_TOKEN_IDS_KEY] = self._token_ids(
                candidates, schema.TRANSFORM_INPUT_CANDIDATE,
                schema.TRANSFORM_CANDIDATE_TOKEN_IDS, schema.TRANSFORM_CANDIDATE_TOKEN_COUNTS)
        outputs = self._keras_model.value(inputs, training=False)
        result = {}
        if isinstance(outputs, dict):
            result[serving.OUTPUT_FRAME_WEIGHTS] = tf.cast(outputs[network.VIDEO_WEIGHTS_OUTPUT], tf.float32)
        predictions = tf.cast(network.answer_output(outputs), tf.float32)
        if self.task == schema.TASK_COUNT:
            count = tf.clip_by_value(predictions, self.count_range[0], self.count_range[1])
            result[serving.OUTPUT_COUNT] = count
            result[serving.OUTPUT_ANSWERS] = tf.strings.as_string(tf.round(count), precision=0)[:, tf.newaxis]
            return result
        top = tf.math.top_k(predictions, k=self.top_k)
        strings = self.answer_strings if candidates is None else candidates
        result[serving.OUTPUT_ANSWERS] = tf.gather(strings, top.indices, batch_dims=0 if candidates is None else 1)
        result[serving.OUTPUT_PROBABILITIES] = top.values
        return result

    def _serving_features(self, question, frame_features, num_frames, candidates=None):
        return self.answer(question, frame_features, num_frames, candidates)

    def embed_frames(self, frames):
        """uint8 [T, H, W, 3] -> float32 [T, D]: resize as the pipeline, CNN in chunks."""
        shape = tf.shape(frames)
        same_size = tf.logical_and(tf.equal(shape[1], self.image_size), tf.equal(shape[2], self.image_size))
        resized = tf.cond(same_size, lambda: frames, lambda: frames_lib.resize_frames(frames, self.image_size))
        resized = tf.ensure_shape(resized, [None, self.image_size, self.image_size, 3])
        count = tf.shape(resized)[0]
        chunks = tf.TensorArray(tf.float32, size=0, dynamic_size=True, infer_shape=False,
                                element_shape=tf.TensorShape([None, self.feature_dim]))

        def embed_chunk(start, chunks):  # The last chunk is not padded.
            chunk = self._cnn.value.embed_tensor(resized[start:start + serving.CNN_CHUNK_FRAMES])
            return start + serving.CNN_CHUNK_FRAMES, chunks.write(chunks.size(), chunk)

        _, chunks = tf.while_loop(lambda start, _: start < count, embed_chunk, [tf.constant(0), chunks])
        return tf.reshape(chunks.concat(), [count, self.feature_dim])

    def _serving_frames(self, frames, question, candidates=None):
        features = self.embed_frames(frames)
        num_questions = tf.shape(question)[0]
        frame_features = tf.tile(features[tf.newaxis], [num_questions, 1, 1])
        num_frames = tf.fill([num_questions], tf.shape(features)[0])
        return self.serving_features(question, frame_features, num_frames,
                                     *([] if candidates is None else [candidates]))


def build_frozen_cnn(manifest):
    """The pipeline's CNN from the manifest, refusing weights whose sha256 differs."""
    cnn_config = manifest_lib.cnn_config(manifest)
    frozen = cnn_lib.shared_frozen_cnn(manifest_lib.backbone_name(manifest), cnn_config[manifest_lib.CNN_WEIGHTS],
                                       manifest_lib.image_size(manifest))
    if frozen.checksum != cnn_config[manifest_lib.CNN_WEIGHTS_SHA256]:
        raise ValueError(
            f"the CNN weights {cnn_config[manifest_lib.CNN_WEIGHTS]!r} give sha256 {frozen.checksum}, but the "
            f"pipeline's manifest records {cnn_config[manifest_lib.CNN_WEIGHTS_SHA256]}: serving would compute "
            f"different features than training saw. Make the same weights available (same file, "
            f"same Keras version) and export again.")
    return frozen


def export_model(model_dir, data_info, top_k=serving.DEFAULT_TOP_K, weights_path=None):
    """Write M/export (replacing an earlier export); return its path."""
    if top_k <= 0:
        raise ValueError(f"--top_k must be positive, got {top_k}")
    model, run_config, weights_path = checkpoint.load_trained_model(model_dir, data_info, weights_path)
    # Answering needs the generic LSTM loop only, not the cuDNN pair and its gradients, even when
    # the model was trained on GPUs (a third of the export's functions and of its load time).
    recurrent.use_generic_loops(model)
    # An encoder that weighs frames is served with its frame weights (same layers and variables).
    module = ServingModule(network.serving_model(model), data_info, build_frozen_cnn(data_info.manifest), top_k)
    export_dir = storage.join(model_dir, storage.EXPORT_DIR)
    local = "://" not in export_dir
    staging_dir = f"{export_dir}.tmp-{uuid.uuid4().hex[:8]}" if local else export_dir
    if not local:
        storage.remove_tree(export_dir)
    tf.saved_model.save(module, staging_dir, signatures={
        serving.SIGNATURE_FEATURES: module.serving_features,
        serving.SIGNATURE_FRAMES: module.serving_frames}, options=SAVE_OPTIONS)
    extra_dir = storage.join(staging_dir, storage.EXPORT_EXTRA_DIR)
    storage.make_dirs(extra_dir)
    storage.write_json(storage.join(extra_dir, storage.EXPORT_MANIFEST_FILE), data_info.manifest)
    export_info = dict(run_config.to_dict(), export={
        "weights": weights_path, "top_k": module.top_k, "answers": list(data_info.answers),
        "task": data_info.task, "num_candidates": data_info.num_candidates,
        "count_range": list(data_info.count_range), "signatures": list(serving.SIGNATURES)})
    storage.write_json(storage.join(extra_dir, storage.EXPORT_CONFIG_FILE), export_info)
    if local:
        storage.remove_tree(export_dir)
        tf.io.gfile.rename(staging_dir, export_dir)
    return export_dir


def run(argv=None):
    parser = cli.StrictArgumentParser(
        prog="python -m model.export", description="Export M/export: a SavedModel serving raw inputs.")
    parser.add_argument("--model_dir", required=True, help="the --model_dir of a training run")
    parser.add_argument("--data_dir", required=True, help="the pipeline output the model was trained on")
    parser.add_argument("--top_k", type=int, default=serving.DEFAULT_TOP_K, help="answers returned per question")
    parser.add_argument("--weights", default=None,
                        help=f"weights file to export (default: M/{storage.BEST_WEIGHTS_FILE})")
    cli.add_verbose_flag(parser)
    args = parser.parse_args(argv)
    try:
        from model import data_info as data_info_lib  # Imports tf.Transform.
        config_lib.check_model_dir(args.model_dir)
        data_info = data_info_lib.load_data_info(args.data_dir)
        export_dir = export_model(args.model_dir, data_info, args.top_k, args.weights)
    except ValueError as error:
        print(f"model.export: error: {error}", file=sys.stderr)
        return 2
    print(f"exported {export_dir} (signatures {', '.join(serving.SIGNATURES)})")
    return 0


if __name__ == "__main__":
    sys.exit(run())
