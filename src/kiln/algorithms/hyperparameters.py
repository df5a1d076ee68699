"""SageMaker's hyperparameter rules for the built-in algorithms: names, defaults, allowed ranges.

A job's HyperParameters are strings (the SDK of the first-party algorithms sends them raw, a Framework
estimator JSON-encodes them; both are read). A value outside its range fails the job with a
ClientError naming the hyperparameter, the value and what is allowed, as the algorithms' own
validation does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["AlgorithmError", "Param", "parse_hyperparameters"]


class AlgorithmError(Exception):
    """The job cannot run as given; the message (``ClientError: …``) is its FailureReason."""


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # int, float, str, bool
    default: Any = None  # None: no default (optional unless ``required``)
    low: float | None = None
    high: float | None = None
    choices: Sequence[str] = ()
    required: bool = False
    auto: bool = False  # "auto" is allowed and means the algorithm chooses
    low_open: bool = False  # (low, high] rather than [low, high]

    def allowed(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.kind == "bool":
            return "true or false"
        left = "(" if self.low_open else "["
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        range_text = f"a{'n integer' if self.kind == 'int' else ' number'} in {left}{low}, {high}]"
        return range_text + (" or auto" if self.auto else "")


def _raw(value: str) -> str:
    """A JSON-encoded string value (a Framework estimator's) becomes the bare string."""
    try:
        decoded = json.loads(value)
    except (TypeError, ValueError):
        return str(value)
    return decoded if isinstance(decoded, str) else str(value)


def _convert(param: Param, text: str) -> Any:
    def bad() -> AlgorithmError:
        return AlgorithmError(
            f"ClientError: hyperparameter {param.name!r} has the value {text!r}; it must be {param.allowed()}"
        )

    if param.auto and text.lower() == "auto":
        return "auto"
    if param.kind == "bool":
        if text.lower() in ("true", "1"):
            return True
        if text.lower() in ("false", "0"):
            return False
        raise bad()
    if param.kind == "str":
        if param.choices and text not in param.choices:
            raise bad()
        return text
    try:
        number: float = int(text) if param.kind == "int" else float(text)
    except ValueError:
        if param.kind == "int":
            try:
                as_float = float(text)
            except ValueError:
                raise bad() from None
            if not as_float.is_integer():
                raise bad() from None
            number = int(as_float)
        else:
            raise bad() from None
    if param.low is not None and (number < param.low or (param.low_open and number == param.low)):
        raise bad()
    if param.high is not None and number > param.high:
        raise bad()
    return number


def parse_hyperparameters(
    raw: Mapping[str, str], params: Sequence[Param], algorithm: str, ignored: Sequence[str] = ()
) -> dict[str, Any]:
    """Each known hyperparameter converted and checked, defaults filled in; unknown names refused.

    Names starting ``sagemaker_`` or ``_`` are the SDK's and the tuner's and are passed over, as are
    ``ignored`` (hyperparameters SageMaker accepts that change nothing on Kiln, e.g. GPU settings).
    """
    known = {p.name: p for p in params}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key.startswith(("sagemaker_", "_")) or key in ignored:
            continue
        if key not in known:
            raise AlgorithmError(
                f"ClientError: {algorithm} has no hyperparameter {key!r}; its hyperparameters are "
                + ", ".join(sorted(known))
            )
        values[key] = _convert(known[key], _raw(value).strip())
    for param in params:
        if param.name in values:
            continue
        if param.required:
            raise AlgorithmError(
                f"ClientError: {algorithm} requires hyperparameter {param.name!r} ({param.allowed()})"
            )
        values[param.name] = param.default
    return values
