"""The inference script, separate from training (SageMaker's ``entry_point`` of the model)."""

import json
import os

import numpy as np
import torch
from model_def import build_model


def model_fn(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    model = build_model(config["hidden"])
    model.load_state_dict(torch.load(os.path.join(model_dir, "model.pth")))
    return model.eval()


def predict_fn(input_data, model):
    with torch.no_grad():
        return model(torch.as_tensor(np.asarray(input_data), dtype=torch.float32)).squeeze(1).numpy()
