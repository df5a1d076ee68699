"""Pipelines as use-cases: create, update, describe, list and delete pipelines; start, describe,
list and stop their executions, and list an execution's steps. The engine (``engine.py``) runs them."""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiln.errors import Conflict, ValidationError
from kiln.metadata import Database
from kiln.metadata import pipelines as rows
from kiln.records import Pipeline, PipelineExecution, PipelineStep, utcnow
from kiln.services.pipelines.definition import load_document, parse_definition

__all__ = ["PipelineService", "execution_id_of"]

_PIPELINE_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$")
_ID_ALPHABET = string.ascii_lowercase + string.digits


def execution_id_of(execution: str) -> str:
    """An execution's id, from its ARN (``…:pipeline/<name>/execution/<id>``) or the id itself."""
    return execution.rsplit("/execution/", 1)[-1]


def _pipeline_name_of(name: str) -> str:
    """StartPipelineExecution takes a pipeline's name or its ARN."""
    return name.rsplit(":pipeline/", 1)[-1] if ":pipeline/" in name else name


def _parallelism(request: dict[str, Any]) -> int | None:
    config = request.get("ParallelismConfiguration") or {}
    value = config.get("MaxParallelExecutionSteps")
    if value is None:
        return None
    if not isinstance(value, int) or value < 1:
        raise ValidationError(
            f"MaxParallelExecutionSteps must be a whole number of at least 1; got {value!r}"
        )
    return value


def _definition(request: dict[str, Any]) -> dict[str, Any]:
    if request.get("PipelineDefinitionS3Location"):
        raise ValidationError(
            "PipelineDefinitionS3Location is not supported; send the definition in PipelineDefinition"
        )
    if request.get("PipelineDefinition") is None:
        raise ValidationError("PipelineDefinition is required: the pipeline's JSON definition")
    document = load_document(request["PipelineDefinition"])
    parse_definition(document)  # a cycle or a reference to nothing is refused now
    return document


@dataclass
class PipelineService:
    db: Database
    wake: Callable[[], None] = lambda: None  # the engine's next pass, now

    def create(self, request: dict[str, Any]) -> Pipeline:
        name = str(request.get("PipelineName") or "")
        if not _PIPELINE_NAME.match(name):
            raise ValidationError(
                f"PipelineName {name!r} is not valid; use up to 256 letters, digits and hyphens, "
                "starting with a letter or digit"
            )
        return rows.insert_pipeline(
            self.db,
            name,
            _definition(request),
            role_arn=request.get("RoleArn"),
            display_name=request.get("PipelineDisplayName"),
            description=request.get("PipelineDescription"),
            max_parallel_steps=_parallelism(request),
            now=utcnow(),
        )

    def update(self, request: dict[str, Any]) -> Pipeline:
        name = str(request.get("PipelineName") or "")
        rows.get_pipeline(self.db, name)  # NotFound first
        definition = _definition(request) if request.get("PipelineDefinition") is not None else None
        return rows.update_pipeline(
            self.db,
            name,
            utcnow(),
            definition=definition,
            role_arn=request.get("RoleArn"),
            display_name=request.get("PipelineDisplayName"),
            description=request.get("PipelineDescription"),
            max_parallel_steps=_parallelism(request),
        )

    def describe(self, name: str) -> Pipeline:
        return rows.get_pipeline(self.db, _pipeline_name_of(name))

    def list_pipelines(self, *, limit: int = 100, offset: int = 0) -> list[Pipeline]:
        return rows.list_pipelines(self.db, limit=limit, offset=offset)

    def delete(self, name: str) -> Pipeline:
        running = [e for e in rows.list_executions(self.db, name) if not e.status.is_terminal()]
        if running:
            raise Conflict(
                f"Pipeline {name!r} has {len(running)} execution(s) running ({running[0].arn}); stop them "
                "with `kiln pipelines stop ARN` first"
            )
        return rows.delete_pipeline(self.db, name)

    # -- executions -------------------------------------------------------------------------------

    def start(self, request: dict[str, Any]) -> PipelineExecution:
        pipeline = self.describe(str(request.get("PipelineName") or ""))
        given: dict[str, Any] = {}
        for item in request.get("PipelineParameters") or []:
            if not isinstance(item, dict) or "Name" not in item or "Value" not in item:
                raise ValidationError(f"A pipeline parameter needs Name and Value; got {item!r}")
            given[str(item["Name"])] = item["Value"]
        values = parse_definition(pipeline.definition).parameter_values(given)
        execution_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))
        execution = rows.insert_execution(
            self.db,
            execution_id,
            pipeline,
            values,
            display_name=request.get("PipelineExecutionDisplayName"),
            description=request.get("PipelineExecutionDescription"),
            max_parallel_steps=_parallelism(request),
            now=utcnow(),
        )
        self.wake()
        return execution

    def describe_execution(self, execution: str) -> PipelineExecution:
        return rows.get_execution(self.db, execution_id_of(execution))

    def list_executions(self, pipeline: str) -> list[PipelineExecution]:
        return rows.list_executions(self.db, _pipeline_name_of(pipeline))

    def list_steps(self, execution: str) -> list[PipelineStep]:
        return rows.list_steps(self.db, execution_id_of(execution))

    def stop(self, execution: str) -> PipelineExecution:
        found = self.describe_execution(execution)
        if found.status.is_terminal():
            raise Conflict(
                f"Pipeline execution {found.arn} has ended ({found.status.value}); only a running "
                "execution can be stopped"
            )
        stopped = rows.request_execution_stop(self.db, found.execution_id, utcnow())
        self.wake()
        return stopped
