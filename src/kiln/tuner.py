"""Hyperparameter tuning, importable as ``sagemaker.tuner`` is.

``from kiln.tuner import HyperparameterTuner, ContinuousParameter`` works the way ``from sagemaker.tuner
import HyperparameterTuner, ContinuousParameter`` does; the classes live in ``kiln.sdk``.
"""

from __future__ import annotations

from kiln.sdk.tuner import (
    CategoricalParameter,
    ContinuousParameter,
    HyperparameterTuner,
    IntegerParameter,
    ParameterRange,
    WarmStartConfig,
    WarmStartTypes,
)
from kiln.sdk.tuner_analytics import HyperparameterTuningJobAnalytics

__all__ = [
    "CategoricalParameter",
    "ContinuousParameter",
    "HyperparameterTuner",
    "HyperparameterTuningJobAnalytics",
    "IntegerParameter",
    "ParameterRange",
    "WarmStartConfig",
    "WarmStartTypes",
]
