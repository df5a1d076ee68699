"""Resolving a step's arguments: ``Get`` (parameters, execution variables, step properties),
``Std:Join``, ``Std:JsonGet``, and evaluating a Condition step's conditions."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiln.errors import ValidationError
from kiln.services.pipelines.properties import PropertyPathError, parse_path, walk_path

__all__ = ["Resolver", "evaluate_conditions", "render"]


def render(value: Any) -> str:
    """A value as text in a Join (booleans as JSON writes them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


@dataclass
class Resolver:
    parameters: dict[str, Any]
    execution: dict[str, Any]  # Execution.<Var>
    step_properties: Callable[[str], Any]  # a finished step's Describe* response (or {"Outcome"})
    property_file: Callable[[str, str], Any]  # (step, PropertyFileName) → the parsed JSON file
    read_json: Callable[[str], Any]  # an S3 URI → the parsed JSON file

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Get"} and isinstance(value["Get"], str):
            return self._get(value["Get"])
        if set(value) == {"Std:Join"}:
            join = value["Std:Join"]
            return str(join.get("On", "")).join(render(self.resolve(v)) for v in join.get("Values") or [])
        if set(value) == {"Std:JsonGet"}:
            return self._json_get(value["Std:JsonGet"])
        return {k: self.resolve(v) for k, v in value.items()}

    def _get(self, target: str) -> Any:
        head, _, rest = target.partition(".")
        if head == "Parameters":
            return self.parameters[rest]
        if head == "Execution":
            return self.execution[rest]
        step, _, path = rest.partition(".")
        tokens = parse_path(path)
        if tokens and tokens[0] == "PropertyFiles":
            raise ValidationError(f"{target} is a property file; read it with Std:JsonGet")
        return walk_path(self.step_properties(step), tokens, f"Steps.{step}.{path}")

    def _json_get(self, spec: dict[str, Any]) -> Any:
        path = str(self.resolve(spec.get("Path", "")))
        holder = spec.get("PropertyFile")
        if isinstance(holder, dict) and isinstance(holder.get("Get"), str):
            _, step, _, name = holder["Get"].split(".", 3)
            document, shown = self.property_file(step, name), f"property file {name} of step {step}"
        else:
            uri = str(self.resolve(spec.get("S3Uri")))
            document, shown = self.read_json(uri), uri
        try:
            return walk_path(document, parse_path(path), f"JsonGet {path!r} in {shown}")
        except PropertyPathError as e:
            raise ValidationError(e.message) from None


def _number(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _compare(kind: str, left: Any, right: Any) -> bool:
    if kind == "Equals":
        if isinstance(left, bool) or isinstance(right, bool):
            return bool(left == right)
        if isinstance(left, int | float) and isinstance(right, int | float):
            return bool(left == right)
        return render(left) == render(right)
    a, b = _number(left), _number(right)
    try:
        if kind == "GreaterThan":
            return bool(a > b)
        if kind == "GreaterThanOrEqualTo":
            return bool(a >= b)
        if kind == "LessThan":
            return bool(a < b)
        if kind == "LessThanOrEqualTo":
            return bool(a <= b)
    except TypeError:
        raise ValidationError(f"{kind} cannot compare {left!r} with {right!r}") from None
    raise ValidationError(f"Condition type {kind!r} is not known")


def _holds(condition: dict[str, Any], resolver: Resolver) -> bool:
    kind = condition.get("Type")
    if kind == "Not":
        return not _holds(condition["Condition"], resolver)
    if kind == "Or":
        return any(_holds(c, resolver) for c in condition.get("Conditions") or [])
    if kind == "In":
        query = resolver.resolve(condition.get("QueryValue", condition.get("Value")))
        values = [resolver.resolve(v) for v in condition.get("Values", condition.get("In")) or []]
        return any(_compare("Equals", query, v) for v in values)
    left = resolver.resolve(condition.get("LeftValue"))
    right = resolver.resolve(condition.get("RightValue"))
    return _compare(str(kind), left, right)


def evaluate_conditions(conditions: list[dict[str, Any]], resolver: Resolver) -> bool:
    """A Condition step's Conditions all hold (an AND)."""
    return all(_holds(c, resolver) for c in conditions)
