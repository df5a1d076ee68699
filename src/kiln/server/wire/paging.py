"""SageMaker's list pagination: ``MaxResults`` per page, an opaque ``NextToken`` for the next one."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any, TypeVar

from kiln.errors import ValidationError

__all__ = ["DEFAULT_PAGE", "page"]

T = TypeVar("T")
DEFAULT_PAGE = 10  # SageMaker's default MaxResults for its List operations
MAX_PAGE = 100


def _offset(token: str) -> int:
    try:
        offset = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("kiln:"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValidationError(
            f"Invalid pagination token {token!r}; pass the NextToken of the last answer"
        ) from None
    if offset < 0:
        raise ValidationError(f"Invalid pagination token {token!r}; pass the NextToken of the last answer")
    return offset


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"kiln:{offset}".encode()).decode()


def page(
    items: Sequence[T], params: dict[str, Any], default: int = DEFAULT_PAGE
) -> tuple[list[T], str | None]:
    """The page ``NextToken``/``MaxResults`` ask for, and the token of the next page (None at the end)."""
    size = int(params.get("MaxResults") or default)
    if not 1 <= size <= MAX_PAGE:
        raise ValidationError(f"MaxResults {size} must be between 1 and {MAX_PAGE}")
    start = _offset(params["NextToken"]) if params.get("NextToken") else 0
    chosen = list(items[start : start + size])
    return chosen, _token(start + size) if start + size < len(items) else None
