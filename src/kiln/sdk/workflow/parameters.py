"""Pipeline parameters (``sagemaker.workflow.parameters``): a value given at each start."""

from __future__ import annotations

from typing import Any

from kiln.sdk.workflow.entities import Expression

__all__ = ["Parameter", "ParameterBoolean", "ParameterFloat", "ParameterInteger", "ParameterString"]


class Parameter(Expression):
    parameter_type = "String"

    def __init__(self, name: str, default_value: Any = None) -> None:
        self.name = name
        self.default_value = default_value

    @property
    def expr(self) -> dict[str, str]:
        return {"Get": f"Parameters.{self.name}"}

    def to_request(self) -> dict[str, Any]:
        request: dict[str, Any] = {"Name": self.name, "Type": self.parameter_type}
        if self.default_value is not None:
            request["DefaultValue"] = self.default_value
        return request


class ParameterString(Parameter):
    parameter_type = "String"

    def __init__(
        self, name: str, default_value: str | None = None, enum_values: list[str] | None = None
    ) -> None:
        super().__init__(name, default_value)
        self.enum_values = enum_values

    def to_request(self) -> dict[str, Any]:
        request = super().to_request()
        if self.enum_values:
            request["EnumValues"] = list(self.enum_values)
        return request


class ParameterInteger(Parameter):
    parameter_type = "Integer"


class ParameterFloat(Parameter):
    parameter_type = "Float"


class ParameterBoolean(Parameter):
    parameter_type = "Boolean"
