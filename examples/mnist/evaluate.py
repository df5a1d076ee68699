"""Evaluate the trained MNIST model on the test set, as a SageMaker processing script.

Reads the training job's ``model.tar.gz`` (TorchScript ``model.pt``) from
``/opt/ml/processing/model`` and ``test.npz`` from ``/opt/ml/processing/test``, and writes
``/opt/ml/processing/evaluation/evaluation.json`` as ``{"metrics": {"accuracy": {"value": A}}}``: the
file a pipeline's PropertyFile points at, read by its ConditionStep with JsonGet.
"""

from __future__ import annotations

import json
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import torch

MODEL_DIR = Path("/opt/ml/processing/model")
TEST_DIR = Path("/opt/ml/processing/test")
OUT_DIR = Path("/opt/ml/processing/evaluation")


def main() -> None:
    with tempfile.TemporaryDirectory() as unpacked:
        with tarfile.open(MODEL_DIR / "model.tar.gz") as archive:
            archive.extractall(unpacked, filter="data")
        model = torch.jit.load(str(Path(unpacked) / "model.pt"))
    model.eval()
    with np.load(TEST_DIR / "test.npz") as test:
        images = torch.from_numpy(test["images"].astype(np.float32) / 255.0)
        labels = torch.from_numpy(test["labels"].astype(np.int64))
    with torch.no_grad():
        predictions = torch.cat([model(batch).argmax(dim=1) for batch in images.split(1000)])
    accuracy = float((predictions == labels).float().mean())
    print(f"test accuracy={accuracy:.4f}", flush=True)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / "evaluation.json").write_text(json.dumps({"metrics": {"accuracy": {"value": accuracy}}}))


if __name__ == "__main__":
    main()
