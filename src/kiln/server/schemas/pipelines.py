"""Pipelines' public shapes (SageMaker's DescribePipeline, DescribePipelineExecution,
ListPipelineExecutionSteps… members), and a step's properties: its job's Describe* response."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from kiln.records import (
    Pipeline,
    PipelineExecution,
    PipelineStep,
    pipeline_arn,
    pipeline_execution_arn,
    processing_job_arn,
)
from kiln.server.schemas.hosting import describe_model
from kiln.server.schemas.processing_jobs import describe_processing_job
from kiln.server.schemas.training_jobs import describe_training_job
from kiln.server.schemas.transform_jobs import describe_transform_job
from kiln.server.schemas.tuning_jobs import describe_tuning_job, summarize_trial, tuning_job_arn
from kiln.services.endpoints import EndpointService
from kiln.services.processing_jobs import ProcessingJobService
from kiln.services.training_jobs import TrainingJobService
from kiln.services.transform import TransformJobService
from kiln.services.tuning.jobs import TuningJobService

__all__ = [
    "StepDescriber",
    "describe_pipeline",
    "describe_pipeline_execution",
    "summarize_pipeline",
    "summarize_pipeline_execution",
    "summarize_step",
]

ARN = "arn:kiln:sagemaker:local:000000000000"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _drop_none(described: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in described.items() if v is not None}


def summarize_pipeline(pipeline: Pipeline) -> dict[str, Any]:
    return _drop_none(
        {
            "PipelineArn": pipeline_arn(pipeline.name),
            "PipelineName": pipeline.name,
            "PipelineDisplayName": pipeline.display_name or pipeline.name,
            "PipelineDescription": pipeline.description,
            "RoleArn": pipeline.role_arn,
            "CreationTime": _iso(pipeline.creation_time),
            "LastModifiedTime": _iso(pipeline.last_modified_time),
        }
    )


def describe_pipeline(pipeline: Pipeline) -> dict[str, Any]:
    """PipelineDefinition is a JSON string, as SageMaker returns it."""
    described = summarize_pipeline(pipeline)
    described["PipelineDefinition"] = json.dumps(pipeline.definition)
    described["PipelineStatus"] = "Active"
    if pipeline.max_parallel_steps is not None:
        described["ParallelismConfiguration"] = {"MaxParallelExecutionSteps": pipeline.max_parallel_steps}
    return described


def summarize_pipeline_execution(execution: PipelineExecution) -> dict[str, Any]:
    return _drop_none(
        {
            "PipelineExecutionArn": execution.arn,
            "StartTime": _iso(execution.creation_time),
            "PipelineExecutionStatus": execution.status.value,
            "PipelineExecutionDescription": execution.description,
            "PipelineExecutionDisplayName": execution.display_name or execution.execution_id,
            "PipelineExecutionFailureReason": execution.failure_reason,
        }
    )


def describe_pipeline_execution(execution: PipelineExecution) -> dict[str, Any]:
    """DescribePipelineExecution; ``PipelineParameters`` (Kiln's) shows the values it runs with."""
    described = _drop_none(
        {
            "PipelineArn": pipeline_arn(execution.pipeline_name),
            "PipelineExecutionArn": execution.arn,
            "PipelineExecutionDisplayName": execution.display_name or execution.execution_id,
            "PipelineExecutionStatus": execution.status.value,
            "PipelineExecutionDescription": execution.description,
            "PipelineExperimentConfig": {
                "ExperimentName": execution.pipeline_name,
                "TrialName": execution.execution_id,
            },
            "FailureReason": execution.failure_reason,
            "CreationTime": _iso(execution.creation_time),
            "LastModifiedTime": _iso(execution.last_modified_time),
        }
    )
    if execution.max_parallel_steps is not None:
        described["ParallelismConfiguration"] = {"MaxParallelExecutionSteps": execution.max_parallel_steps}
    described["PipelineParameters"] = [
        {"Name": k, "Value": json.dumps(v) if isinstance(v, bool) else str(v)}
        for k, v in execution.parameters.items()
    ]
    return described


def _step_metadata(step: PipelineStep) -> dict[str, Any]:
    name = step.job_name
    if step.step_type == "Condition":
        return {"Condition": {"Outcome": step.outcome}} if step.outcome else {}
    if step.step_type == "Fail":
        return {"Fail": {"ErrorMessage": step.failure_reason or ""}}
    if name is None:
        return {}
    if step.step_type == "Training":
        return {"TrainingJob": {"Arn": f"{ARN}:training-job/{name}"}}
    if step.step_type == "Processing":
        return {"ProcessingJob": {"Arn": processing_job_arn(name)}}
    if step.step_type == "Tuning":
        return {"TuningJob": {"Arn": tuning_job_arn(name)}}
    if step.step_type == "Transform":
        return {"TransformJob": {"Arn": f"{ARN}:transform-job/{name}"}}
    return {"Model": {"Arn": f"{ARN}:model/{name}"}}


def summarize_step(step: PipelineStep) -> dict[str, Any]:
    """One member of ListPipelineExecutionSteps; ``JobName`` (Kiln's) names the step's job or model."""
    described = _drop_none(
        {
            "StepName": step.step_name,
            "StepDisplayName": step.step_name,
            "StartTime": _iso(step.start_time),
            "EndTime": _iso(step.end_time),
            "StepStatus": step.status.value,
            "FailureReason": step.failure_reason if step.step_type != "Fail" else None,
            "Metadata": _step_metadata(step),
            "AttemptCount": step.attempt_count,
            "StepType": step.step_type,
            "JobName": step.job_name,
        }
    )
    if step.cache_source_execution is not None:
        described["CacheHitResult"] = {
            "SourcePipelineExecutionArn": pipeline_execution_arn(
                step.pipeline_name, step.cache_source_execution
            )
        }
    return described


class StepDescriber:
    """A step's properties: its job's Describe* response (a tuning job's with its trials'
    TrainingJobSummaries, best first, as ListTrainingJobsForHyperParameterTuningJob adds them)."""

    def __init__(
        self,
        training_jobs: TrainingJobService,
        processing_jobs: ProcessingJobService,
        tuning_jobs: TuningJobService,
        transform_jobs: TransformJobService,
        endpoints: EndpointService,
    ) -> None:
        self._training_jobs = training_jobs
        self._processing_jobs = processing_jobs
        self._tuning_jobs = tuning_jobs
        self._transform_jobs = transform_jobs
        self._endpoints = endpoints

    def __call__(self, step_type: str, name: str) -> dict[str, Any]:
        if step_type == "Training":
            return describe_training_job(self._training_jobs.describe(name))
        if step_type == "Processing":
            return describe_processing_job(self._processing_jobs.describe(name))
        if step_type == "Transform":
            return describe_transform_job(self._transform_jobs.describe(name))
        if step_type == "Tuning":
            overview = self._tuning_jobs.describe(name)
            described = describe_tuning_job(overview)
            ranked = sorted(
                (t for t in overview.trials if t.objective_value is not None),
                key=lambda t: t.objective_value or 0.0,
                reverse=overview.config.maximize,
            )
            described["TrainingJobSummaries"] = [summarize_trial(t, overview.config) for t in ranked]
            return described
        return describe_model(self._endpoints.describe_model(name))
