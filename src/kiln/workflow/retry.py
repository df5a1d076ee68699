"""Importable as ``sagemaker.workflow.retry`` is;
the classes live in ``kiln.sdk.workflow.retry``.
"""

from __future__ import annotations

from kiln.sdk.workflow.retry import (
    SageMakerJobExceptionTypeEnum,
    SageMakerJobStepRetryPolicy,
    StepExceptionTypeEnum,
    StepRetryPolicy,
)

__all__ = [
    "SageMakerJobExceptionTypeEnum",
    "SageMakerJobStepRetryPolicy",
    "StepExceptionTypeEnum",
    "StepRetryPolicy",
]
