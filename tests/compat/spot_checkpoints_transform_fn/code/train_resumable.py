"""Managed spot training's contract: checkpoints in /opt/ml/checkpoints, resumed when the job starts
again; ``transform_fn`` serves the model from the same file."""

import argparse
import io
import json
import os

import numpy as np
import torch

CHECKPOINT_DIR = "/opt/ml/checkpoints"


def model_fn(model_dir):
    model = torch.nn.Linear(1, 1)
    model.load_state_dict(torch.load(os.path.join(model_dir, "model.pth")))
    return model.eval()


def transform_fn(model, request_body, content_type, accept):
    data = (
        np.load(io.BytesIO(request_body)) if content_type == "application/x-npy" else json.loads(request_body)
    )
    with torch.no_grad():
        answer = model(torch.as_tensor(np.asarray(data, dtype=np.float32).reshape(-1, 1))).squeeze(1).numpy()
    buffer = io.BytesIO()
    np.save(buffer, answer)
    return buffer.getvalue(), "application/x-npy"


def main(args):
    data = np.load(os.path.join(os.environ["SM_CHANNEL_TRAINING"], "points.npy"))
    x, y = torch.tensor(data[:, :1]), torch.tensor(data[:, 1:])
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    start = 0
    checkpoint = os.path.join(CHECKPOINT_DIR, "checkpoint.pt")
    if os.path.exists(checkpoint):
        state = torch.load(checkpoint)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start = state["epoch"]
        print(f"resumed at epoch {start}")
    for epoch in range(start, args.epochs):
        for _ in range(20):
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
        os.makedirs(CHECKPOINT_DIR, exist_ok=True)
        torch.save(
            {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch + 1}, checkpoint
        )
        print(f"epoch {epoch + 1} loss {loss.item():.5f}")
    torch.save(model.state_dict(), os.path.join(os.environ["SM_MODEL_DIR"], "model.pth"))
    with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "summary.json"), "w") as f:
        json.dump({"epochs": args.epochs, "loss": loss.item()}, f)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    main(parser.parse_args())
