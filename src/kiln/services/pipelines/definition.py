"""The pipeline definition document (SageMaker's "2020-12-01" format): parsed into a graph, and
checked at upsert so that a cycle, a reference to an unknown step, property or parameter is refused
with its name before any execution starts.

Edges are every ``{"Get": "Steps.X…"}`` in a step's arguments (a Condition step's: in its
Conditions) plus ``DependsOn``; the steps of a Condition's ``IfSteps`` / ``ElseSteps`` are full step
objects that depend on the condition and run only on its outcome.
"""

from __future__ import annotations

import graphlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from kiln.errors import ValidationError
from kiln.services.pipelines.properties import parse_path, step_property_names

__all__ = [
    "EXECUTION_VARIABLES",
    "JOB_STEP_TYPES",
    "Definition",
    "ParameterSpec",
    "StepSpec",
    "parse_definition",
]

VERSION = "2020-12-01"
JOB_STEP_TYPES = ("Training", "Processing", "Tuning", "Transform")
STEP_TYPES = (*JOB_STEP_TYPES, "Model", "CreateModel", "Condition", "Fail")
PARAMETER_TYPES = ("String", "Integer", "Float", "Boolean")
EXECUTION_VARIABLES = (
    "PipelineName",
    "PipelineArn",
    "PipelineExecutionId",
    "PipelineExecutionArn",
    "StartDateTime",
    "CurrentDateTime",
)
_STEP_NAME = re.compile(r"^[A-Za-z0-9\-_]{1,64}$")
_DURATION = re.compile(
    r"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    type: str
    default: Any  # None: the execution must give a value
    enum_values: tuple[str, ...] = ()

    def typed(self, raw: Any) -> Any:
        """A start value (SageMaker sends strings) as the parameter's type."""
        try:
            if self.type == "Integer":
                return int(raw)
            if self.type == "Float":
                return float(raw)
            if self.type == "Boolean":
                if isinstance(raw, bool):
                    return raw
                text = str(raw).lower()
                if text not in ("true", "false"):
                    raise ValueError(raw)
                return text == "true"
        except (TypeError, ValueError):
            raise ValidationError(
                f"Parameter {self.name!r} is {self.type}; the value {raw!r} is not one"
            ) from None
        value = str(raw)
        if self.enum_values and value not in self.enum_values:
            raise ValidationError(
                f"Parameter {self.name!r} must be one of {', '.join(self.enum_values)}; got {value!r}"
            )
        return value


@dataclass(frozen=True)
class StepSpec:
    name: str
    type: str
    arguments: dict[str, Any]
    depends_on: frozenset[str]  # every step this one waits for
    gate: tuple[str, bool] | None  # (condition step, outcome it runs on)
    cache_expire: timedelta | None  # None: caching is off
    retry_policies: tuple[dict[str, Any], ...]
    property_files: dict[str, dict[str, Any]]  # by PropertyFileName
    display_name: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Definition:
    parameters: dict[str, ParameterSpec]
    steps: dict[str, StepSpec] = field(default_factory=dict)  # in topological order

    def parameter_values(self, given: dict[str, Any]) -> dict[str, Any]:
        """Every parameter typed: the given values, else the defaults; unknown or missing names refused."""
        unknown = sorted(set(given) - set(self.parameters))
        if unknown:
            known = ", ".join(self.parameters) or "none"
            raise ValidationError(
                f"The pipeline has no parameter {', '.join(map(repr, unknown))}; its parameters: {known}"
            )
        values: dict[str, Any] = {}
        for name, spec in self.parameters.items():
            if name in given:
                values[name] = spec.typed(given[name])
            elif spec.default is not None:
                values[name] = spec.typed(spec.default)
            else:
                raise ValidationError(
                    f"Parameter {name!r} has no default value; give it in PipelineParameters"
                )
        return values


def expire_after(text: str, step: str) -> timedelta:
    """An ISO-8601 duration (``P30D``, ``PT1H``); months and years count as 30 and 365 days."""
    match = _DURATION.match(text or "")
    if match is None or text in ("P", "PT"):
        raise ValidationError(
            f"Step {step!r}: CacheConfig.ExpireAfter {text!r} is not an ISO-8601 duration such as "
            "P30D or PT1H"
        )
    parts = {k: int(v or 0) for k, v in match.groupdict().items()}
    days = parts["years"] * 365 + parts["months"] * 30 + parts["weeks"] * 7 + parts["days"]
    return timedelta(days=days, hours=parts["hours"], minutes=parts["minutes"], seconds=parts["seconds"])


def references(value: Any) -> Iterator[str]:
    """Every ``Get`` target inside a value (``Steps.X.Y``, ``Parameters.P``, ``Execution.V``)."""
    if isinstance(value, dict):
        if set(value) == {"Get"} and isinstance(value["Get"], str):
            yield value["Get"]
            return
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def load_document(document: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(document, dict):
        return document
    try:
        loaded = json.loads(document)
    except json.JSONDecodeError as e:
        raise ValidationError(f"PipelineDefinition is not JSON: {e}") from None
    if not isinstance(loaded, dict):
        raise ValidationError("PipelineDefinition must be a JSON object with Version, Parameters and Steps")
    return loaded


def _parameters(document: dict[str, Any]) -> dict[str, ParameterSpec]:
    found: dict[str, ParameterSpec] = {}
    for item in document.get("Parameters") or []:
        name, kind = item.get("Name"), item.get("Type", "String")
        if not isinstance(name, str) or not name:
            raise ValidationError(f"A pipeline parameter has no Name: {item!r}")
        if kind not in PARAMETER_TYPES:
            raise ValidationError(
                f"Parameter {name!r} has Type {kind!r}; use one of {', '.join(PARAMETER_TYPES)}"
            )
        if name in found:
            raise ValidationError(f"Parameter {name!r} is declared twice")
        spec = ParameterSpec(name, kind, item.get("DefaultValue"), tuple(item.get("EnumValues") or ()))
        if spec.default is not None:
            spec.typed(spec.default)  # a default of the wrong type is refused now
        found[name] = spec
    return found


def _flatten(
    items: list[Any], gate: tuple[str, bool] | None, into: dict[str, tuple[dict[str, Any], Any]]
) -> None:
    for item in items:
        if not isinstance(item, dict):
            raise ValidationError(f"A pipeline step must be an object; got {item!r}")
        name, kind = item.get("Name"), item.get("Type")
        if not isinstance(name, str) or not _STEP_NAME.match(name):
            raise ValidationError(f"Step name {name!r} is not valid; use 1 to 64 letters, digits, '-' or '_'")
        if name in into:
            raise ValidationError(f"Step name {name!r} is used twice; step names are unique in a pipeline")
        if kind not in STEP_TYPES:
            raise ValidationError(
                f"Step {name!r} has Type {kind!r}, which Kiln does not run; use one of "
                f"{', '.join(STEP_TYPES)}"
            )
        into[name] = (item, gate)
        if kind == "Condition":
            arguments = item.get("Arguments") or {}
            _flatten(arguments.get("IfSteps") or [], (name, True), into)
            _flatten(arguments.get("ElseSteps") or [], (name, False), into)


def _check_reference(
    target: str,
    where: str,
    parameters: dict[str, ParameterSpec],
    raw: dict[str, tuple[dict[str, Any], Any]],
) -> str | None:
    """Refuse a reference to nothing; the step it names, if any."""
    head, _, rest = target.partition(".")
    if head == "Parameters":
        if rest not in parameters:
            raise ValidationError(
                f"{where} refers to parameter {rest!r}, which the pipeline does not declare; add it to "
                "Parameters"
            )
        return None
    if head == "Execution":
        if rest not in EXECUTION_VARIABLES:
            raise ValidationError(
                f"{where} refers to Execution.{rest}; known: {', '.join(EXECUTION_VARIABLES)}"
            )
        return None
    if head != "Steps":
        raise ValidationError(
            f"{where} refers to {target!r}; a Get starts with Steps., Parameters. or Execution."
        )
    step, _, path = rest.partition(".")
    if step not in raw:
        raise ValidationError(f"{where} refers to step {step!r}, which the pipeline does not have")
    item = raw[step][0]
    if item["Type"] == "Fail":
        raise ValidationError(f"{where} refers to Fail step {step!r}; a Fail step has no properties")
    tokens = parse_path(path)
    if not tokens:
        raise ValidationError(f"{where} refers to step {step!r} without a property")
    if tokens[0] == "PropertyFiles":
        files = {f.get("PropertyFileName") for f in item.get("PropertyFiles") or []}
        if len(tokens) < 2 or tokens[1] not in files:
            raise ValidationError(
                f"{where} refers to property file {path!r} of step {step!r}, which declares "
                f"{', '.join(sorted(str(f) for f in files)) or 'no property files'}"
            )
        return step
    if tokens[0] not in step_property_names(item["Type"]):
        raise ValidationError(
            f"{where} refers to Steps.{step}.{path}, but a {item['Type']} step has no property {tokens[0]!r}"
        )
    return step


def parse_definition(document: str | dict[str, Any]) -> Definition:
    """The definition's graph; any error refuses the whole document, naming what is wrong."""
    doc = load_document(document)
    if doc.get("Version") != VERSION:
        raise ValidationError(f"PipelineDefinition Version is {doc.get('Version')!r}; Kiln reads {VERSION!r}")
    if not isinstance(doc.get("Steps"), list) or not doc["Steps"]:
        raise ValidationError("PipelineDefinition has no Steps; give at least one")
    parameters = _parameters(doc)
    raw: dict[str, tuple[dict[str, Any], Any]] = {}
    _flatten(doc["Steps"], None, raw)
    graph: dict[str, set[str]] = {}
    specs: dict[str, StepSpec] = {}
    for name, (item, gate) in raw.items():
        arguments = item.get("Arguments") or {}
        searched = {"Conditions": arguments.get("Conditions")} if item["Type"] == "Condition" else arguments
        depends = set()
        for target in references(searched):
            step = _check_reference(target, f"Step {name!r}", parameters, raw)
            if step is not None:
                depends.add(step)
        for other in item.get("DependsOn") or []:
            if other not in raw:
                raise ValidationError(
                    f"Step {name!r} depends on step {other!r}, which the pipeline does not have"
                )
            if raw[other][0]["Type"] == "Fail":
                raise ValidationError(
                    f"Step {name!r} depends on Fail step {other!r}; nothing can follow a Fail step"
                )
            depends.add(other)
        if gate is not None:
            depends.add(gate[0])
        if name in depends:
            raise ValidationError(f"Step {name!r} depends on itself")
        graph[name] = depends
        cache = item.get("CacheConfig") or {}
        specs[name] = StepSpec(
            name=name,
            type=item["Type"],
            arguments=arguments,
            depends_on=frozenset(depends),
            gate=gate,
            cache_expire=expire_after(cache.get("ExpireAfter") or "P30D", name)
            if cache.get("Enabled")
            else None,
            retry_policies=tuple(item.get("RetryPolicies") or ()),
            property_files={f["PropertyFileName"]: f for f in item.get("PropertyFiles") or []},
            display_name=item.get("DisplayName"),
            description=item.get("Description"),
        )
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as e:
        cycle = " → ".join(e.args[1])
        raise ValidationError(f"The pipeline's steps depend on each other in a cycle: {cycle}") from None
    return Definition(parameters, {name: specs[name] for name in order})
