"""Changed inference code for the same model: class probabilities instead of classes."""

from train import model_fn  # noqa: F401


def predict_fn(input_data, model):
    return model.predict_proba(input_data)
