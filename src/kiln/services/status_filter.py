"""The one parser for ``status=`` filters of list operations: an unknown status names the choices."""

from __future__ import annotations

import enum
from typing import TypeVar

from kiln.errors import ValidationError

__all__ = ["parse_status"]

S = TypeVar("S", bound=enum.Enum)


def parse_status(statuses: type[S], value: str | None, what: str) -> S | None:
    if not value:
        return None
    try:
        return statuses(value)
    except ValueError:
        choices = ", ".join(str(s.value) for s in statuses)
        raise ValidationError(f"status {value!r} is not a {what} status; use one of {choices}") from None
