"""Importable as ``sagemaker.workflow.fail_step`` is;
the classes live in ``kiln.sdk.workflow.steps``.
"""

from __future__ import annotations

from kiln.sdk.workflow.steps import (
    FailStep,
)

__all__ = ["FailStep"]
