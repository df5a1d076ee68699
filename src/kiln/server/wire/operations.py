"""One SageMaker operation on the wire: what it calls, and how SageMaker words its refusals.

Each entry of ``sagemaker.OPERATIONS`` is an ``Operation``: a function of (call, request members)
that calls the existing service (``app.state.training_jobs``, ``endpoints``, ``tuning_jobs``) and
returns its answer in Kiln's describe shape; the table's dispatcher checks the request against
botocore's input shape, runs it, and trims the answer to the output shape. ``missing`` and
``conflict`` give SageMaker's own code and words for a Kiln ``NotFound`` / ``Conflict`` where they
differ from the classes' ``aws_code`` (SageMaker answers a missing training job with a
ValidationException "Requested resource not found.", not a ResourceNotFound).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kiln.errors import ValidationError
from kiln.server.wire._base import WireCall
from kiln.server.wire.paging import page
from kiln.server.wire.shapes import epoch_seconds

__all__ = ["KILN_ARN_PREFIX", "Operation", "Refusal", "aws_arn", "select_page"]

KILN_ARN_PREFIX = "arn:kiln:sagemaker:local:000000000000:"  # what Kiln's REST answers carry

Refusal = Callable[[WireCall, dict[str, Any]], tuple[str, str]]  # → (AWS code, message)


@dataclass(frozen=True)
class Operation:
    run: Callable[[WireCall, dict[str, Any]], dict[str, Any]]
    missing: Refusal | None = None
    conflict: Refusal | None = None


def aws_arn(value: str, prefix: str) -> str:
    """A Kiln ARN (``arn:kiln:…``) in the caller's region and account; other strings unchanged."""
    return prefix + value[len(KILN_ARN_PREFIX) :] if value.startswith(KILN_ARN_PREFIX) else value


def _in_window(item: dict[str, Any], key: str, params: dict[str, Any], field: str) -> bool:
    value = item.get(key)
    if value is None:
        return not (params.get(f"{field}After") or params.get(f"{field}Before"))
    when = epoch_seconds(value)
    after, before = params.get(f"{field}After"), params.get(f"{field}Before")
    return (after is None or when > epoch_seconds(after)) and (before is None or when < epoch_seconds(before))


def select_page(
    items: Sequence[dict[str, Any]],
    params: dict[str, Any],
    *,
    name_key: str,
    sort_keys: dict[str, str],
    default_sort: str = "CreationTime",
    default_order: str = "Descending",
    status_key: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """SageMaker's List filters (NameContains, StatusEquals, CreationTime/LastModifiedTime windows),
    SortBy/SortOrder, then one page of MaxResults with a NextToken."""
    contains = params.get("NameContains")
    status = params.get("StatusEquals")
    chosen = [
        item
        for item in items
        if (not contains or contains in item.get(name_key, ""))
        and (status is None or status_key is None or item.get(status_key) == status)
        and _in_window(item, "CreationTime", params, "CreationTime")
        and _in_window(item, "LastModifiedTime", params, "LastModifiedTime")
    ]
    sort_by = params.get("SortBy") or default_sort
    if sort_by not in sort_keys:
        raise ValidationError(f"SortBy {sort_by!r} is not valid; use one of {', '.join(sort_keys)}")
    order = params.get("SortOrder") or default_order
    if order not in ("Ascending", "Descending"):
        raise ValidationError(f"SortOrder {order!r} is not valid; use Ascending or Descending")
    key = sort_keys[sort_by]
    chosen.sort(key=lambda item: str(item.get(key, "")), reverse=order == "Descending")
    return page(chosen, params)
