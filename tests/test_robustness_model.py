"""Issue 5, model side: damaged or incompatible model and data dirs, and loading that runs no code.

One small model is trained (and exported) in this process on the mapped
robustness run (`bad_inputs.mapped_run`); each test damages a copy of its
dir (hard links, with every changed file replaced, never edited in place)
and runs the real `model.predict` / `model.evaluate` / `model.train`
entry points, which must exit 2 with a message naming the file, what is
wrong and what to do, and no traceback. Cases already covered by
test_model_evaluate.py, test_model_export.py and test_model_resume.py
(missing dirs, another schema version or vocabulary in the data dir, a
corrupted best.weights.h5, a flipped or index-less backup) are not repeated.
"""

import ast
import json
import os
import pickle
import shutil
import sys

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from features import manifest as manifest_lib
from features import schema
from model import callbacks, config as config_lib, data, data_info, evaluate, network, predict, storage, train

import bad_inputs
import model_helpers

pytestmark = pytest.mark.slow

REPO_DIR = model_helpers.REPO_DIR
ENCODER, MODEL_FLAGS = bad_inputs.MAPPED_MODEL_ENCODER, bad_inputs.MAPPED_MODEL_FLAGS


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return bad_inputs.mapped_run(tmp_path_factory)["output_dir"]


@pytest.fixture(scope="module")
def video_path(tmp_path_factory):
    dataset = bad_inputs.mapped_run(tmp_path_factory)["dataset"]
    return os.path.join(dataset["video_dir"], bad_inputs.MAPPED_CLIPS[1] + ".avi")


@pytest.fixture(scope="module")
def model_dir(data_dir, tmp_path_factory):
    """A small model trained for two epochs on the mapped run, with its export (shared with
    test_encoders_end_to_end.py: tests here change copies of it, never the dir itself)."""
    directory = model_helpers.quick_model_dir(data_dir, tmp_path_factory, ENCODER, MODEL_FLAGS)
    assert os.path.isfile(os.path.join(directory, storage.EXPORT_DIR, "saved_model.pb"))
    return directory


def train_argv(data_dir, model_dir):
    """model.train's command line for the shared model's configuration, into model_dir."""
    return model_helpers.quick_train_flags(data_dir, model_dir, ENCODER, MODEL_FLAGS)


def linked_copy(source, destination):
    """A copy of a directory tree made of hard links (cheap); replace files with `replace`, never edit them."""
    shutil.copytree(source, destination, copy_function=os.link)
    return str(destination)


def replace(path, content):
    """Give `path` new content without touching the file it was linked to."""
    if os.path.exists(path):
        os.remove(path)
    with open(path, "wb" if isinstance(content, bytes) else "w") as handle:
        handle.write(content)


def truncate(path, fraction=0.5):
    with open(path, "rb") as handle:
        data_bytes = handle.read()
    replace(path, data_bytes[:int(len(data_bytes) * fraction)])


def refused(capsys, command, argv, *fragments):
    """Run an entry point expecting exit status 2; return its stderr after checking the fragments."""
    capsys.readouterr()
    assert command(argv) == 2
    error = capsys.readouterr().err
    assert "Traceback" not in error, error
    for fragment in fragments:
        assert fragment in error, (fragment, error)
    return error


# model.predict.

def export_path(model_dir, *parts):
    return os.path.join(model_dir, storage.EXPORT_DIR, *parts)


def edit_json(path, change):
    with open(path) as handle:
        value = json.load(handle)
    change(value)
    replace(path, json.dumps(value))


def other_schema_version(model_dir):
    edit_json(export_path(model_dir, storage.EXPORT_EXTRA_DIR, storage.EXPORT_MANIFEST_FILE),
              lambda manifest: manifest.update(schema_version=schema.SCHEMA_VERSION + 1))


def no_sampling_settings(model_dir):
    edit_json(export_path(model_dir, storage.EXPORT_EXTRA_DIR, storage.EXPORT_MANIFEST_FILE),
              lambda manifest: manifest["config"].pop("sampling"))


def no_export_settings(model_dir):
    edit_json(export_path(model_dir, storage.EXPORT_EXTRA_DIR, storage.EXPORT_CONFIG_FILE),
              lambda export_config: export_config.pop("export"))


def truncated_manifest(model_dir):
    truncate(export_path(model_dir, storage.EXPORT_EXTRA_DIR, storage.EXPORT_MANIFEST_FILE))


def garbage_graph(model_dir):
    replace(export_path(model_dir, "saved_model.pb"), b"\x00 not a protocol buffer \xff" * 100)


def missing_variables(model_dir):
    os.remove(export_path(model_dir, "variables", "variables.data-00000-of-00001"))


def truncated_variables(model_dir):
    truncate(export_path(model_dir, "variables", "variables.data-00000-of-00001"), 0.3)


class _Other(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def classify(self, text):
        return {"label": tf.strings.length(text)}


def someone_elses_saved_model(model_dir):
    """A valid SavedModel with other signatures, where the export should be."""
    directory = export_path(model_dir)
    extra = os.path.join(os.path.dirname(directory), "extra-kept")
    shutil.move(os.path.join(directory, storage.EXPORT_EXTRA_DIR), extra)
    shutil.rmtree(directory)
    module = _Other()
    tf.saved_model.save(module, directory, signatures={"classify": module.classify})
    shutil.move(extra, os.path.join(directory, storage.EXPORT_EXTRA_DIR))


@pytest.mark.parametrize("damage, fragments", [
    (other_schema_version, [f"manifest.json has record schema version {schema.SCHEMA_VERSION + 1} but this "
                            f"toolkit reads version {schema.SCHEMA_VERSION}",
                            "re-run `python -m pipeline.run`", "python -m model.export"]),
    (no_sampling_settings, ["assets.extra lacks a setting the export needs", "'sampling'", "export again"]),
    (no_export_settings, ["assets.extra lacks a setting the export needs", "'export'", "export again"]),
    (truncated_manifest, ["manifest.json is not valid JSON"]),
    (garbage_graph, ["cannot load the SavedModel in", "damaged or incomplete", "python -m model.export"]),
    (missing_variables, ["cannot load the SavedModel in", "damaged or incomplete"]),
    (truncated_variables, ["cannot load the SavedModel in", "damaged or incomplete"]),
    (someone_elses_saved_model, ["has no 'serving_frames' signature (it has: classify)",
                                 "not written by `python -m model.export`"]),
])
def test_predict_refuses_a_damaged_or_foreign_export(model_dir, video_path, tmp_path, capsys, damage,
                                                     fragments):
    broken = linked_copy(model_dir, tmp_path / "model")
    damage(broken)
    refused(capsys, predict.run, ["--model_dir", broken, "--video", video_path, "--question", "what?"],
            broken, *fragments)


def test_predict_answers_with_the_undamaged_export(model_dir, video_path, capsys):
    capsys.readouterr()  # In this process: tests/test_model_export.py runs the model.predict command.
    assert predict.run(["--model_dir", model_dir, "--video", video_path, "--question", "what color is the car?",
                        "--json"]) == 0
    answers = json.loads(capsys.readouterr().out)[0]["answers"]
    assert len(answers) == 3 and all(0.0 <= answer["probability"] <= 1.0 for answer in answers)


# model.evaluate and model.train.

def test_another_backbone_runs_from_the_pipeline_to_predict(model_dir, data_dir, video_path, capsys):
    """EfficientNetV2B0 (1280 values per frame): the mapped run's records, training, evaluation, export, predict."""
    manifest = manifest_lib.read_manifest(data_dir)
    assert manifest_lib.backbone_name(manifest) == "efficientnet_v2_b0" and manifest_lib.feature_dim(manifest) == 1280
    parsed = bad_inputs.read_videos(data_dir)
    assert {video[schema.FRAME_FEATURES_KEY].shape[1] for video in parsed.values()} == {1280}
    capsys.readouterr()
    assert evaluate.run(["--data_dir", data_dir, "--model_dir", model_dir, "--split", "val"]) == 0
    assert "open ended questions, val split" in capsys.readouterr().out
    loaded = tf.saved_model.load(export_path(model_dir))
    signature = loaded.signatures["serving_features"]
    assert signature.structured_input_signature[1]["frame_features"].shape.as_list() == [None, None, 1280]
    assert predict.run(["--model_dir", model_dir, "--video", video_path, "--question", "what color is the car?",
                        "--json"]) == 0
    answers = json.loads(capsys.readouterr().out)
    assert answers[0]["question"] == "what color is the car?" and len(answers[0]["answers"]) == 3


def test_evaluate_refuses_a_damaged_config(model_dir, data_dir, tmp_path, capsys):
    broken = linked_copy(model_dir, tmp_path / "model")
    truncate(config_lib.config_path(broken))
    refused(capsys, evaluate.run, ["--data_dir", data_dir, "--model_dir", broken],
            f"{config_lib.config_path(broken)} is not valid JSON", "train again into a new --model_dir")
    replace(config_lib.config_path(broken), "[]")
    refused(capsys, evaluate.run, ["--data_dir", data_dir, "--model_dir", broken], "holds a JSON list")


def test_evaluate_a_run_killed_before_its_first_epoch_says_so(model_dir, data_dir, tmp_path, capsys):
    broken = str(tmp_path / "model")
    os.makedirs(broken)
    shutil.copy(config_lib.config_path(model_dir), config_lib.config_path(broken))
    refused(capsys, evaluate.run, ["--data_dir", data_dir, "--model_dir", broken],
            "holds neither best.weights.h5 nor final.weights.h5", "training has not finished an epoch")


def test_evaluate_refuses_the_data_of_another_pipeline_configuration(model_dir, tmp_path_factory, capsys):
    other = bad_inputs.bad_inputs_run(tmp_path_factory)["output_dir"]  # Other vocabularies and CNN input.
    error = refused(capsys, evaluate.run, ["--data_dir", other, "--model_dir", model_dir],
                    "does not match the data the model", "re-train")
    assert "answer_vocabulary_sha256" in error and "question_vocabulary_size" in error
    assert "backbone: saved 'efficientnet_v2_b0', now 'inception_v3'" in error


def test_evaluate_refuses_weights_that_are_a_pickle(model_dir, data_dir, tmp_path, capsys):
    broken = linked_copy(model_dir, tmp_path / "model")
    marker = tmp_path / "pickle-ran"
    replace(os.path.join(broken, storage.BEST_WEIGHTS_FILE), booby_trapped_pickle(marker))
    refused(capsys, evaluate.run, ["--data_dir", data_dir, "--model_dir", broken],
            storage.BEST_WEIGHTS_FILE, "corrupted, partial")
    assert not marker.exists()


@pytest.fixture(scope="module")
def backup_checkpoint(model_dir, data_dir, tmp_path_factory):
    """A real BackupAndRestore checkpoint of this model, as an interrupted `model.train` leaves it."""
    run_config = config_lib.load_run_config(model_dir)
    info = data_info.load_data_info(data_dir)
    model = network.compile_model(network.build_from_data_info(run_config.network, info), info.task,
                                  run_config.training.learning_rate)
    dataset = data.make_dataset(data_dir, schema.TRAIN_SPLIT, data.InputSpec.from_data_info(info),
                                run_config.training.batch_size, training=True, repeat=True)
    backup_dir = str(tmp_path_factory.mktemp("backup") / storage.BACKUP_DIR)
    model.fit(dataset, epochs=1, steps_per_epoch=1, verbose=0,
              callbacks=[keras.callbacks.BackupAndRestore(backup_dir, delete_checkpoint=False)])
    assert callbacks.verify_backup(backup_dir)  # Whole: the damage below is what is detected.
    return backup_dir


def data_file(checkpoint_dir):
    return os.path.join(checkpoint_dir, [name for name in os.listdir(checkpoint_dir) if ".data-" in name][0])


def damage_backup(checkpoint_dir, damage):
    if damage == "truncated":  # Killed while the checkpoint's data file was being written.
        truncate(data_file(checkpoint_dir), 0.5)
    elif damage == "garbage_state":
        replace(os.path.join(checkpoint_dir, "checkpoint"), "model_checkpoint_path: \x00\x01 {{{\n")
    elif damage == "no_state":
        os.remove(os.path.join(checkpoint_dir, "checkpoint"))
    elif damage == "state_names_missing_checkpoint":
        replace(os.path.join(checkpoint_dir, "checkpoint"), 'model_checkpoint_path: "ckpt-7"\n')


@pytest.mark.parametrize("damage, fragment", [
    ("truncated", "is corrupted or partial"),
    ("garbage_state", "is corrupted"),
    ("no_state", "is partial: its 'checkpoint' state file is missing"),
    ("state_names_missing_checkpoint", "ckpt-7 is partial: "),
])
def test_training_reports_a_damaged_backup_instead_of_resuming(model_dir, data_dir, backup_checkpoint,
                                                               tmp_path, capsys, damage, fragment):
    broken = linked_copy(model_dir, tmp_path / "model")
    storage.write_json(os.path.join(broken, storage.HISTORY_FILE), {"epochs": [], "completed": False})
    backup_dir = os.path.join(broken, storage.BACKUP_DIR)
    linked_copy(backup_checkpoint, backup_dir)
    damage_backup(os.path.join(backup_dir, callbacks.BACKUP_CHECKPOINT_SUBDIR), damage)
    refused(capsys, train.run, train_argv(data_dir, broken),
            "backup checkpoint", fragment, f"delete {backup_dir}")


def test_training_reports_a_damaged_history(model_dir, data_dir, tmp_path, capsys):
    broken = linked_copy(model_dir, tmp_path / "model")
    truncate(os.path.join(broken, storage.HISTORY_FILE))
    refused(capsys, train.run, train_argv(data_dir, broken),
            f"{os.path.join(broken, storage.HISTORY_FILE)} is not valid JSON")


# Loading runs no code from the model dir: no pickles anywhere in our load paths.

UNSAFE_CALLS = {
    ("pickle", "load"), ("pickle", "loads"), ("pickle", "Unpickler"), ("cPickle", "load"),
    ("dill", "load"), ("dill", "loads"), ("cloudpickle", "load"), ("cloudpickle", "loads"),
    ("joblib", "load"), ("marshal", "load"), ("marshal", "loads"), ("torch", "load"),
    ("yaml", "load"), ("yaml", "unsafe_load"), ("shelve", "open"),
}
UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "marshal", "shelve"}


def source_files():
    for package in ("features", "model", "pipeline"):
        for root, _, files in os.walk(os.path.join(REPO_DIR, package)):
            for name in files:
                if name.endswith(".py"):
                    yield os.path.join(root, name)


def unsafe_uses(path):
    """(line, what) for every import of a pickle-like module and every unsafe loading call in a file."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, f"import {alias.name}") for alias in node.names
                      if alias.name.split(".")[0] in UNSAFE_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in UNSAFE_MODULES:
            found.append((node.lineno, f"from {node.module} import ..."))
        elif isinstance(node, ast.Call):
            function = node.func
            name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
            owner = function.value.id if isinstance(function, ast.Attribute) and isinstance(
                function.value, ast.Name) else ""
            keywords = {keyword.arg: keyword.value for keyword in node.keywords}
            if (owner, name) in UNSAFE_CALLS:
                found.append((node.lineno, f"{owner}.{name}()"))
            elif name in ("eval", "exec") and not owner:
                found.append((node.lineno, f"{name}()"))
            elif name == "load" and owner in ("np", "numpy"):
                allow = keywords.get("allow_pickle")
                if not (isinstance(allow, ast.Constant) and allow.value is False):
                    found.append((node.lineno, "np.load() without allow_pickle=False"))
            elif name == "load_model":
                safe = keywords.get("safe_mode")
                if not (isinstance(safe, ast.Constant) and safe.value is True):
                    found.append((node.lineno, "load_model() without safe_mode=True"))
    return found


def test_no_pickle_or_unsafe_loader_in_our_code():
    found = {os.path.relpath(path, REPO_DIR): uses for path in source_files() if (uses := unsafe_uses(path))}
    assert found == {}, found


PICKLE_PROTOCOL_BYTES = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


def test_a_trained_and_exported_model_dir_holds_no_pickles(model_dir):
    files = bad_inputs.file_tree(model_dir)
    assert any(path.endswith(".weights.h5") for path in files)
    for path in files:
        with open(os.path.join(model_dir, path), "rb") as handle:
            head = handle.read(8)
        assert not head.startswith(PICKLE_PROTOCOL_BYTES), path
        assert not path.endswith((".pkl", ".pickle", ".joblib", ".npy", ".npz", ".keras")), path
        if path.endswith(".h5"):
            assert head == b"\x89HDF\r\n\x1a\n", path  # HDF5: arrays and attributes, no objects.
    # The export is a plain SavedModel: no Keras metadata that `load_model` would rebuild layers from.
    assert "export/saved_model.pb" in files and "export/keras_metadata.pb" not in files


class _RunsCode:
    """Unpickling this creates the marker file: the proof that a loader executed code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def booby_trapped_pickle(marker):
    return pickle.dumps(_RunsCode(marker), protocol=4)


def test_loading_never_unpickles_what_the_model_dir_holds(model_dir, data_dir, video_path, tmp_path, capsys,
                                                          monkeypatch):
    """Files the loaders read, and bait files beside them, hold pickles that would leave a marker."""
    marker = tmp_path / "code-ran"
    trapped = linked_copy(model_dir, tmp_path / "model")
    extra = export_path(trapped, storage.EXPORT_EXTRA_DIR)
    for bait in (os.path.join(trapped, "model.pkl"), export_path(trapped, "keras_model.pkl"),
                 os.path.join(extra, "vocabulary.pkl"), os.path.join(trapped, "checkpoints", "state.npy")):
        replace(bait, booby_trapped_pickle(marker))
    np.save(os.path.join(trapped, "frames.npy"), np.array([_RunsCode(marker)], dtype=object), allow_pickle=True)

    calls = []
    for module, name in (("pickle", "load"), ("pickle", "loads"), ("pickle", "Unpickler"),
                         ("numpy", "load")):
        original = getattr(sys.modules[module], name)
        monkeypatch.setattr(sys.modules[module], name,
                            lambda *args, _name=f"{module}.{name}", _original=original, **kwargs:
                            calls.append(_name) or _original(*args, **kwargs))
    capsys.readouterr()
    assert predict.run(["--model_dir", trapped, "--video", video_path, "--question", "what?"]) == 0
    assert evaluate.run(["--data_dir", data_dir, "--model_dir", trapped, "--split", "val"]) == 0
    assert calls == [] and not marker.exists()

    # Files the loaders do read, replaced by pickles: refused as damaged, never unpickled.
    predict_argv = ["--model_dir", trapped, "--video", video_path, "--question", "what?"]
    final_weights = os.path.join(trapped, storage.FINAL_WEIGHTS_FILE)
    for path, command, argv, fragment in (
            (os.path.join(extra, storage.EXPORT_CONFIG_FILE), predict.run, predict_argv,
             "config.json is not valid JSON"),
            (export_path(trapped, "saved_model.pb"), predict.run, predict_argv, "cannot load the SavedModel"),
            (final_weights, evaluate.run, ["--data_dir", data_dir, "--model_dir", trapped, "--weights",
                                           final_weights], "final.weights.h5 is corrupted, partial")):
        with open(path, "rb") as handle:
            original_bytes = handle.read()
        replace(path, booby_trapped_pickle(marker))
        refused(capsys, command, argv, fragment)
        assert calls == [] and not marker.exists(), path
        replace(path, original_bytes)
