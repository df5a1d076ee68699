"""MNIST CNN from the Kiln tutorial, as a SageMaker script-mode training script (PyTorch).

Runs unchanged on SageMaker or Kiln: data comes from the ``training`` channel (``SM_CHANNEL_TRAINING``)
holding ``train.npz``, ``validation.npz`` and ``test.npz`` (written by ``prepare_data.py``), the model is
saved as TorchScript to ``$SM_MODEL_DIR/model.pt`` and final metrics go to
``$SM_OUTPUT_DATA_DIR/metrics.json``. Locally::

    python mnist.py --data-dir data --model-dir /tmp/model

Model (as in the tutorial): input reshaped to 1x28x28; conv 5x5 32 "same" ReLU, max-pool 2x2/2; conv 5x5
64 "same" ReLU, max-pool 2x2/2; dense 1024 ReLU; dropout 0.4 (training only); dense 10 logits. Softmax
cross-entropy, Adam (learning rate 0.001), batch 100, pixels scaled to [0, 1].

Log lines for metric regexes: ``step=N loss=X`` while training, then ``validation_accuracy=A
validation_loss=L`` and finally ``accuracy=A loss=L`` on the whole test set.

The exported model takes float pixels in [0, 1] shaped (N, 28, 28), (N, 1, 28, 28) or (N, 784) and
returns logits of shape (N, 10).

On SIGTERM (SageMaker stops a job with a 120 s grace period) training stops after the current step, the
model trained so far is saved and the script exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import torch

IMAGE_SIZE = 28
NUM_CLASSES = 10
EVAL_BATCH_SIZE = 1000

_stop_requested = False


def _request_stop(signum: int, _frame: object) -> None:
    global _stop_requested
    _stop_requested = True
    print(f"mnist: received signal {signum}; stopping after the current step", flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train the tutorial MNIST CNN (SageMaker script mode).")
    # Hyperparameters. SageMaker passes them as --name value using the key as written in the estimator
    # (e.g. training_steps=1000 -> --training_steps 1000), so both spellings are accepted.
    parser.add_argument("--training-steps", "--training_steps", type=int, default=1000)
    parser.add_argument(
        "--evaluation-steps",
        "--evaluation_steps",
        type=int,
        default=100,
        help="accepted for compatibility with the tutorial (100 batches of 100 = the whole test set); "
        "the final evaluation always covers the whole test set",
    )
    parser.add_argument("--batch-size", "--batch_size", type=int, default=100)
    parser.add_argument("--learning-rate", "--learning_rate", type=float, default=0.001)
    parser.add_argument("--dropout", type=float, default=0.4)
    parser.add_argument("--log-every", "--log_every", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--mixed-precision",
        "--mixed_precision",
        choices=["auto", "bf16", "off"],
        default="auto",
        help="bfloat16 autocast for training on CPU; 'auto' uses it only where the CPU has native bf16",
    )
    # SageMaker environment.
    parser.add_argument("--data-dir", "--data_dir", type=Path, default=_env_path("SM_CHANNEL_TRAINING"))
    parser.add_argument("--model-dir", "--model_dir", type=Path, default=_env_path("SM_MODEL_DIR"))
    parser.add_argument("--output-dir", "--output_dir", type=Path, default=_env_path("SM_OUTPUT_DATA_DIR"))
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        print(f"mnist: ignoring unknown arguments {unknown}", flush=True)
    if args.data_dir is None:
        parser.error("--data-dir is required (or set SM_CHANNEL_TRAINING)")
    if args.model_dir is None:
        parser.error("--model-dir is required (or set SM_MODEL_DIR)")
    if args.training_steps < 0 or args.batch_size < 1 or args.log_every < 1:
        parser.error("--training-steps must be >= 0, --batch-size and --log-every >= 1")
    return args


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def build_model(dropout: float) -> torch.nn.Module:
    """The tutorial CNN; takes (N, 1, 28, 28) floats in [0, 1] and returns (N, 10) logits."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 32, kernel_size=5, padding=2),  # "same" padding
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=2, stride=2),  # 28x28 -> 14x14
        nn.Conv2d(32, 64, kernel_size=5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=2, stride=2),  # 14x14 -> 7x7
        nn.Flatten(),
        nn.Linear(7 * 7 * 64, 1024),
        nn.ReLU(),
        nn.Dropout(p=dropout),  # active in training mode only
        nn.Linear(1024, NUM_CLASSES),
    )


def load_split(data_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    path = data_dir / f"{split}.npz"
    if not path.is_file():
        raise SystemExit(f"mnist: error: {path} not found (run prepare_data.py to create the data set)")
    with np.load(path) as archive:
        return archive["images"], archive["labels"]


def _bf16_native() -> bool:
    import torch

    try:
        capability: dict[str, Any] = torch._C._cpu._get_cpu_capability()
    except Exception:
        return False
    return bool(capability.get("avx512_bf16") or capability.get("amx_bf16"))


def to_input(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28) in [0, 1], channels-last on ``device``."""
    import torch

    x = images.to(device, non_blocking=True).unsqueeze(1).float().div_(255.0)
    return x.contiguous(memory_format=torch.channels_last)


def evaluate(
    model: torch.nn.Module, images: np.ndarray, labels: np.ndarray, device: torch.device
) -> tuple[float, float]:
    """Accuracy and mean cross-entropy over the whole set, in float32, eval mode."""
    import torch
    from torch.nn import functional

    model.eval()
    images_t, labels_t = torch.from_numpy(images), torch.from_numpy(labels).long()
    correct, loss_sum = 0, 0.0
    with torch.inference_mode():
        for start in range(0, len(images_t), EVAL_BATCH_SIZE):
            logits = model(to_input(images_t[start : start + EVAL_BATCH_SIZE], device)).float()
            target = labels_t[start : start + EVAL_BATCH_SIZE].to(device)
            loss_sum += functional.cross_entropy(logits, target, reduction="sum").item()
            correct += int((logits.argmax(dim=1) == target).sum().item())
    return correct / len(images_t), loss_sum / len(images_t)


def export_model(model: torch.nn.Module, path: Path) -> None:
    """Save an eval-mode TorchScript module: floats in [0, 1], (N,28,28)/(N,1,28,28)/(N,784) -> logits."""
    import copy
    import warnings

    import torch
    from torch import nn

    class Exported(nn.Module):
        def __init__(self, net: nn.Module) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x.to(torch.float32).reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE))

    net = copy.deepcopy(model).cpu().float().to(memory_format=torch.contiguous_format).eval()
    exported = Exported(net).eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated in recent releases but still supported
        traced = torch.jit.trace(exported, torch.rand(2, IMAGE_SIZE, IMAGE_SIZE))
        torch.jit.save(traced, str(tmp))
    os.replace(tmp, path)


def train(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    from torch.nn import functional

    if os.environ.get("SM_NUM_CPUS"):
        torch.set_num_threads(max(1, int(os.environ["SM_NUM_CPUS"])))
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    use_bf16 = device.type == "cpu" and (
        args.mixed_precision == "bf16" or (args.mixed_precision == "auto" and _bf16_native())
    )
    print(
        f"mnist: device={device.type} threads={torch.get_num_threads()} "
        f"precision={'bf16-autocast' if use_bf16 else 'fp32'}",
        flush=True,
    )

    train_images_np, train_labels_np = load_split(args.data_dir, "train")
    train_images = torch.from_numpy(train_images_np)
    train_labels = torch.from_numpy(train_labels_np.astype(np.int64))
    if device.type == "cuda":
        train_images, train_labels = train_images.to(device), train_labels.to(device)
    num_train = len(train_images)
    batch_size = min(args.batch_size, num_train)
    print(f"mnist: {num_train} training images from {args.data_dir}", flush=True)

    model = build_model(args.dropout).to(device).to(memory_format=torch.channels_last)
    try:  # the fused kernel is much faster; older PyTorch releases only have it on CUDA
        optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate, fused=True)
    except (RuntimeError, TypeError):
        optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    generator = torch.Generator().manual_seed(args.seed)

    model.train()
    order = torch.randperm(num_train, generator=generator)
    cursor = 0
    step = 0
    started = time.perf_counter()
    while step < args.training_steps and not _stop_requested:
        if cursor + batch_size > num_train:  # new epoch: reshuffle
            order = torch.randperm(num_train, generator=generator)
            cursor = 0
        index = order[cursor : cursor + batch_size].to(train_images.device)
        cursor += batch_size
        x = to_input(train_images[index], device)
        y = train_labels[index]
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16, enabled=use_bf16):
            logits = model(x)
        loss = functional.cross_entropy(logits.float(), y)
        loss.backward()
        optimizer.step()
        step += 1
        if step % args.log_every == 0 or step == args.training_steps:
            print(f"step={step} loss={loss.item():.4f}", flush=True)
    train_seconds = time.perf_counter() - started
    print(f"mnist: trained {step} steps in {train_seconds:.1f}s", flush=True)

    model_path = args.model_dir / "model.pt"
    if _stop_requested:
        export_model(model, model_path)
        print(f"mnist: stopped at step {step}; saved {model_path}; exiting", flush=True)
        return 0

    val_accuracy, val_loss = evaluate(model, *load_split(args.data_dir, "validation"), device)
    print(f"validation_accuracy={val_accuracy:.4f} validation_loss={val_loss:.4f}", flush=True)
    test_images, test_labels = load_split(args.data_dir, "test")
    accuracy, test_loss = evaluate(model, test_images, test_labels, device)
    print(f"accuracy={accuracy:.4f} loss={test_loss:.4f}", flush=True)

    export_model(model, model_path)
    print(f"mnist: saved TorchScript model to {model_path}", flush=True)
    if args.output_dir is not None:
        args.output_dir.mkdir(parents=True, exist_ok=True)
        metrics = {
            "accuracy": accuracy,
            "loss": test_loss,
            "validation_accuracy": val_accuracy,
            "validation_loss": val_loss,
            "global_step": step,
            "test_examples": len(test_labels),
            "train_seconds": round(train_seconds, 3),
        }
        (args.output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    shown = {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()}
    print(f"mnist: starting with args {shown}", flush=True)
    signal.signal(signal.SIGTERM, _request_stop)
    return train(args)


if __name__ == "__main__":
    sys.exit(main())
