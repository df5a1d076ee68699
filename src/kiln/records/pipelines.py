"""Pipelines, their executions and their steps."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "Pipeline",
    "PipelineExecution",
    "PipelineExecutionStatus",
    "PipelineStep",
    "PipelineStepStatus",
    "pipeline_arn",
    "pipeline_execution_arn",
]


class PipelineExecutionStatus(str, enum.Enum):
    EXECUTING = "Executing"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    FAILED = "Failed"
    SUCCEEDED = "Succeeded"

    def is_terminal(self) -> bool:
        return self in (self.STOPPED, self.FAILED, self.SUCCEEDED)


class PipelineStepStatus(str, enum.Enum):
    STARTING = "Starting"  # its job's name is recorded; the job may not exist yet
    EXECUTING = "Executing"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    FAILED = "Failed"
    SUCCEEDED = "Succeeded"

    def is_terminal(self) -> bool:
        return self in (self.STOPPED, self.FAILED, self.SUCCEEDED)


def pipeline_arn(name: str) -> str:
    return f"arn:kiln:sagemaker:local:000000000000:pipeline/{name}"


def pipeline_execution_arn(pipeline: str, execution_id: str) -> str:
    return f"{pipeline_arn(pipeline)}/execution/{execution_id}"


@dataclass(frozen=True)
class Pipeline:
    name: str
    definition: dict[str, Any]  # SageMaker's pipeline definition document
    role_arn: str | None
    display_name: str | None
    description: str | None
    max_parallel_steps: int | None
    creation_time: datetime
    last_modified_time: datetime


@dataclass(frozen=True)
class PipelineExecution:
    execution_id: str
    pipeline_name: str
    status: PipelineExecutionStatus
    definition: dict[str, Any]
    parameters: dict[str, Any]
    display_name: str | None
    description: str | None
    max_parallel_steps: int | None
    failure_reason: str | None
    creation_time: datetime
    last_modified_time: datetime
    stop_requested_at: datetime | None

    @property
    def arn(self) -> str:
        return pipeline_execution_arn(self.pipeline_name, self.execution_id)


@dataclass(frozen=True)
class PipelineStep:
    execution_id: str
    pipeline_name: str
    step_name: str
    step_type: str
    status: PipelineStepStatus
    job_name: str | None
    arguments: dict[str, Any] | None
    cache_key: str | None
    cache_source_execution: str | None
    outcome: str | None
    attempt_count: int
    retry_at: datetime | None
    failure_reason: str | None
    start_time: datetime
    end_time: datetime | None
