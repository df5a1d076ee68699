"""Kiln's trainer for Estimator-function entry points: ``python -m kiln.runtime.training.estimator_trainer``.

The entry point defines ``model_fn(params)``, ``train_input_fn(training_dir, params)``,
``eval_input_fn(training_dir, params)`` and ``serving_input_fn(params)`` (optionally ``optimizer_fn``,
``loss_fn``, ``metric_fns``); this module does the rest, as TensorFlow's Estimator did for the 2018
tutorial: a global step, DDP across hosts, checkpoints with resume, TensorBoard scalars, evaluation
lines (``Saving dict for global step N: accuracy = …``) and a TorchScript export with its serving
signature and a generated ``code/inference.py``, so ``deploy()`` needs no inference code.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from kiln.runtime.training.estimator_export import export_model

LOG_EVERY_STEPS = 100
DEFAULT_SAVE_CHECKPOINTS_SECS = 300


def _load_module(path: Path) -> ModuleType:
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _params() -> dict[str, Any]:
    params: dict[str, Any] = json.loads(os.environ.get("SM_HPS", "{}"))
    return params


def _training_dir() -> str:
    channels = json.loads(os.environ.get("SM_CHANNELS", "[]"))
    name = "training" if "training" in channels else (channels[0] if channels else "training")
    return os.environ.get(f"SM_CHANNEL_{name.upper()}", "")


def _opt_ml_path(name: str) -> Path:
    base = Path(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml"))
    return Path("/opt/ml") / name if Path("/opt/ml/input").is_dir() else base / name


def _batches(factory: Callable[[], Iterable[Any]]) -> Iterator[Any]:
    """Batches forever: the input function is called again whenever its iterable runs out."""
    while True:
        produced = False
        for batch in factory():
            produced = True
            yield batch
        if not produced:
            raise ValueError("train_input_fn returned no batches")


class Trainer:
    def __init__(self, module: ModuleType, params: dict[str, Any]) -> None:
        import torch

        self.torch = torch
        self.module = module
        self.params = params
        self.training_steps = int(params.get("training_steps", 1000))
        self.evaluation_steps = int(params.get("evaluation_steps", 100))
        self.save_checkpoints_secs = float(params.get("save_checkpoints_secs", DEFAULT_SAVE_CHECKPOINTS_SECS))
        self.min_eval_frequency = int(params.get("min_eval_frequency", 0) or 0)
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.is_chief = self.rank == 0
        self.device = (
            torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            if torch.cuda.is_available()
            else torch.device("cpu")
        )
        self.checkpoint_dir = _opt_ml_path("checkpoints")
        self.stop_requested = False
        signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, *_: Any) -> None:
        self.stop_requested = True

    # -- pieces the user may override ----------------------------------------------------------------

    def _optimizer(self, model: Any) -> Any:
        if hasattr(self.module, "optimizer_fn"):
            return self.module.optimizer_fn(model, self.params)
        return self.torch.optim.Adam(model.parameters(), lr=float(self.params.get("learning_rate", 0.001)))

    def _loss(self, outputs: Any, labels: Any) -> Any:
        if hasattr(self.module, "loss_fn"):
            return self.module.loss_fn(outputs, labels)
        return self.torch.nn.functional.cross_entropy(outputs, labels.long())

    def _metric_fns(self) -> dict[str, Callable[[Any, Any], float]]:
        if hasattr(self.module, "metric_fns"):
            fns = self.module.metric_fns
            return dict(fns(self.params) if callable(fns) else fns)
        return {"accuracy": lambda outputs, labels: float((outputs.argmax(dim=1) == labels).float().mean())}

    # -- the loop --------------------------------------------------------------------------------------

    def run(self) -> None:
        torch = self.torch
        distributed = self.world_size > 1
        if distributed:
            import torch.distributed as dist

            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo", init_method="env://")
        torch.manual_seed(int(self.params.get("seed", 0)) + self.rank)
        model = self.module.model_fn(self.params).to(self.device)
        optimizer = self._optimizer(model)
        global_step = self._restore(model, optimizer)
        train_model = model
        if distributed:
            train_model = torch.nn.parallel.DistributedDataParallel(model)
        training_dir = _training_dir()
        batches = _batches(lambda: self.module.train_input_fn(training_dir, self.params))
        writer = self._summary_writer()
        last_save = time.monotonic()
        window_start, window_steps = time.monotonic(), 0
        print(
            f"Kiln estimator: training from global step {global_step} to {self.training_steps} "
            f"on {self.world_size} worker(s)",
            flush=True,
        )
        train_model.train()
        while global_step < self.training_steps and not self._any_stop(distributed):
            features, labels = next(batches)
            features, labels = features.to(self.device), labels.to(self.device)
            loss = self._loss(train_model(features), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            global_step += 1  # one synchronised step of every worker is one global step
            window_steps += 1
            if global_step % LOG_EVERY_STEPS == 0 or global_step == 1:
                elapsed = time.monotonic() - window_start
                rate = window_steps / elapsed if elapsed > 0 else 0.0
                if self.is_chief:
                    print(f"loss = {loss.item():.6f}, step = {global_step}", flush=True)
                    print(f"global_step/sec: {rate:.4g}", flush=True)
                    if writer is not None:
                        writer.add_scalar("loss", loss.item(), global_step)
                        writer.add_scalar("global_step/sec", rate, global_step)
                        writer.flush()
                window_start, window_steps = time.monotonic(), 0
            if time.monotonic() - last_save >= self.save_checkpoints_secs:
                self._save(model, optimizer, global_step)
                last_save = time.monotonic()
            if (
                self.min_eval_frequency
                and global_step % self.min_eval_frequency == 0
                and global_step < self.training_steps
            ):
                self._evaluate(model, global_step, writer)
                train_model.train()
        self._save(model, optimizer, global_step)
        self._evaluate(model, global_step, writer)
        if self.is_chief:
            export_model(model, self.module, self.params, Path(os.environ["SM_MODEL_DIR"]), self.device)
        if writer is not None:
            writer.close()
        if distributed:
            import torch.distributed as dist

            dist.barrier()
            dist.destroy_process_group()

    def _any_stop(self, distributed: bool) -> bool:
        if not distributed:
            return self.stop_requested
        import torch.distributed as dist

        flag = self.torch.tensor([1.0 if self.stop_requested else 0.0])
        dist.all_reduce(flag)
        return bool(flag.item() > 0)

    def _evaluate(self, model: Any, global_step: int, writer: Any) -> None:
        torch = self.torch
        if not hasattr(self.module, "eval_input_fn"):
            return
        model.eval()
        metric_fns = self._metric_fns()
        totals = {name: 0.0 for name in metric_fns}
        loss_total, batches = 0.0, 0
        with torch.no_grad():
            for features, labels in self.module.eval_input_fn(_training_dir(), self.params):
                if batches >= self.evaluation_steps:
                    break
                features, labels = features.to(self.device), labels.to(self.device)
                outputs = model(features)
                loss_total += float(self._loss(outputs, labels))
                for name, fn in metric_fns.items():
                    totals[name] += float(fn(outputs, labels))
                batches += 1
        model.train()
        if batches == 0 or not self.is_chief:
            return
        results = {name: value / batches for name, value in totals.items()}
        results["loss"] = loss_total / batches
        shown = ", ".join(
            f"{name} = {value:.4f}" for name, value in sorted(results.items()) if name != "loss"
        )
        print(
            f"Saving dict for global step {global_step}: {shown}, global_step = {global_step}, "
            f"loss = {results['loss']:.4f}",
            flush=True,
        )
        if writer is not None:
            for name, value in results.items():
                writer.add_scalar(f"eval/{name}", value, global_step)
            writer.flush()

    # -- checkpoints -----------------------------------------------------------------------------------

    def _restore(self, model: Any, optimizer: Any) -> int:
        latest = self.checkpoint_dir / "checkpoint.json"
        if not latest.exists():
            return 0
        name = json.loads(latest.read_text())["latest"]
        state = self.torch.load(self.checkpoint_dir / name, map_location=self.device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        print(
            f"Restoring parameters from {self.checkpoint_dir / name} (global step {state['global_step']})",
            flush=True,
        )
        return int(state["global_step"])

    def _save(self, model: Any, optimizer: Any, global_step: int) -> None:
        if not self.is_chief:
            return
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        name = f"model.ckpt-{global_step}.pt"
        tmp = self.checkpoint_dir / f".{name}.tmp"
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "global_step": global_step}
        self.torch.save(state, tmp)
        os.replace(tmp, self.checkpoint_dir / name)  # a checkpoint appears whole or not at all
        pointer = self.checkpoint_dir / ".checkpoint.json.tmp"
        pointer.write_text(json.dumps({"latest": name, "global_step": global_step}))
        os.replace(pointer, self.checkpoint_dir / "checkpoint.json")
        for old in self.checkpoint_dir.glob("model.ckpt-*.pt"):
            if old.name != name:
                old.unlink(missing_ok=True)  # keep the newest only, as the sync uploads each one
        print(f"Saving checkpoints for {global_step} into {self.checkpoint_dir / name}", flush=True)

    def _summary_writer(self) -> Any:
        if not self.is_chief:
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            print("Kiln estimator: tensorboard is not installed; no summaries are written", flush=True)
            return None
        return SummaryWriter(log_dir=str(_opt_ml_path("output") / "tensorboard"))


def main(argv: list[str]) -> int:
    if not argv:
        print(
            "usage: python -m kiln.runtime.training.estimator_trainer ENTRY_POINT.py [args…]", file=sys.stderr
        )
        return 2
    module = _load_module(Path(argv[0]).resolve())
    missing = [name for name in ("model_fn", "train_input_fn") if not hasattr(module, name)]
    if missing:
        print(f"{argv[0]} does not define {', '.join(missing)}", file=sys.stderr)
        return 2
    Trainer(module, _params()).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
