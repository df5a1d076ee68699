"""Conditions (``sagemaker.workflow.conditions``) a ConditionStep decides on."""

from __future__ import annotations

import abc
from typing import Any

from kiln.sdk.workflow.entities import to_definition

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


class Condition(abc.ABC):
    condition_type = ""

    @abc.abstractmethod
    def to_request(self) -> dict[str, Any]:
        """The condition as the pipeline definition writes it."""


class _Comparison(Condition):
    def __init__(self, left: Any, right: Any) -> None:
        self.left = left
        self.right = right

    def to_request(self) -> dict[str, Any]:
        return {
            "Type": self.condition_type,
            "LeftValue": to_definition(self.left),
            "RightValue": to_definition(self.right),
        }


class ConditionEquals(_Comparison):
    condition_type = "Equals"


class ConditionGreaterThan(_Comparison):
    condition_type = "GreaterThan"


class ConditionGreaterThanOrEqualTo(_Comparison):
    condition_type = "GreaterThanOrEqualTo"


class ConditionLessThan(_Comparison):
    condition_type = "LessThan"


class ConditionLessThanOrEqualTo(_Comparison):
    condition_type = "LessThanOrEqualTo"


class ConditionIn(Condition):
    condition_type = "In"

    def __init__(self, value: Any, in_values: list[Any]) -> None:
        self.value = value
        self.in_values = list(in_values)

    def to_request(self) -> dict[str, Any]:
        return {
            "Type": "In",
            "QueryValue": to_definition(self.value),
            "Values": to_definition(self.in_values),
        }


class ConditionNot(Condition):
    condition_type = "Not"

    def __init__(self, expression: Condition) -> None:
        self.expression = expression

    def to_request(self) -> dict[str, Any]:
        return {"Type": "Not", "Condition": self.expression.to_request()}


class ConditionOr(Condition):
    condition_type = "Or"

    def __init__(self, conditions: list[Condition]) -> None:
        self.conditions = list(conditions)

    def to_request(self) -> dict[str, Any]:
        return {"Type": "Or", "Conditions": [c.to_request() for c in self.conditions]}
