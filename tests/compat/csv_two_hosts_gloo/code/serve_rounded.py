"""Changed inference code for the same model: answers rounded to whole numbers."""

import numpy as np
from train import model_fn  # noqa: F401
from train import predict_fn as exact


def predict_fn(input_data, model):
    return np.round(exact(input_data, model))
