"""``Join`` and ``JsonGet`` (``sagemaker.workflow.functions``)."""

from __future__ import annotations

from typing import Any

from kiln.sdk.workflow.entities import Expression, to_definition
from kiln.sdk.workflow.properties import PropertyFile

__all__ = ["Join", "JsonGet"]


class Join(Expression):
    def __init__(self, on: str = "", values: list[Any] | None = None) -> None:
        self.on = on
        self.values = list(values or [])

    @property
    def expr(self) -> dict[str, Any]:
        return {"Std:Join": {"On": self.on, "Values": to_definition(self.values)}}


class JsonGet(Expression):
    """A value from a step's property file (``step_name`` may be the step itself) or an S3 URI."""

    def __init__(
        self,
        step_name: Any = None,
        property_file: PropertyFile | str | None = None,
        json_path: str = "",
        s3_uri: Any = None,
        step: Any = None,
    ) -> None:
        owner = step if step is not None else step_name
        self.step_name = getattr(owner, "name", owner)
        self.property_file = property_file
        self.json_path = json_path
        self.s3_uri = s3_uri

    @property
    def expr(self) -> dict[str, Any]:
        if self.s3_uri is not None:
            return {"Std:JsonGet": {"S3Uri": to_definition(self.s3_uri), "Path": self.json_path}}
        name = self.property_file.name if isinstance(self.property_file, PropertyFile) else self.property_file
        return {
            "Std:JsonGet": {
                "PropertyFile": {"Get": f"Steps.{self.step_name}.PropertyFiles.{name}"},
                "Path": self.json_path,
            }
        }
