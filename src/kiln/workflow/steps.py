"""Importable as ``sagemaker.workflow.steps`` is;
the classes live in ``kiln.sdk.workflow.steps``.
"""

from __future__ import annotations

from kiln.sdk.workflow.steps import (
    CacheConfig,
    CreateModelStep,
    ProcessingStep,
    Step,
    TrainingStep,
    TransformStep,
    TuningStep,
)

__all__ = [
    "CacheConfig",
    "CreateModelStep",
    "ProcessingStep",
    "Step",
    "TrainingStep",
    "TransformStep",
    "TuningStep",
]
