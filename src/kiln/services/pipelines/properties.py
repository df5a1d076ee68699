"""Property paths (``ModelArtifacts.S3ModelArtifacts``, ``Outputs['train'].S3Output.S3Uri``,
``TrainingJobSummaries[0].TrainingJobName``) and what each step type offers to them.

A step's properties are its job's Describe* response, as SageMaker's are; the names a path may start
with come from botocore's output shapes, so a definition exported from SageMaker is checked against
the same fields.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import botocore.session

from kiln.errors import ValidationError

__all__ = ["PropertyPathError", "parse_path", "step_property_names", "walk_path"]

_TOKEN = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")
# A list element is found by the key its list names it by (Outputs['train'], FinalMetricDataList['m']).
_ELEMENT_NAMES = (
    "OutputName",
    "InputName",
    "MetricName",
    "ChannelName",
    "Name",
    "TrainingJobName",
    "VariantName",
)
# The Describe* operation whose response a step type's properties are.
_DESCRIBED_BY = {
    "Training": ("DescribeTrainingJob",),
    "Processing": ("DescribeProcessingJob",),
    "Model": ("DescribeModel",),
    "CreateModel": ("DescribeModel",),
    "Tuning": ("DescribeHyperParameterTuningJob", "ListTrainingJobsForHyperParameterTuningJob"),
    "Transform": ("DescribeTransformJob",),
}


class PropertyPathError(ValidationError):
    """A path that does not parse, or that leads nowhere in a step's properties."""


def parse_path(path: str) -> list[str | int]:
    """``A.B[0].C['x']`` → ["A", "B", 0, "C", "x"] (quoted keys stay strings, indexes are ints)."""
    tokens: list[str | int] = []
    at = 0
    while at < len(path):
        match = _TOKEN.match(path, at)
        if match is None or match.end() == at:
            raise PropertyPathError(
                f"property path {path!r} does not parse at {path[at:]!r}; write names joined by dots, "
                "[n] for a list index and ['key'] for a list element by its name"
            )
        name, index, single, double = match.groups()
        tokens.append(int(index) if index is not None else (name or single or double or ""))
        at = match.end()
    return tokens


@functools.cache
def step_property_names(step_type: str) -> frozenset[str]:
    """The top-level properties of a step type: its Describe* response's members."""
    if step_type == "Condition":
        return frozenset({"Outcome"})
    model = botocore.session.get_session().get_service_model("sagemaker")
    names: set[str] = set()
    for operation in _DESCRIBED_BY.get(step_type, ()):
        names.update(model.operation_model(operation).output_shape.members)
    return frozenset(names)


def walk_path(value: Any, tokens: list[str | int], shown: str) -> Any:
    """Follow the tokens into a Describe* response; a step that lacks the value is a clear error."""
    for token in tokens:
        if isinstance(token, int) and isinstance(value, list):
            if token >= len(value):
                raise PropertyPathError(f"{shown}: index [{token}] is past the end of a list of {len(value)}")
            value = value[token]
        elif isinstance(token, str) and isinstance(value, dict):
            if token not in value or value[token] is None:
                raise PropertyPathError(f"{shown}: the step has no value at {token!r}")
            value = value[token]
        elif isinstance(token, str) and isinstance(value, list):
            found = [v for v in value if isinstance(v, dict) and token in (v.get(k) for k in _ELEMENT_NAMES)]
            if not found:
                raise PropertyPathError(f"{shown}: no element named {token!r} in the list")
            value = found[0]
        else:
            raise PropertyPathError(f"{shown}: cannot take {token!r} of {type(value).__name__}")
    return value
