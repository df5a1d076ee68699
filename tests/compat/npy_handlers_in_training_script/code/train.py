"""Training code and inference handlers in one file, as in the SageMaker PyTorch examples.

SageMaker runs it as ``python train.py --epochs 20 --lr 0.1`` for training, and imports it for serving:
``model_fn`` loads the state dict that training saved; NumPy arrives and leaves by the default handlers.
"""

import argparse
import json
import os

import numpy as np
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


def model_fn(model_dir):
    model = Net()
    with open(os.path.join(model_dir, "model.pth"), "rb") as f:
        model.load_state_dict(torch.load(f))
    model.eval()
    return model


def predict_fn(input_data, model):
    with torch.no_grad():
        return model(torch.as_tensor(input_data, dtype=torch.float32)).argmax(dim=1).numpy()


def train(args):
    features = np.load(os.path.join(args.train, "features.npy"))
    labels = np.load(os.path.join(args.train, "labels.npy"))
    x, y = torch.tensor(features, dtype=torch.float32), torch.tensor(labels, dtype=torch.long)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    for epoch in range(args.epochs):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        print(f"epoch={epoch} loss={loss.item():.4f}")
    test_x = torch.tensor(np.load(os.path.join(args.test, "features.npy")), dtype=torch.float32)
    test_y = np.load(os.path.join(args.test, "labels.npy"))
    accuracy = float((model(test_x).argmax(dim=1).numpy() == test_y).mean())
    print(f"test_accuracy={accuracy:.4f}")
    with open(os.path.join(args.model_dir, "model.pth"), "wb") as f:
        torch.save(model.state_dict(), f)
    print("hosts", json.loads(os.environ["SM_HOSTS"]), "cpus", os.environ["SM_NUM_CPUS"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--model-dir", type=str, default=os.environ["SM_MODEL_DIR"])
    parser.add_argument("--train", type=str, default=os.environ["SM_CHANNEL_TRAIN"])
    parser.add_argument("--test", type=str, default=os.environ["SM_CHANNEL_TEST"])
    train(parser.parse_args())
