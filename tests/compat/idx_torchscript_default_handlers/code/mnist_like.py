"""An MNIST-style script: gzipped IDX files in, a TorchScript ``model.pt`` out, no handlers.

The serving side needs no code: SageMaker's PyTorch container (and Kiln) load ``model.pt`` with
``torch.jit.load`` and answer NumPy with NumPy.
"""

import argparse
import gzip
import os

import numpy as np
import torch
from torch import nn


def read_idx(path):
    """The IDX format of the MNIST files: a magic number, big-endian sizes, then unsigned bytes."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


class BarNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, kernel_size=3, padding=1)
        self.head = nn.Linear(4 * 8 * 8, 2)

    def forward(self, x):
        x = torch.relu(self.conv(x.reshape(-1, 1, 8, 8)))
        return self.head(x.flatten(1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    args = parser.parse_args()

    images = read_idx(os.path.join(args.train, "train-images-idx3-ubyte.gz")).astype(np.float32) / 255
    labels = read_idx(os.path.join(args.train, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    x, y = torch.from_numpy(images), torch.from_numpy(labels)
    model = BarNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(args.epochs):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    print(f"train accuracy: {(model(x).argmax(1) == y).float().mean().item():.3f}")
    torch.jit.script(model.eval()).save(os.path.join(args.model_dir, "model.pt"))
