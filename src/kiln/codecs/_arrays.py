"""Turning the array-likes that models return (numpy, torch) into numpy without importing torch."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["as_numpy", "describe", "jsonable"]


def as_numpy(obj: Any) -> npt.NDArray[Any] | None:
    """``obj`` as an ndarray when it is an array or array scalar, else ``None``.

    Torch tensors are recognised by duck typing (``detach``/``cpu``/``numpy``) so that importing the
    codecs never imports torch, which costs seconds and is an optional dependency.
    """
    if isinstance(obj, np.ndarray):
        return obj
    if isinstance(obj, np.generic):
        return np.asarray(obj)
    if hasattr(obj, "detach") and hasattr(obj, "cpu") and hasattr(obj, "numpy"):
        tensor = obj.detach().cpu()
        try:
            return np.asarray(tensor.numpy())
        except TypeError:
            # numpy has no bfloat16 (and torch refuses to export it); float32 holds every such value.
            return np.asarray(tensor.float().numpy())
    return None


def jsonable(obj: Any) -> Any:
    """A ``json.dumps`` ``default`` hook: arrays, tensors and numpy scalars become lists and numbers."""
    array = as_numpy(obj)
    if array is not None:
        return array.tolist()
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def describe(obj: Any) -> str:
    """A short description of ``obj`` for error messages (type, and shape/dtype for arrays)."""
    array = as_numpy(obj)
    if array is not None:
        return f"{type(obj).__name__} of shape {array.shape} and dtype {array.dtype}"
    return type(obj).__name__
