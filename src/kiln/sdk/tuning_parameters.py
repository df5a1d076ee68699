"""Hyperparameter ranges for ``HyperparameterTuner`` (SageMaker's ``sagemaker.tuner`` parameter classes)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any, ClassVar

from kiln.errors import ValidationError

__all__ = [
    "SCALING_TYPES",
    "CategoricalParameter",
    "ContinuousParameter",
    "IntegerParameter",
    "ParameterRange",
    "decode_hyperparameter",
    "ranges_from_request",
]

SCALING_TYPES = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")


def decode_hyperparameter(value: str) -> Any:
    """A hyperparameter as the script sees it: JSON-decoded where it parses (the SDK JSON-encodes)."""
    try:
        return json.loads(value)
    except (json.JSONDecodeError, TypeError):
        return value


class ParameterRange:
    """A numeric range: ``min_value`` to ``max_value`` (both included), searched on ``scaling_type``."""

    kind: ClassVar[str] = "Numeric"  # SageMaker's range kind: "Continuous", "Integer", "Categorical"
    cast_to_type: ClassVar[type[float] | type[int]] = float

    def __init__(self, min_value: float | int, max_value: float | int, scaling_type: str = "Auto") -> None:
        kind = type(self).__name__
        for label, value in (("min_value", min_value), ("max_value", max_value)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValidationError(f"{kind}: {label} {value!r} must be a finite number")
        if self.cast_to_type is int and (int(min_value) != min_value or int(max_value) != max_value):
            raise ValidationError(
                f"{kind}: min_value and max_value must be whole numbers (got {min_value}, {max_value})"
            )
        if min_value > max_value:
            raise ValidationError(
                f"{kind}: min_value {min_value} is greater than max_value {max_value}; swap them"
            )
        if scaling_type not in SCALING_TYPES:
            raise ValidationError(
                f"{kind}: scaling_type {scaling_type!r} is not valid; use one of {', '.join(SCALING_TYPES)}"
            )
        self.min_value = self.cast_to_type(min_value)
        self.max_value = self.cast_to_type(max_value)
        self.scaling_type = scaling_type

    def is_valid(self, value: Any) -> bool:
        return bool(self.min_value <= value <= self.max_value)

    def as_tuning_range(self, name: str) -> dict[str, str]:
        return {
            "Name": name,
            "MinValue": str(self.min_value),
            "MaxValue": str(self.max_value),
            "ScalingType": self.scaling_type,
        }

    def __repr__(self) -> str:
        bounds = f"{self.min_value!r}, {self.max_value!r}"
        return f"{type(self).__name__}({bounds}, scaling_type={self.scaling_type!r})"


class ContinuousParameter(ParameterRange):
    kind = "Continuous"
    cast_to_type = float


class IntegerParameter(ParameterRange):
    kind = "Integer"
    cast_to_type = int


class CategoricalParameter(ParameterRange):
    """A list of values; each is JSON-encoded for the training job, as SageMaker does for frameworks."""

    kind = "Categorical"

    def __init__(self, values: Sequence[Any] | Any) -> None:
        listed = list(values) if isinstance(values, (list, tuple)) else [values]
        if not listed:
            raise ValidationError("CategoricalParameter needs at least one value")
        self.values = listed

    def is_valid(self, value: Any) -> bool:
        return value in self.values

    def as_tuning_range(self, name: str) -> dict[str, Any]:
        return {"Name": name, "Values": [json.dumps(v) for v in self.values]}

    def __repr__(self) -> str:
        return f"CategoricalParameter({self.values!r})"


def ranges_from_request(parameter_ranges: dict[str, Any]) -> dict[str, ParameterRange]:
    """The parameter objects of a tuning job's ``ParameterRanges`` (for ``HyperparameterTuner.attach``)."""
    ranges: dict[str, ParameterRange] = {}
    for item in parameter_ranges.get("ContinuousParameterRanges") or []:
        ranges[item["Name"]] = ContinuousParameter(
            float(item["MinValue"]), float(item["MaxValue"]), item.get("ScalingType", "Auto")
        )
    for item in parameter_ranges.get("IntegerParameterRanges") or []:
        ranges[item["Name"]] = IntegerParameter(
            int(item["MinValue"]), int(item["MaxValue"]), item.get("ScalingType", "Auto")
        )
    for item in parameter_ranges.get("CategoricalParameterRanges") or []:
        ranges[item["Name"]] = CategoricalParameter([decode_hyperparameter(v) for v in item["Values"]])
    return ranges
