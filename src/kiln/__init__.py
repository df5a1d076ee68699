"""Kiln: SageMaker's machine-learning workflow on your own machines.

The public SDK names load on first use, so ``python -m kiln.runtime.training`` (which runs inside every
job) does not pay for the SDK's imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Estimator",
    "PyTorch",
    "Session",
    "TensorBoardOutputConfig",
    "TrainingInput",
    "__version__",
    "deserializers",
    "errors",
    "serializers",
]

_LAZY = {
    "Estimator": "kiln.sdk.estimator",
    "PyTorch": "kiln.sdk.estimator",
    "Session": "kiln.sdk.session",
    "TrainingInput": "kiln.sdk.inputs",
    "TensorBoardOutputConfig": "kiln.sdk.inputs",
}
_SUBMODULES = {"deserializers", "errors", "serializers"}

if TYPE_CHECKING:
    import kiln.deserializers as deserializers
    import kiln.errors as errors
    import kiln.serializers as serializers
    from kiln.sdk.estimator import Estimator, PyTorch
    from kiln.sdk.inputs import TensorBoardOutputConfig, TrainingInput
    from kiln.sdk.session import Session


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"kiln.{name}")
    else:
        raise AttributeError(f"module 'kiln' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
