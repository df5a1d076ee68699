"""Step properties (``sagemaker.workflow.properties``): ``step.properties.ModelArtifacts.S3ModelArtifacts``
is a reference to the step's job's Describe* field, resolved when the step has run."""

from __future__ import annotations

from typing import Any

from kiln.sdk.workflow.entities import Expression

__all__ = ["Properties", "PropertyFile"]


class Properties(Expression):
    """Any attribute or index of it is a deeper reference: ``.Outputs["train"]``, ``[0]``."""

    def __init__(self, path: str) -> None:
        self._path = path

    @property
    def expr(self) -> dict[str, str]:
        return {"Get": self._path}

    def __getattr__(self, name: str) -> Properties:
        if name.startswith("_"):
            raise AttributeError(name)
        return Properties(f"{self._path}.{name}")

    # Not a sequence: without these, ``in`` and iteration would call __getitem__(0), (1), … forever.
    __iter__ = None
    __contains__ = None

    def __getitem__(self, key: int | str) -> Properties:
        return Properties(f"{self._path}[{key}]" if isinstance(key, int) else f"{self._path}['{key}']")


class PropertyFile:
    """A JSON file a processing step writes into one of its outputs, read with ``JsonGet``."""

    def __init__(self, name: str, output_name: str, path: str) -> None:
        self.name = name
        self.output_name = output_name
        self.path = path

    def to_request(self) -> dict[str, Any]:
        return {"PropertyFileName": self.name, "OutputName": self.output_name, "FilePath": self.path}
