"""Importable as ``sagemaker.workflow.conditions`` is;
the classes live in ``kiln.sdk.workflow.conditions``.
"""

from __future__ import annotations

from kiln.sdk.workflow.conditions import (
    Condition,
    ConditionEquals,
    ConditionGreaterThan,
    ConditionGreaterThanOrEqualTo,
    ConditionIn,
    ConditionLessThan,
    ConditionLessThanOrEqualTo,
    ConditionNot,
    ConditionOr,
)

__all__ = [
    "Condition",
    "ConditionEquals",
    "ConditionGreaterThan",
    "ConditionGreaterThanOrEqualTo",
    "ConditionIn",
    "ConditionLessThan",
    "ConditionLessThanOrEqualTo",
    "ConditionNot",
    "ConditionOr",
]
