"""TensorFlow Serving's REST JSON shapes: ``{"instances": ...}`` in, ``{"predictions": ...}`` out."""

from __future__ import annotations

from typing import Any

__all__ = ["tfs_instances", "tfs_response"]

# Row format ("instances") and columnar format ("inputs") both carry the model input; see
# https://www.tensorflow.org/tfx/serving/api_rest#request_format_2
_INPUT_KEYS = ("instances", "inputs")


def tfs_instances(obj: Any) -> Any:
    """The model input inside a TF Serving request: ``X`` for ``{"instances": X}`` or ``{"inputs": X}``.

    Anything else (a bare list, an array, a dict without those keys) is already the input and comes back
    unchanged, so SageMaker-style and TF Serving-style requests can share one handler.
    """
    if isinstance(obj, dict):
        for key in _INPUT_KEYS:
            if key in obj:
                return obj[key]
    return obj


def tfs_response(prediction: Any) -> dict[str, Any]:
    """``{"predictions": prediction}``, TF Serving's answer to a predict request.

    Arrays and tensors stay as they are; ``encode(..., "application/json")`` writes them as nested lists.
    """
    return {"predictions": prediction}
