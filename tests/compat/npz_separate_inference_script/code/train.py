"""Regression on an .npz channel; hyperparameters from argparse, the model saved as a state dict."""

import argparse
import json
import os

import numpy as np
import torch
from model_def import build_model

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--hidden", type=int, default=8)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--learning-rate", type=float, default=0.05)
    args, _ = parser.parse_known_args()

    with np.load(os.path.join(os.environ["SM_CHANNEL_TRAINING"], "train.npz")) as data:
        x = torch.tensor(data["x"], dtype=torch.float32)
        y = torch.tensor(data["y"], dtype=torch.float32).unsqueeze(1)
    model = build_model(args.hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    for _ in range(args.steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    print(f"final mse: {loss.item():.5f}")
    torch.save(model.state_dict(), os.path.join(os.environ["SM_MODEL_DIR"], "model.pth"))
    # What inference needs to rebuild the network travels beside the weights.
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "config.json"), "w") as f:
        json.dump({"hidden": args.hidden}, f)
