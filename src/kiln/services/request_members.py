"""A request parsed into its typed form where Kiln acts on it, every other member kept as submitted.

SageMaker's SDK sends members Kiln has no use for (DebugHookConfig, VpcConfig, encryption keys, …).
Refusing them would break unmodified code, and dropping them would make Describe answer differently
from what was created; so the AWS wire and pipeline steps parse only the members the typed request
names, and store the request with the checked values (and their defaults) laid over it.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import pydantic
from pydantic import BaseModel

from kiln.errors import ValidationError

__all__ = ["describe_shape_errors", "known_members", "overlay", "parse_known"]

M = typing.TypeVar("M", bound=BaseModel)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``X``, ``X | None`` or ``list[X]``; None for plain values."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def known_members(
    model: type[BaseModel], data: dict[str, Any], path: str = "", ignored: list[str] | None = None
) -> dict[str, Any]:
    """``data`` without the members ``model`` does not name (at every depth); each one left out is
    appended to ``ignored`` as a dotted path."""
    known: dict[str, Any] = {}
    for key, value in data.items():
        field = model.model_fields.get(key)
        if field is None:
            if ignored is not None:
                ignored.append(f"{path}{key}")
            continue
        inner = _model_in(field.annotation)
        if inner is not None and isinstance(value, dict):
            known[key] = known_members(inner, value, f"{path}{key}.", ignored)
        elif inner is not None and isinstance(value, list):
            known[key] = [
                known_members(inner, item, f"{path}{key}[{i}].", ignored) if isinstance(item, dict) else item
                for i, item in enumerate(value)
            ]
        else:
            known[key] = value
    return known


def overlay(checked: Any, original: Any) -> Any:
    """``original`` with the checked values (and their defaults) laid over it."""
    if isinstance(checked, dict) and isinstance(original, dict):
        merged = dict(original)
        for key, value in checked.items():
            merged[key] = overlay(value, original[key]) if key in original else value
        return merged
    if isinstance(checked, list) and isinstance(original, list) and len(checked) == len(original):
        return [overlay(c, o) for c, o in zip(checked, original, strict=True)]
    return checked


def describe_shape_errors(errors: typing.Sequence[Any]) -> str:
    """Pydantic's errors as one line: ``field.path: what is wrong (got value)``, at most five."""
    problems = []
    for error in errors[:5]:
        parts = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path")]
        got = error.get("input")
        shown = "" if isinstance(got, dict) or got is None else f" (got {got!r})"
        problems.append(f"{'.'.join(parts) or 'request'}: {error.get('msg', 'invalid')}{shown}")
    return "; ".join(problems)


def parse_known(model: type[M], data: dict[str, Any]) -> tuple[M, dict[str, Any]]:
    """The typed request from the members ``model`` names, and the request to store: ``data`` with
    the checked values laid over it. A value that does not fit is a ValidationError naming the field."""
    try:
        typed = model.model_validate(known_members(model, data))
    except pydantic.ValidationError as e:
        raise ValidationError(describe_shape_errors(e.errors())) from None
    return typed, overlay(typed.model_dump(exclude_none=True), data)
