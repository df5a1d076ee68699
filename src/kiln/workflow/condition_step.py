"""Importable as ``sagemaker.workflow.condition_step`` is;
the classes live in ``kiln.sdk.workflow.steps``.
"""

from __future__ import annotations

from kiln.sdk.workflow.steps import (
    ConditionStep,
)

__all__ = ["ConditionStep"]
