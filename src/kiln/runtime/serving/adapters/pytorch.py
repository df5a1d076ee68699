"""PyTorch, as SageMaker's PyTorch container serves it by default.

``model.pt`` (or the single ``*.pt``/``*.pth``) as TorchScript, falling back to a pickled
``nn.Module``; float32 input tensors on the model's device; eval mode, no autograd. torch is imported
only when a PyTorch model file is found: it costs seconds.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from kiln.runtime.serving.adapters._base import (
    FrameworkAdapter,
    ModelLoadError,
    ShapeReporter,
    pick_file,
    summary,
)

__all__ = ["PyTorchAdapter", "limit_torch_threads", "tensor_converter", "torch_module"]

TORCH_SUFFIXES = (".pt", ".pth")
USAGE = (
    "put a TorchScript model.pt (torch.jit.save(torch.jit.script(net), 'model.pt')) or a joblib "
    "model.joblib at the root of model.tar.gz, or define model_fn(model_dir) in code/inference.py"
)


def torch_module() -> Any:
    """The ``torch`` module, imported now if nobody has yet."""
    return importlib.import_module("torch")


def limit_torch_threads(threads: int | None) -> None:
    """Cap torch's intra-op threads in the calling thread, if torch is loaded at all."""
    torch = sys.modules.get("torch")
    if torch is not None and threads is not None:
        torch.set_num_threads(threads)


class PyTorchAdapter(FrameworkAdapter):
    name = "pytorch"
    input_dtype = np.float32

    def load(self, model_dir: Path, files: list[Path]) -> Any | None:
        path = pick_file(files, "model.pt", TORCH_SUFFIXES)
        return None if path is None else _load_torch(path)

    def owns(self, model: Any) -> bool:
        torch = sys.modules.get("torch")
        return torch is not None and isinstance(model, torch.nn.Module)

    def predictor(self, model: Any, as_numpy: bool) -> Callable[[Any], Any]:
        return _TorchPredictor(model, as_numpy)


def _load_torch(path: Path) -> Any:
    torch = torch_module()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        with warnings.catch_warnings():
            # torch deprecates TorchScript, but it is SageMaker's format and the endpoint owner's
            # choice; a warning on every start would only be noise in their logs.
            warnings.simplefilter("ignore", DeprecationWarning)
            model = torch.jit.load(str(path), map_location=device)
    except Exception as jit_error:  # not TorchScript: maybe a whole module saved with torch.save
        try:
            # The archive is the endpoint owner's own artifact, as in SageMaker's containers.
            model = torch.load(str(path), map_location=device, weights_only=False)
        except Exception as pickle_error:
            raise ModelLoadError(
                f"{path.name} is neither TorchScript ({summary(jit_error)}) nor a pickled model "
                f"({summary(pickle_error)}); {USAGE}."
            ) from pickle_error
        if isinstance(model, dict):
            raise ModelLoadError(
                f"{path.name} holds a state dict, not a model. Save TorchScript instead "
                "(torch.jit.save(torch.jit.script(net), 'model.pt')), or define model_fn(model_dir) in "
                "code/inference.py that builds the network and loads the state dict."
            ) from None
        if not isinstance(model, torch.nn.Module):
            raise ModelLoadError(
                f"{path.name} holds a {type(model).__name__}, not a torch module; {USAGE}."
            ) from None
    return model.eval()


class _TorchPredictor(ShapeReporter):
    def __init__(self, model: Any, as_numpy: bool) -> None:
        super().__init__()
        self._torch = torch_module()
        self._model = model
        self._as_numpy = as_numpy
        self._to_tensor = tensor_converter(model)

    def __call__(self, data: Any) -> Any:
        torch = self._torch
        if isinstance(data, torch.Tensor):  # from a user's input_fn
            tensor = data if data.is_floating_point() else data.float()
        else:
            tensor = self._to_tensor(np.asarray(data, dtype=np.float32))
        try:
            with torch.no_grad():
                output = self._model(tensor)
        except Exception as e:  # a shape or dtype the network cannot take: the request's fault
            raise self.rejected(data, e) from e
        self.accepted(data)
        return _to_numpy(torch, output) if self._as_numpy else output


def tensor_converter(model: Any) -> Callable[[Any], Any]:
    """Turns the default ``input_fn``'s float32 arrays into tensors on ``model``'s device.

    SageMaker's PyTorch ``input_fn`` hands a user's ``predict_fn`` a tensor, so Kiln's must too.
    """
    torch = torch_module()
    parameter = next(iter(model.parameters()), None)
    device = parameter.device if parameter is not None else torch.device("cpu")

    def convert(data: Any) -> Any:
        if not isinstance(data, np.ndarray):
            return data
        # from_numpy shares memory, and warns about read-only buffers such as NPY bodies decode to.
        tensor = torch.from_numpy(data if data.flags.writeable else data.copy())
        return tensor if tensor.device == device else tensor.to(device)

    return convert


def _to_numpy(torch: Any, output: Any) -> Any:
    if isinstance(output, torch.Tensor):
        return output.detach().cpu().numpy()
    if isinstance(output, (list, tuple)):
        return type(output)(_to_numpy(torch, item) for item in output)
    if isinstance(output, dict):
        return {key: _to_numpy(torch, value) for key, value in output.items()}
    return output
