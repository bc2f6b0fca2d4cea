"""The run configuration: what a model is, how it was trained, and on which data.

Saved as M/config.json when training starts. A later run with the same
`--model_dir` must ask for the same configuration (it resumes from the
checkpoint); anything else is refused with the list of differences. The data
part (`DataSignature`) records the vocabularies' sizes and checksums, the
feature storage and the CNN, so evaluation and export can refuse a data dir
that does not match the model.
"""

import dataclasses

from model import storage

CONFIG_FORMAT_VERSION = 2


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
    """Layer sizes and the video encoder (see `model.network` and `model.encoders`).

    The transformer_* sizes are used by `--video_encoder transformer` only;
    `transformer_max_frames` 0 means the data's most sampled frames per clip.
    """

    video_encoder: str = "lstm"
    embedding_dim: int = 128
    question_units: int = 128
    video_units: int = 256
    hidden_units: int = 256
    dropout: float = 0.2
    transformer_layers: int = 2
    transformer_heads: int = 4
    transformer_width: int = 128
    transformer_max_frames: int = 0

    def __post_init__(self):
        from model import encoders  # The table of encoders; fails on an unknown name.
        encoders.get_encoder(self.video_encoder)
        for name in ("embedding_dim", "question_units", "video_units", "hidden_units",
                     "transformer_layers", "transformer_heads", "transformer_width"):
            if getattr(self, name) <= 0:
                raise ValueError(f"--{name} must be positive, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"--dropout must be in [0, 1), got {self.dropout}")
        if self.transformer_width % self.transformer_heads:
            raise ValueError(f"--transformer_width {self.transformer_width} must be a multiple of "
                             f"--transformer_heads {self.transformer_heads} (each head gets width / heads)")
        if self.transformer_max_frames < 0:
            raise ValueError(f"--transformer_max_frames must be 0 (the data's max frames) or positive, "
                             f"got {self.transformer_max_frames}")


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """Optimisation settings; `batch_size` is global (split across replicas)."""

    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 1e-3
    shuffle_buffer: int = 1024
    seed: int = 0

    def __post_init__(self):
        if self.epochs <= 0:
            raise ValueError(f"--epochs must be positive, got {self.epochs}")
        if self.batch_size <= 0:
            raise ValueError(f"--batch_size must be positive, got {self.batch_size}")
        if self.learning_rate <= 0:
            raise ValueError(f"--learning_rate must be positive, got {self.learning_rate}")
        if self.shuffle_buffer <= 0:
            raise ValueError(f"--shuffle_buffer must be positive, got {self.shuffle_buffer}")


@dataclasses.dataclass(frozen=True)
class DataSignature:
    """What identifies the data a model was trained on (from `model.data_info`)."""

    schema_version: int
    task: str
    num_candidates: int
    backbone: str
    feature_dim: int
    feature_dtype: str
    max_frames: int
    max_question_tokens: int
    question_vocabulary_size: int
    answer_vocabulary_size: int
    question_vocabulary_sha256: str
    answer_vocabulary_sha256: str
    cnn_weights: str
    cnn_weights_sha256: str
    image_size: int


@dataclasses.dataclass(frozen=True)
class RunConfig:
    network: NetworkConfig
    training: TrainingConfig
    data: DataSignature

    def to_dict(self):
        return {"format_version": CONFIG_FORMAT_VERSION, "network": dataclasses.asdict(self.network),
                "training": dataclasses.asdict(self.training), "data": dataclasses.asdict(self.data)}

    @classmethod
    def from_dict(cls, values):
        try:
            return cls(network=NetworkConfig(**values["network"]),
                       training=TrainingConfig(**values["training"]),
                       data=DataSignature(**values["data"]))
        except (KeyError, TypeError) as error:
            raise ValueError(f"config.json has an unexpected layout ({error}); it was written by "
                             f"another version of this toolkit: use a new --model_dir") from None


def differences(old, new, prefix=""):
    """Dotted keys whose values differ between two nested dicts, with both values."""
    found = []
    for key in sorted(set(old) | set(new)):
        old_value, new_value = old.get(key), new.get(key)
        if isinstance(old_value, dict) and isinstance(new_value, dict):
            found += differences(old_value, new_value, f"{prefix}{key}.")
        elif old_value != new_value:
            found.append((f"{prefix}{key}", old_value, new_value))
    return found


def describe_differences(found):
    return "; ".join(f"{key}: saved {old!r}, now {new!r}" for key, old, new in found)


def config_path(model_dir):
    return storage.join(model_dir, storage.CONFIG_FILE)


def check_model_dir(model_dir):
    """Raise ValueError unless `model_dir` holds a training run's config.json."""
    if not storage.exists(model_dir):
        raise ValueError(f"--model_dir {model_dir} does not exist: train a model first with "
                         f"`python -m model.train --data_dir OUT --model_dir {model_dir}`")
    if not storage.exists(config_path(model_dir)):
        raise ValueError(f"--model_dir {model_dir} holds no {storage.CONFIG_FILE}: it is not the "
                         f"--model_dir of a `python -m model.train` run")


def load_run_config(model_dir):
    """The RunConfig saved in model_dir (ValueError with a fix if there is none)."""
    check_model_dir(model_dir)
    path = config_path(model_dir)
    try:
        values = storage.read_json(path)
    except ValueError:
        raise ValueError(f"{path} is not valid JSON (truncated or damaged): it describes the "
                         f"trained model, so restore it from a copy, or train again into a new "
                         f"--model_dir") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path} holds a JSON {type(values).__name__}, not a configuration: "
                         f"restore it from a copy, or train again into a new --model_dir")
    return RunConfig.from_dict(values)


def save_run_config(model_dir, run_config):
    storage.make_dirs(model_dir)
    storage.write_json(config_path(model_dir), run_config.to_dict())


def check_resume(model_dir, run_config):
    """Refuse a model_dir whose saved configuration differs from `run_config`.

    Returns True when a configuration is already saved (this run resumes or
    repeats it), False for a fresh model_dir.
    """
    path = config_path(model_dir)
    if not storage.exists(path):
        return False
    saved = storage.read_json(path)
    found = differences(saved, run_config.to_dict())
    if found:
        raise ValueError(
            f"--model_dir {model_dir} holds a run with a different configuration "
            f"({describe_differences(found)}). Resuming needs the same flags and data; to train "
            f"this configuration, use a new --model_dir.")
    return True


def check_data_matches(model_dir, saved, data_signature, data_dir):
    """Refuse a data dir whose vocabularies, features or schema differ from the model's."""
    found = differences(dataclasses.asdict(saved), dataclasses.asdict(data_signature))
    if found:
        raise ValueError(
            f"--data_dir {data_dir} does not match the data the model in {model_dir} was trained "
            f"on ({describe_differences(found)}). Use the pipeline output the model was trained "
            f"with, or re-train on this one.")
