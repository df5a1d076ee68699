"""The tutorial's MNIST CNN in the 2018 Estimator-functions form.

Kiln recognises ``model_fn`` / ``train_input_fn`` / ``eval_input_fn`` / ``serving_input_fn`` and drives
them with its own trainer (global step, DDP across hosts, checkpoints, TensorBoard, evaluation, and an
export that deploys with no inference code)::

    kiln.PyTorch(entry_point="mnist_estimator.py", training_steps=1000, evaluation_steps=100, ...)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

BATCH_SIZE = 100
EVAL_BATCH_SIZE = 100


class MnistCnn(nn.Module):
    """conv 5×5×32 → pool → conv 5×5×64 → pool → dense 1024 → dropout 0.4 → dense 10 (logits)."""

    def __init__(self, dropout: float) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(32, 64, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2, 2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(7 * 7 * 64, 1024), nn.ReLU(), nn.Dropout(dropout), nn.Linear(1024, 10)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x.reshape(-1, 1, 28, 28)))


def model_fn(params: dict[str, Any]) -> nn.Module:
    return MnistCnn(float(params.get("dropout", 0.4)))


def optimizer_fn(model: nn.Module, params: dict[str, Any]) -> torch.optim.Optimizer:
    return torch.optim.Adam(model.parameters(), lr=float(params.get("learning_rate", 0.001)))


def _load(training_dir: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    with np.load(os.path.join(training_dir, f"{split}.npz")) as data:
        images = torch.from_numpy(data["images"].astype(np.float32) / 255.0)
        labels = torch.from_numpy(data["labels"].astype(np.int64))
    return images, labels


def train_input_fn(training_dir: str, params: dict[str, Any]) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One shuffled epoch of batches; Kiln's trainer asks again when it runs out."""
    images, labels = _load(training_dir, "train")
    batch = int(params.get("batch_size", BATCH_SIZE))
    # Each worker is seeded differently, so DDP ranks see different batches.
    order = torch.randperm(len(images))
    for start in range(0, len(order) - batch + 1, batch):
        index = order[start : start + batch]
        yield images[index], labels[index]


def eval_input_fn(training_dir: str, params: dict[str, Any]) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    images, labels = _load(training_dir, "test")
    for start in range(0, len(images), EVAL_BATCH_SIZE):
        yield images[start : start + EVAL_BATCH_SIZE], labels[start : start + EVAL_BATCH_SIZE]


def serving_input_fn(params: dict[str, Any]) -> dict[str, Any]:
    return {"images": {"shape": [None, 28, 28], "dtype": "float32"}}
