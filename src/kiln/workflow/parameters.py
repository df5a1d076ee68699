"""Importable as ``sagemaker.workflow.parameters`` is;
the classes live in ``kiln.sdk.workflow.parameters``.
"""

from __future__ import annotations

from kiln.sdk.workflow.parameters import (
    Parameter,
    ParameterBoolean,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
)

__all__ = ["Parameter", "ParameterBoolean", "ParameterFloat", "ParameterInteger", "ParameterString"]
