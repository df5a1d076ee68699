"""Kiln: SageMaker's machine-learning workflow on your own machines.

The public SDK names load on first use, so ``python -m kiln.runtime.training`` (which runs inside every
job) does not pay for the SDK's imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "PCA",
    "CategoricalParameter",
    "ContinuousParameter",
    "Estimator",
    "HyperparameterTuner",
    "IntegerParameter",
    "KMeans",
    "KMeansPredictor",
    "LinearLearner",
    "LinearLearnerPredictor",
    "Model",
    "PCAPredictor",
    "Predictor",
    "PyTorch",
    "PyTorchModel",
    "PyTorchPredictor",
    "RecordSet",
    "Session",
    "TensorBoardOutputConfig",
    "TrainingInput",
    "Transformer",
    "WarmStartConfig",
    "__version__",
    "deserializers",
    "errors",
    "get_execution_role",
    "image_uris",
    "serializers",
]

_LAZY = {
    "Model": "kiln.sdk.model",
    "PyTorchModel": "kiln.sdk.frameworks.pytorch",
    "Predictor": "kiln.sdk.predictor",
    "PyTorchPredictor": "kiln.sdk.frameworks.pytorch",
    "Estimator": "kiln.estimator",  # with the built-in algorithms' estimator registered
    "PyTorch": "kiln.sdk.frameworks.pytorch",
    "Session": "kiln.sdk.session",
    "get_execution_role": "kiln.sdk.session",
    "TrainingInput": "kiln.sdk.inputs",
    "TensorBoardOutputConfig": "kiln.sdk.inputs",
    "HyperparameterTuner": "kiln.sdk.tuner",
    "ContinuousParameter": "kiln.sdk.tuning_parameters",
    "IntegerParameter": "kiln.sdk.tuning_parameters",
    "CategoricalParameter": "kiln.sdk.tuning_parameters",
    "WarmStartConfig": "kiln.sdk.tuner",
    "LinearLearner": "kiln.sdk.amazon_estimators",
    "KMeans": "kiln.sdk.amazon_estimators",
    "PCA": "kiln.sdk.amazon_estimators",
    "RecordSet": "kiln.sdk.amazon_estimators",
    "LinearLearnerPredictor": "kiln.sdk.amazon_estimators",
    "KMeansPredictor": "kiln.sdk.amazon_estimators",
    "PCAPredictor": "kiln.sdk.amazon_estimators",
    "Transformer": "kiln.sdk.transformer",
}
_SUBMODULES = {"deserializers", "errors", "serializers", "image_uris"}

if TYPE_CHECKING:
    import kiln.deserializers as deserializers
    import kiln.errors as errors
    import kiln.image_uris as image_uris
    import kiln.serializers as serializers
    from kiln.sdk.amazon_estimators import (
        PCA,
        KMeans,
        KMeansPredictor,
        LinearLearner,
        LinearLearnerPredictor,
        PCAPredictor,
        RecordSet,
    )
    from kiln.sdk.estimator import Estimator
    from kiln.sdk.frameworks.pytorch import PyTorch, PyTorchModel, PyTorchPredictor
    from kiln.sdk.inputs import TensorBoardOutputConfig, TrainingInput
    from kiln.sdk.model import Model
    from kiln.sdk.predictor import Predictor
    from kiln.sdk.session import Session, get_execution_role
    from kiln.sdk.transformer import Transformer
    from kiln.sdk.tuner import HyperparameterTuner, WarmStartConfig
    from kiln.sdk.tuning_parameters import CategoricalParameter, ContinuousParameter, IntegerParameter


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
