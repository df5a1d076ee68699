"""The contract of a framework adapter: how Kiln's default handlers load, feed and answer one framework.

An adapter is SageMaker's framework container reduced to its default handlers. For the functions
that ``code/inference.py`` leaves out, the handler chain asks the adapter of the loaded model:

* ``load(model_dir, files)``: the model this framework finds in the archive, or None when there is
  none of its kind (the next adapter is asked); a file of its kind that cannot be loaded raises
  ``ModelLoadError`` saying why and what to change.
* ``owns(model)``: whether a model (maybe returned by the user's ``model_fn``) is this framework's.
* ``decode(inv)``: the default ``input_fn`` on the event loop; sets ``inv.data`` (an ndarray when
  requests of the same shape may be merged into one batch) and ``inv.tfs``.
* ``predictor(model, as_numpy)``: the default ``predict_fn`` with the model bound.
* ``encode(prediction, inv)``: the default ``output_fn``'s body for ``inv.response_type``.

Adapters hold no per-request state and run on the model's worker thread, except ``decode`` (the event
loop). Frameworks are imported lazily: an adapter imports its framework only once it finds a model
of its kind, so a scikit-learn endpoint never pays for importing TensorFlow.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from kiln import codecs
from kiln.codecs._arrays import as_numpy
from kiln.errors import UserError, ValidationError

if TYPE_CHECKING:
    from kiln.runtime.serving.invocation import Invocation

__all__ = ["FrameworkAdapter", "ModelLoadError", "ShapeReporter", "decode_array", "describe", "summary"]

# A batch transform's instance (SageMaker sets SAGEMAKER_BATCH=true for them): SageMaker's framework
# containers write CSV with numpy.savetxt, which puts a 1-D prediction one value per line, so each
# record of a MultiRecord request gets its own output line. Endpoints keep Kiln's one-line answer.
_BATCH = os.environ.get("SAGEMAKER_BATCH", "").lower() == "true"
_CSV = codecs.canonical_content_type("text/csv")
_MAX_REASON_CHARS = 400  # error messages travel in HTTP bodies and one-line failure reasons


class ModelLoadError(UserError):
    """The model or its inference code cannot be served; the message says why and what to change."""


class FrameworkAdapter(abc.ABC):
    """One framework's default handlers (see the module docstring for the contract)."""

    name: ClassVar[str]
    # The element type the default input_fn gives: float32 for networks, None to keep what was sent.
    input_dtype: ClassVar[Any] = None
    # The Accept types its encode answers in; None: Kiln's codecs' (codecs.SUPPORTED_RESPONSE_TYPES).
    response_types: ClassVar[tuple[str, ...] | None] = None

    @abc.abstractmethod
    def load(self, model_dir: Path, files: list[Path]) -> Any | None:
        """The model found among ``files`` (the archive's top-level files), or None."""

    @abc.abstractmethod
    def owns(self, model: Any) -> bool:
        """Whether ``model`` is served by this adapter."""

    @abc.abstractmethod
    def predictor(self, model: Any, as_numpy: bool) -> Callable[[Any], Any]:
        """The default ``predict_fn`` with ``model`` bound (numpy out when ``as_numpy``)."""

    def decode(self, inv: Invocation) -> None:
        inv.data, inv.tfs = decode_array(inv.body, inv.content_type, self.input_dtype)

    def encode(self, prediction: Any, inv: Invocation) -> bytes:
        if inv.tfs and inv.response_type == codecs.canonical_content_type("application/json"):
            return codecs.encode(codecs.tfs_response(prediction), inv.response_type)
        if _BATCH and inv.response_type == _CSV:
            array = as_numpy(prediction)
            if array is not None and array.ndim == 1:
                prediction = array.reshape(-1, 1)
        return codecs.encode(prediction, inv.response_type)


def decode_array(body: bytes, content_type: str, dtype: Any) -> tuple[Any, bool]:
    """``(the body as an ndarray, whether it was TF Serving-shaped)``; ``dtype`` None keeps numpy's."""
    obj = codecs.decode(body, content_type)
    tfs = isinstance(obj, dict) and ("instances" in obj or "inputs" in obj)
    data = codecs.tfs_instances(obj)
    if isinstance(data, dict):
        keys = ", ".join(sorted(map(str, data))[:5])
        raise ValidationError(
            f"The input is an object with keys {keys}, not an array. Send a (nested) list of numbers, "
            'or TF Serving\'s {"instances": [...]}.'
        )
    try:
        return np.asarray(data, dtype=dtype), tfs
    except (ValueError, TypeError) as e:
        raise ValidationError(
            f"The input cannot be read as {'a float32 tensor' if dtype is not None else 'an array'} "
            f"({summary(e)}). Send a rectangular (nested) list of numbers, e.g. [[0.1, 0.2], [0.3, 0.4]]."
        ) from e


class ShapeReporter:
    """Turns a model's failure on one input into a 400 that says what was sent and what worked."""

    def __init__(self) -> None:
        self.worked: str | None = None  # a description of an input the model accepted

    def rejected(self, data: Any, error: Exception) -> ValidationError:
        sent = describe(data)
        hint = f"; inputs like {self.worked} have worked on this endpoint" if self.worked else ""
        return ValidationError(
            f"The model cannot run on the input ({sent}): {summary(error)}. "
            f"Send an input shaped the way the model expects{hint}."
        )

    def accepted(self, data: Any) -> None:
        if self.worked is None:
            self.worked = describe(data)


def describe(data: Any) -> str:
    shape = getattr(data, "shape", None)
    if shape is not None:
        return f"shape {tuple(shape)}, {getattr(data, 'dtype', '?')}"
    return type(data).__name__


def summary(error: BaseException) -> str:
    """One line naming the problem; TorchScript's multi-line reports end in the line that matters."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    text = lines[-1] if "TorchScript" in lines[0] or "Traceback" in lines[0] else " ".join(lines)
    return text if len(text) <= _MAX_REASON_CHARS else text[: _MAX_REASON_CHARS - 1] + "…"


def pick_file(files: list[Path], preferred: str, suffixes: tuple[str, ...]) -> Path | None:
    """``preferred`` if present, else the one file with one of ``suffixes`` (several: an error)."""
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
