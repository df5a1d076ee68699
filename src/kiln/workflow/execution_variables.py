"""Importable as ``sagemaker.workflow.execution_variables`` is;
the classes live in ``kiln.sdk.workflow.execution_variables``.
"""

from __future__ import annotations

from kiln.sdk.workflow.execution_variables import (
    ExecutionVariable,
    ExecutionVariables,
)

__all__ = ["ExecutionVariable", "ExecutionVariables"]
