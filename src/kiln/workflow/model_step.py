"""Importable as ``sagemaker.workflow.model_step`` is;
the classes live in ``kiln.sdk.workflow.steps``.
"""

from __future__ import annotations

from kiln.sdk.workflow.steps import (
    ModelStep,
)

__all__ = ["ModelStep"]
