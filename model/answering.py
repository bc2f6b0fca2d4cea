"""Answering with an exported model: load M/export once, then decode clips and answer questions.

`ExportedModel(model_dir)` checks and loads the SavedModel and the manifest
copied into `M/export/assets.extra/`; `decode(video_path)` samples a clip
exactly as the pipeline did (`features.video`, without building any Keras
model); `answer(decoded, questions, candidates)` runs the `serving_frames`
signature on all questions together. `model.predict` and `model.serve` use
it. Only the SavedModel graph and JSON are read from the model dir: no
pickles, no code. Problems are `AnswerError`s with a message for the user.
"""

import dataclasses
import typing

from features import manifest as manifest_lib
from features import schema, serving
from model import storage


class AnswerError(ValueError):
    """A problem with the inputs or the export, explained for the user."""


@dataclasses.dataclass
class Answer:
    """One question's answer: ranked (text, probability) pairs, or a count."""

    question: str
    ranked: typing.List[typing.Tuple[str, float]]
    count: typing.Optional[float] = None
    frame_weights: typing.Optional[list] = None   # per sampled frame, for attention encoders

    def to_dict(self):
        result = {"question": self.question,
                  "answers": [{"answer": text, "probability": probability} for text, probability in self.ranked]}
        if self.count is not None:
            result["count"] = self.count
        if self.frame_weights is not None:
            result["frame_weights"] = self.frame_weights
        return result


def _reexport(model_dir):
    return f"export again with `python -m model.export --model_dir {model_dir} --data_dir OUT`"


def read_export_files(model_dir):
    """(export dir, pipeline manifest dict, export config dict) of M/export, checked."""
    export_dir = storage.join(model_dir, storage.EXPORT_DIR)
    if not storage.exists(model_dir):
        raise AnswerError(f"--model_dir {model_dir} does not exist")
    if not storage.exists(storage.join(export_dir, "saved_model.pb")):
        raise AnswerError(f"{export_dir} holds no SavedModel: train to the end, or run "
                          f"`python -m model.export --model_dir {model_dir} --data_dir OUT`")
    extra_dir = storage.join(export_dir, storage.EXPORT_EXTRA_DIR)
    contents = []
    for name in (storage.EXPORT_MANIFEST_FILE, storage.EXPORT_CONFIG_FILE):
        path = storage.join(extra_dir, name)
        if not storage.exists(path):
            raise AnswerError(f"{path} is missing: {_reexport(model_dir)}")
        try:
            contents.append(storage.read_json(path))
        except ValueError as error:  # Not JSON, or not even text (UnicodeDecodeError).
            message = str(error) if path in str(error) else f"{path} is not valid JSON ({error})"
            raise AnswerError(f"{message}; {_reexport(model_dir)}") from None
    manifest, export_config = contents
    _check_export_files(model_dir, extra_dir, manifest, export_config)
    return export_dir, manifest, export_config


def _check_export_files(model_dir, extra_dir, manifest, export_config):
    """Refuse an export written by another toolkit version or with missing settings."""
    manifest_path = storage.join(extra_dir, storage.EXPORT_MANIFEST_FILE)
    version = manifest.get(manifest_lib.MANIFEST_SCHEMA_VERSION) if isinstance(manifest, dict) else None
    if version != schema.SCHEMA_VERSION:
        raise AnswerError(f"{manifest_path} has record schema version {version!r} but this toolkit reads "
                          f"version {schema.SCHEMA_VERSION}: the model was made by another version; re-run "
                          f"`python -m pipeline.run`, `python -m model.train` and `python -m model.export "
                          f"--model_dir {model_dir} --data_dir OUT` with this version")
    try:
        manifest_lib.image_size(manifest)
        manifest_lib.sampling_config(manifest)
        int(export_config["export"]["top_k"])
        export_config["export"]["task"]
    except (KeyError, TypeError, ValueError) as error:
        raise AnswerError(f"{extra_dir} lacks a setting the export needs ({type(error).__name__}: "
                          f"{error}); {_reexport(model_dir)}") from None


class ExportedModel:
    """A loaded M/export: its task, its sampling, and its serving signatures."""

    def __init__(self, model_dir, load=True):
        """Reads the export's files; loads the SavedModel now, or (load=False) at its first use."""
        self.model_dir = model_dir
        self.export_dir, self.manifest, self.export_config = read_export_files(model_dir)
        self.task = self.export_config["export"]["task"]
        self.top_k = int(self.export_config["export"]["top_k"])
        self.num_candidates = int(self.export_config["export"].get("num_candidates") or 0)
        self._loaded = None
        if load:
            self.load()

    def load(self):
        """Load the SavedModel (once): AnswerError if it is damaged or not ours (no frames signature)."""
        if self._loaded is None:
            loaded = self._load()
            self._signature_of(loaded, serving.SIGNATURE_FRAMES)
            self._loaded = loaded

    def _load(self):
        """The loaded SavedModel. Keep it: it owns the variables.

        `tf.saved_model.load` reads the graph and the variables only: it runs no
        Python code from the directory (no pickles, no Keras `load_model`).
        """
        import tensorflow as tf
        try:
            return tf.saved_model.load(self.export_dir)
        except Exception as error:  # Protobuf, OpError, OSError ...: all mean an unusable export.
            message = (str(error).strip().splitlines() or [""])[0][:300]
            raise AnswerError(f"cannot load the SavedModel in {self.export_dir} ({type(error).__name__}: "
                              f"{message}); it is damaged or incomplete: {_reexport(self.model_dir)}") from None

    def _signature_of(self, loaded, name):
        if name not in loaded.signatures:
            raise AnswerError(f"the SavedModel in {self.export_dir} has no {name!r} signature (it has: "
                              f"{', '.join(sorted(loaded.signatures)) or 'none'}); it was not written by "
                              f"`python -m model.export`: {_reexport(self.model_dir)}")
        return loaded.signatures[name]

    def signature(self, name=serving.SIGNATURE_FRAMES):
        """One of the export's signatures (`features.serving.SIGNATURES`), e.g. to feed stored features."""
        self.load()
        return self._signature_of(self._loaded, name)

    @property
    def gives_frame_weights(self):
        """True when the export returns frame weights (models with attention or transformer encoders)."""
        return serving.OUTPUT_FRAME_WEIGHTS in self.signature().structured_outputs

    def describe(self):
        """What a client may want to know about the model (see `model.serve`'s /v1/model)."""
        cnn = manifest_lib.cnn_config(self.manifest)
        return {"task": self.task, "backbone": manifest_lib.backbone_name(self.manifest),
                "feature_dim": manifest_lib.feature_dim(self.manifest),
                "image_size": manifest_lib.image_size(self.manifest),
                "num_candidates": self.num_candidates,
                "vocabulary": self.manifest.get(manifest_lib.MANIFEST_VOCABULARY, {}),
                "video_encoder": self.export_config.get("network", {}).get("video_encoder"),
                "cnn_note": cnn.get(manifest_lib.CNN_NOTE, "")}

    def decode(self, video_path):
        """The sampled uint8 frames of a video file, as the pipeline sampled them."""
        from features import video
        try:
            return video.decode_video(video_path, manifest_lib.sampling_config(self.manifest),
                                      manifest_lib.image_size(self.manifest))
        except video.VideoDecodeError as error:
            raise AnswerError(f"cannot use video {error.path}: {error.reason}") from None
        except Exception as error:  # PyAV/FFmpeg failures not classified by decode_video.
            raise AnswerError(f"cannot use video {video_path}: {type(error).__name__}: {error}") from None

    def check_questions(self, questions, candidates=None):
        """AnswerError unless the questions (and candidates) suit this model's task."""
        if not questions:
            raise AnswerError("give at least one question")
        if self.task == schema.TASK_MULTIPLE_CHOICE:
            if not candidates or len(candidates) != self.num_candidates:
                raise AnswerError(f"this model answers multiple-choice questions: give exactly "
                                  f"{self.num_candidates} candidates (got {len(candidates or [])})")
        elif candidates:
            raise AnswerError(f"this model answers {self.task.replace('_', ' ')} questions; candidates "
                              f"are only for a multiple-choice model")

    def answer(self, decoded, questions, candidates=None, top_k=None):
        """[Answer] for `questions` about one decoded clip (candidates: the same for every question)."""
        import tensorflow as tf
        self.check_questions(questions, candidates)
        inputs = {serving.INPUT_FRAMES: tf.constant(decoded.frames),
                  serving.INPUT_QUESTION: tf.constant(list(questions))}
        if candidates:
            inputs[serving.INPUT_CANDIDATES] = tf.constant([list(candidates)] * len(questions))
        outputs = {name: value.numpy() for name, value in self.signature()(**inputs).items()}
        top_k = min(top_k or self.top_k, self.top_k)
        results = []
        for index, question in enumerate(questions):
            texts = [text.decode("utf-8") for text in outputs[serving.OUTPUT_ANSWERS][index]]
            probabilities = (outputs[serving.OUTPUT_PROBABILITIES][index].tolist()
                             if serving.OUTPUT_PROBABILITIES in outputs else [1.0] * len(texts))
            weights = outputs.get(serving.OUTPUT_FRAME_WEIGHTS)
            results.append(Answer(
                question=question, ranked=list(zip(texts, [float(p) for p in probabilities]))[:top_k],
                count=float(outputs[serving.OUTPUT_COUNT][index]) if serving.OUTPUT_COUNT in outputs else None,
                frame_weights=None if weights is None else [float(w) for w in weights[index][:decoded.num_frames]]))
        return results
