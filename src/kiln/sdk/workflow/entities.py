"""What a definition is made of: expressions (``{"Get": …}``, ``Std:Join`` …) and the conversion of
a request that holds them into the definition's JSON."""

from __future__ import annotations

import abc
from typing import Any

__all__ = ["Expression", "to_definition"]


class Expression(abc.ABC):
    """A value the server resolves when the step runs (SageMaker's ``PipelineVariable``)."""

    @property
    @abc.abstractmethod
    def expr(self) -> Any:
        """The value as the pipeline definition writes it."""

    def to_string(self) -> Expression:
        """As SageMaker's ``PipelineVariable.to_string``: the value joined into a string."""
        return _Joined(self)

    def __str__(self) -> str:
        raise TypeError(
            f"{type(self).__name__} is resolved when the pipeline runs; it has no value now. Pass it as "
            "an argument, or use Join to build a string from it"
        )


class _Joined(Expression):
    def __init__(self, value: Expression) -> None:
        self.value = value

    @property
    def expr(self) -> Any:
        return {"Std:Join": {"On": "", "Values": [self.value.expr]}}


def to_definition(value: Any) -> Any:
    """A request with expressions in it, as the definition's JSON."""
    if isinstance(value, Expression):
        return value.expr
    if isinstance(value, dict):
        return {k: to_definition(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_definition(v) for v in value]
    return value
