"""Answer questions about one video file with an exported model.

    python -m model.predict --model_dir M --video clip.mp4 --question "what is the man doing?"
        [--question ...] [--top_k 5]

Decodes and samples the video exactly as the pipeline did
(`features.video.decode_video` with the sampling config and image size of the
manifest copied into M/export/assets.extra/), loads the SavedModel once, runs
its `serving_frames` signature on all questions together and prints each
question's answers with probabilities. Only the SavedModel graph and JSON are
read from the model dir: no pickles, no code. A missing or undecodable video
exits with status 2 and a one-line message naming the file and the reason.
"""

import argparse
import json
import sys

from model import storage

DEFAULT_TOP_K = 5


class PredictError(ValueError):
    """A problem with the inputs, explained for the user."""


def read_export_manifest(model_dir):
    """(export dir, pipeline manifest dict, export config dict) of M/export."""
    import tensorflow as tf
    export_dir = storage.join(model_dir, storage.EXPORT_DIR)
    if not tf.io.gfile.exists(model_dir):
        raise PredictError(f"--model_dir {model_dir} does not exist")
    if not tf.io.gfile.exists(storage.join(export_dir, "saved_model.pb")):
        raise PredictError(f"{export_dir} holds no SavedModel: train to the end, or run "
                           f"`python -m model.export --model_dir {model_dir} --data_dir OUT`")
    extra_dir = storage.join(export_dir, storage.EXPORT_EXTRA_DIR)
    contents = []
    for name in (storage.EXPORT_MANIFEST_FILE, storage.EXPORT_CONFIG_FILE):
        path = storage.join(extra_dir, name)
        if not tf.io.gfile.exists(path):
            raise PredictError(f"{path} is missing: export again with "
                               f"`python -m model.export --model_dir {model_dir} --data_dir OUT`")
        try:
            contents.append(storage.read_json(path))
        except ValueError as error:  # Not JSON, or not even text (UnicodeDecodeError).
            message = str(error) if path in str(error) else f"{path} is not valid JSON ({error})"
            raise PredictError(f"{message}; export again with `python -m model.export --model_dir "
                               f"{model_dir} --data_dir OUT`") from None
    manifest, export_config = contents
    _check_export_files(model_dir, extra_dir, manifest, export_config)
    return export_dir, manifest, export_config


def _check_export_files(model_dir, extra_dir, manifest, export_config):
    """Refuse an export written by another toolkit version or with missing settings."""
    from features import manifest as manifest_lib
    from features import schema
    reexport = (f"re-run `python -m pipeline.run`, `python -m model.train` and `python -m model.export "
                f"--model_dir {model_dir} --data_dir OUT` with this version")
    manifest_path = storage.join(extra_dir, storage.EXPORT_MANIFEST_FILE)
    version = manifest.get(manifest_lib.MANIFEST_SCHEMA_VERSION) if isinstance(manifest, dict) else None
    if version != schema.SCHEMA_VERSION:
        raise PredictError(f"{manifest_path} has record schema version {version!r} but this toolkit "
                           f"reads version {schema.SCHEMA_VERSION}: the model was made by another "
                           f"version; {reexport}")
    try:
        int(manifest_lib.cnn_config(manifest)["image_size"])
        manifest_lib.sampling_config(manifest)
        int(export_config["export"]["top_k"])
    except (KeyError, TypeError, ValueError) as error:
        raise PredictError(f"{extra_dir} lacks a setting the export needs ({type(error).__name__}: "
                           f"{error}); export again with `python -m model.export --model_dir "
                           f"{model_dir} --data_dir OUT`") from None


def decode(video_path, manifest):
    """The sampled uint8 frames of the video, as the pipeline sampled them."""
    from features import manifest as manifest_lib
    from features import video
    image_size = int(manifest_lib.cnn_config(manifest)["image_size"])
    try:
        return video.decode_video(video_path, manifest_lib.sampling_config(manifest), image_size)
    except video.VideoDecodeError as error:
        raise PredictError(f"cannot use video {error.path}: {error.reason}") from None
    except Exception as error:  # PyAV/FFmpeg failures not classified by decode_video.
        raise PredictError(f"cannot use video {video_path}: {type(error).__name__}: {error}") from None


def load_signature(model_dir, export_dir, name="serving_frames"):
    """(loaded SavedModel, its `name` signature); PredictError if the export is damaged or not ours.

    `tf.saved_model.load` reads the graph and the variables only: it runs no
    Python code from the directory (no pickles, no Keras `load_model`). Keep
    the loaded object while calling the signature: it owns the variables.
    """
    import tensorflow as tf
    fix = f"export again with `python -m model.export --model_dir {model_dir} --data_dir OUT`"
    try:
        loaded = tf.saved_model.load(export_dir)
    except Exception as error:  # Protobuf, OpError, OSError ...: all mean an unusable export.
        message = (str(error).strip().splitlines() or [""])[0][:300]
        raise PredictError(f"cannot load the SavedModel in {export_dir} ({type(error).__name__}: "
                           f"{message}); it is damaged or incomplete: {fix}") from None
    if name not in loaded.signatures:
        raise PredictError(f"the SavedModel in {export_dir} has no {name!r} signature (it has: "
                           f"{', '.join(sorted(loaded.signatures)) or 'none'}); it was not written "
                           f"by `python -m model.export`: {fix}")
    return loaded, loaded.signatures[name]


def predict(model_dir, video_path, questions, top_k=DEFAULT_TOP_K):
    """[(question, [(answer, probability), ...]), ...] for the questions about one video."""
    if not questions:
        raise PredictError("give at least one --question")
    if top_k <= 0:
        raise PredictError(f"--top_k must be positive, got {top_k}")
    export_dir, manifest, export_config = read_export_manifest(model_dir)
    exported_top_k = int(export_config["export"]["top_k"])
    if top_k > exported_top_k:
        print(f"model.predict: note: the export returns at most {exported_top_k} answers per "
              f"question (re-export with `python -m model.export ... --top_k {top_k}` for more)",
              file=sys.stderr)
        top_k = exported_top_k
    decoded = decode(video_path, manifest)
    loaded, signature = load_signature(model_dir, export_dir)  # `loaded` owns the variables.
    import tensorflow as tf
    outputs = signature(frames=tf.constant(decoded.frames), question=tf.constant(list(questions)))
    answers, probabilities = outputs["answers"].numpy(), outputs["probabilities"].numpy()
    return [(question, [(answer.decode("utf-8"), float(probability))
                        for answer, probability in zip(answers[index][:top_k], probabilities[index][:top_k])])
            for index, question in enumerate(questions)], decoded


def run(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m model.predict", description="Answer questions about a video with M/export.")
    parser.add_argument("--model_dir", required=True, help="the --model_dir of a training run")
    parser.add_argument("--video", required=True, help="video file (any path Beam can open)")
    parser.add_argument("--question", action="append", default=[], help="repeat for several questions")
    parser.add_argument("--top_k", type=int, default=DEFAULT_TOP_K)
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = parser.parse_args(argv)
    try:
        results, decoded = predict(args.model_dir, args.video, args.question, args.top_k)
    except PredictError as error:
        print(f"model.predict: error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([{"question": question, "answers": [
            {"answer": answer, "probability": probability} for answer, probability in answers]}
            for question, answers in results], indent=2))
        return 0
    print(f"{args.video}: {decoded.num_frames} frames sampled of {decoded.total_frames} "
          f"({decoded.duration:.1f} s)")
    for question, answers in results:
        print(f"Q: {question}")
        for answer, probability in answers:
            print(f"   {probability:6.1%}  {answer}")
    return 0


if __name__ == "__main__":
    sys.exit(run())
