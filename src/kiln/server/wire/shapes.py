"""botocore's service models as the wire's schema: requests checked against the input shape, answers
trimmed to the output shape.

Kiln's describe answers carry Kiln's extras (cost, hosts, warnings) and ISO times; an AWS answer has
exactly the members of the operation's output shape, timestamps as epoch seconds (the awsJson
protocols' encoding). ``to_shape`` walks the shape, so a member AWS does not define never reaches
boto3, and the answer is what botocore's own parser and validator expect.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ParamValidationError
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.session import get_session
from botocore.validate import validate_parameters

from kiln.errors import ValidationError

__all__ = ["check_input", "epoch_seconds", "operation_model", "service_model", "to_shape"]


@functools.cache
def service_model(name: str) -> ServiceModel:
    return get_session().get_service_model(name)


@functools.cache
def operation_model(service: str, operation: str) -> OperationModel:
    return service_model(service).operation_model(operation)


def epoch_seconds(value: Any) -> Any:
    """A datetime or ISO time as epoch seconds; numbers pass unchanged."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    return value


def to_shape(value: Any, shape: Shape, strings: Callable[[str], str] | None = None) -> Any:
    """``value`` with only the members ``shape`` defines (recursively), None members dropped,
    timestamps as epoch seconds, and every string passed through ``strings`` (one walk for all)."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return value
        members = shape.members
        return {
            key: to_shape(item, members[key], strings)
            for key, item in value.items()
            if item is not None and key in members
        }
    if kind == "list":
        if not isinstance(value, (list, tuple)):
            return value
        member = shape.member
        return [to_shape(item, member, strings) for item in value]
    if kind == "map":
        if not isinstance(value, dict):
            return value
        inner = shape.value
        return {key: to_shape(item, inner, strings) for key, item in value.items()}
    if kind == "timestamp":
        return epoch_seconds(value)
    if strings is not None and isinstance(value, str):
        return strings(value)
    return value


def check_input(params: dict[str, Any], shape: Shape | None) -> None:
    """Refuse a request that botocore itself would refuse to send (missing or mistyped members)."""
    if shape is None:
        return
    try:
        validate_parameters(params, shape)
    except ParamValidationError as e:
        report = str(e.kwargs.get("report", e)).strip()
        raise ValidationError(report.replace("\n", "; ")) from None
