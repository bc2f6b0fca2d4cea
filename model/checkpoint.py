"""Rebuild a trained model from its directory: configuration, data check, weights.

Used by evaluation and by the export, so evaluating a model never imports the
SavedModel export. `load_trained_model` refuses a data dir whose schema,
task, backbone, vocabularies or features differ from what the model was
trained on.
"""

from model import config as config_lib
from model import network, storage


def weights_to_use(model_dir):
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
    weights_path = weights_path or weights_to_use(model_dir)
    model = network.build_from_data_info(run_config.network, data_info)
    storage.load_weights(model, weights_path)
    return model, run_config, weights_path
