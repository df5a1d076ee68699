"""An AWS request as Kiln's services take it: the members Kiln acts on checked by the same pydantic
shapes as the REST API, and every other member kept verbatim.

SageMaker's SDK sends members Kiln has no use for (DebugHookConfig, ProfilerConfig, VpcConfig,
encryption keys, …). Refusing them would break unmodified code, and dropping them would make
Describe answer differently from what was created; so they are accepted, stored with the request,
echoed by Describe, and listed in docs/wire.md as not acted on.
"""

from __future__ import annotations

import typing
from typing import Any

import pydantic
from pydantic import BaseModel

from kiln.errors import ValidationError
from kiln.services.request_members import known_members, overlay

__all__ = ["accept_request", "accept_typed", "ignored_members"]

M = typing.TypeVar("M", bound=BaseModel)


def _problem(error: Any) -> str:
    where = ".".join(str(p) for p in error.get("loc", ())) or "request"
    got = error.get("input")
    shown = "" if isinstance(got, (dict, list)) or got is None else f" (got {got!r})"
    return f"{where}: {error.get('msg', 'invalid')}{shown}"


def accept_typed(model: type[M], data: dict[str, Any]) -> tuple[M, dict[str, Any]]:
    """The typed request the services take, parsed from the members Kiln acts on, and the request to
    store: ``data`` with the checked values (and their defaults) laid over it."""
    known = known_members(model, data)
    try:
        typed = model.model_validate(known)
    except pydantic.ValidationError as e:
        problems = "; ".join(_problem(err) for err in e.errors()[:5])
        raise ValidationError(f"{e.error_count()} validation error(s) detected: {problems}") from None
    merged: dict[str, Any] = overlay(typed.model_dump(exclude_none=True), data)
    return typed, merged


def accept_request(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """``data`` checked against ``model`` where Kiln acts on it; members it does not act on kept."""
    return accept_typed(model, data)[1]


def ignored_members(model: type[BaseModel], data: dict[str, Any]) -> list[str]:
    """The members of ``data`` that Kiln accepts but does not act on, as dotted paths."""
    ignored: list[str] = []
    known_members(model, data, "", ignored)
    return ignored


def _present(data: Any, parts: list[str]) -> bool:
    if not parts:
        return data not in (None, [], {})
    head, rest = parts[0], parts[1:]
    if head.endswith("[]"):
        items = data.get(head[:-2]) if isinstance(data, dict) else None
        return isinstance(items, list) and any(_present(item, rest) for item in items)
    return isinstance(data, dict) and head in data and _present(data[head], rest)


def refuse_unsupported(data: dict[str, Any], unsupported: dict[str, str]) -> None:
    """Refuse members whose meaning Kiln cannot honour (ignoring them would change the result);
    ``unsupported`` maps a dotted path (``a.b[].c``) to what to do instead."""
    for path, instead in unsupported.items():
        if _present(data, path.split(".")):
            raise ValidationError(f"{path.replace('[]', '')} is not supported by Kiln: {instead}")
