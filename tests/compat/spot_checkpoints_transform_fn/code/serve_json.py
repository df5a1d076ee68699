"""Changed inference code: JSON answers with the prediction and the input it came from."""

import io
import json

import numpy as np
import torch
from train_resumable import model_fn  # noqa: F401


def transform_fn(model, request_body, content_type, accept):
    x = np.load(io.BytesIO(request_body)).astype(np.float32).reshape(-1, 1)
    with torch.no_grad():
        y = model(torch.from_numpy(x)).squeeze(1).tolist()
    return json.dumps([[float(a), round(b, 3)] for a, b in zip(x[:, 0], y, strict=True)]), "application/json"
