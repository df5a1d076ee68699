"""Kiln's default handlers, used for every function the user's ``code/inference.py`` leaves out.

They follow SageMaker's PyTorch and scikit-learn containers: ``model_fn`` loads a TorchScript
``model.pt`` (or the single ``*.pt``/``*.pth``, falling back to a pickled ``nn.Module``) or a
``model.joblib``/``*.pkl``; ``input_fn`` decodes the body with ``kiln.codecs`` and unwraps TF
Serving's ``{"instances": ...}``; ``predict_fn`` runs the model (eval mode, no autograd) or calls
``predict``; ``output_fn`` encodes with ``kiln.codecs``, answering ``{"predictions": ...}`` to a TF
Serving-shaped request.

torch is imported only when a PyTorch model is found: it costs seconds, and a scikit-learn endpoint
should not pay them.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from kiln import codecs
from kiln.codecs._arrays import as_numpy
from kiln.codecs.content_types import NPY, NPZ, TENSOR_PROTO
from kiln.codecs.limits import DEFAULT_MAX_DECODED_BYTES, PAYLOAD_LIMIT_BYTES
from kiln.errors import PayloadTooLarge, UserError, ValidationError

__all__ = [
    "ModelLoadError",
    "decode_default",
    "default_predictor",
    "encode_default",
    "limit_torch_threads",
    "load_default_model",
    "model_framework",
    "response_too_large",
    "tensor_converter",
]

TORCH_SUFFIXES = (".pt", ".pth")
SKLEARN_SUFFIXES = (".joblib", ".pkl")
_BINARY_TYPES = frozenset({NPY, NPZ, TENSOR_PROTO})  # raw values: at least nbytes on the wire
_MAX_REASON_CHARS = 400  # error messages travel in HTTP bodies and one-line failure reasons
_USAGE = (
    "put a TorchScript model.pt (torch.jit.save(torch.jit.script(net), 'model.pt')) or a joblib "
    "model.joblib at the root of model.tar.gz, or define model_fn(model_dir) in code/inference.py"
)


class ModelLoadError(UserError):
    """The model or its inference code cannot be served; the message says why and what to change."""


def torch_module() -> Any:
    """The ``torch`` module, imported now if nobody has yet."""
    return importlib.import_module("torch")


def limit_torch_threads(threads: int | None) -> None:
    """Cap torch's intra-op threads in the calling thread, if torch is loaded at all."""
    torch = sys.modules.get("torch")
    if torch is not None and threads is not None:
        torch.set_num_threads(threads)


def load_default_model(model_dir: Path) -> Any:
    """SageMaker's default ``model_fn``: the PyTorch or scikit-learn model found in ``model_dir``."""
    files = sorted(p for p in model_dir.iterdir() if p.is_file()) if model_dir.is_dir() else []
    path = _pick(files, "model.pt", TORCH_SUFFIXES)
    if path is not None:
        return _load_torch(path)
    path = _pick(files, "model.joblib", SKLEARN_SUFFIXES)
    if path is not None:
        joblib = importlib.import_module("joblib")
        model = joblib.load(path)
        if not callable(getattr(model, "predict", None)):
            raise ModelLoadError(
                f"{path.name} holds a {type(model).__name__}, which has no predict(); save a fitted "
                "scikit-learn estimator with joblib.dump(model, 'model.joblib'), or define predict_fn."
            )
        return model
    names = ", ".join(p.name for p in files) or "nothing"
    raise ModelLoadError(f"No model file found in {model_dir} (it holds {names}); {_USAGE}.")


def _pick(files: list[Path], preferred: str, suffixes: tuple[str, ...]) -> Path | None:
    for path in files:
        if path.name == preferred:
            return path
    candidates = [p for p in files if p.suffix in suffixes]
    if len(candidates) > 1:
        names = ", ".join(p.name for p in candidates)
        raise ModelLoadError(
            f"Several model files ({names}) and none named {preferred}; rename the one to serve to "
            f"{preferred}, or define model_fn(model_dir) in code/inference.py to choose."
        )
    return candidates[0] if candidates else None


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
                f"{path.name} is neither TorchScript ({_summary(jit_error)}) nor a pickled model "
                f"({_summary(pickle_error)}); {_USAGE}."
            ) from pickle_error
        if isinstance(model, dict):
            raise ModelLoadError(
                f"{path.name} holds a state dict, not a model. Save TorchScript instead "
                "(torch.jit.save(torch.jit.script(net), 'model.pt')), or define model_fn(model_dir) in "
                "code/inference.py that builds the network and loads the state dict."
            ) from None
        if not isinstance(model, torch.nn.Module):
            raise ModelLoadError(
                f"{path.name} holds a {type(model).__name__}, not a torch module; {_USAGE}."
            ) from None
    return model.eval()


def decode_default(
    body: bytes, content_type: str, for_torch: bool, max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES
) -> tuple[Any, bool]:
    """The default ``input_fn``: ``(model input, whether the body was TF Serving-shaped)``.

    The input comes back as an ndarray (float32 for torch, as scikit-learn expects otherwise) so
    that same-shaped requests can be stacked into one batch.
    """
    obj = codecs.decode(body, content_type, max_decoded_bytes=max_decoded_bytes)
    tfs = isinstance(obj, dict) and ("instances" in obj or "inputs" in obj)
    data = codecs.tfs_instances(obj)
    if isinstance(data, dict):
        keys = ", ".join(sorted(map(str, data))[:5])
        raise ValidationError(
            f"The input is an object with keys {keys}, not an array. Send a (nested) list of numbers, "
            'or TF Serving\'s {"instances": [...]}.'
        )
    try:
        return (np.asarray(data, dtype=np.float32) if for_torch else np.asarray(data)), tfs
    except (ValueError, TypeError) as e:
        raise ValidationError(
            f"The input cannot be read as {'a float32 tensor' if for_torch else 'an array'} ({_summary(e)}). "
            "Send a rectangular (nested) list of numbers, e.g. [[0.1, 0.2], [0.3, 0.4]]."
        ) from e


def encode_default(
    prediction: Any, response_type: str, tfs: bool, max_bytes: int = PAYLOAD_LIMIT_BYTES
) -> bytes:
    """The default ``output_fn``: ``prediction`` in ``response_type``, TF Serving-shaped if asked so.

    An array whose encoding cannot fit ``max_bytes`` is refused before it is encoded: writing 600 MB
    of JSON takes the model's thread for most of a minute, and the answer would be refused anyway.
    """
    array = as_numpy(prediction)
    if array is not None:
        fewest = array.nbytes if response_type in _BINARY_TYPES else 2 * array.size - 1  # "1," per value
        if fewest > max_bytes:
            raise response_too_large(f"at least {fewest:,}", max_bytes)
    if tfs and response_type == codecs.canonical_content_type("application/json"):
        return codecs.encode(codecs.tfs_response(prediction), response_type)
    return codecs.encode(prediction, response_type)


def response_too_large(size: str, max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The model's response is {size} bytes, over the {max_bytes:,}-byte limit of InvokeEndpoint "
        "responses (SAGEMAKER_MAX_PAYLOAD_IN_MB); send fewer records per request, or return less."
    )


def model_framework(model: Any) -> str:
    """``"pytorch"`` for a torch module, ``"sklearn"`` for anything with ``predict``, else ``"custom"``."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(model, torch.nn.Module):
        return "pytorch"
    return "sklearn" if callable(getattr(model, "predict", None)) else "custom"


def default_predictor(model: Any, as_numpy: bool) -> Callable[[Any], Any]:
    """The default ``predict_fn`` with ``model`` bound.

    ``as_numpy``: hand back numpy instead of tensors (Kiln's own ``output_fn`` wants nothing else).
    """
    framework = model_framework(model)
    if framework == "pytorch":
        return _TorchPredictor(model, as_numpy)
    if framework == "sklearn":
        return _EstimatorPredictor(model)
    raise ModelLoadError(
        f"model_fn returned a {type(model).__name__}, which is neither a torch module nor has predict(); "
        "define predict_fn(data, model) in code/inference.py."
    )


class _ShapeReporter:
    """Turns a model's failure on one input into a 400 that says what was sent and what worked."""

    def __init__(self) -> None:
        self.worked: str | None = None  # a description of an input the model accepted

    def rejected(self, data: Any, error: Exception) -> ValidationError:
        sent = _describe(data)
        hint = f"; inputs like {self.worked} have worked on this endpoint" if self.worked else ""
        return ValidationError(
            f"The model cannot run on the input ({sent}): {_summary(error)}. "
            f"Send an input shaped the way the model expects{hint}."
        )

    def accepted(self, data: Any) -> None:
        if self.worked is None:
            self.worked = _describe(data)


class _TorchPredictor(_ShapeReporter):
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


class _EstimatorPredictor(_ShapeReporter):
    def __init__(self, model: Any) -> None:
        super().__init__()
        self._predict = model.predict

    def __call__(self, data: Any) -> Any:
        try:
            prediction = self._predict(data)
        except (ValueError, TypeError, IndexError) as e:  # wrong feature count, 1-D input, bad dtype
            raise self.rejected(data, e) from e
        self.accepted(data)
        return prediction


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


def _describe(data: Any) -> str:
    shape = getattr(data, "shape", None)
    if shape is not None:
        return f"shape {tuple(shape)}, {getattr(data, 'dtype', '?')}"
    return type(data).__name__


def _summary(error: BaseException) -> str:
    """One line naming the problem; TorchScript's multi-line reports end in the line that matters."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    text = lines[-1] if "TorchScript" in lines[0] or "Traceback" in lines[0] else " ".join(lines)
    return text if len(text) <= _MAX_REASON_CHARS else text[: _MAX_REASON_CHARS - 1] + "…"
