"""Pipelines, in the SageMaker SDK's module layout: ``kiln.workflow.pipeline``, ``.steps``,
``.parameters``, ``.conditions``, ``.condition_step``, ``.fail_step``, ``.model_step``, ``.functions``,
``.properties``, ``.retry``, ``.execution_variables`` (as ``sagemaker.workflow.*``).

``from kiln.workflow.pipeline import Pipeline`` works as SageMaker's import does; so does
``from kiln.workflow import Pipeline`` for the common names.
"""

from __future__ import annotations

from kiln.sdk.workflow.conditions import (
    ConditionEquals,
    ConditionGreaterThan,
    ConditionGreaterThanOrEqualTo,
    ConditionIn,
    ConditionLessThan,
    ConditionLessThanOrEqualTo,
    ConditionNot,
    ConditionOr,
)
from kiln.sdk.workflow.execution_variables import ExecutionVariables
from kiln.sdk.workflow.functions import Join, JsonGet
from kiln.sdk.workflow.parameters import ParameterBoolean, ParameterFloat, ParameterInteger, ParameterString
from kiln.sdk.workflow.pipeline import Pipeline, PipelineExecution
from kiln.sdk.workflow.properties import PropertyFile
from kiln.sdk.workflow.steps import (
    CacheConfig,
    ConditionStep,
    CreateModelStep,
    FailStep,
    ModelStep,
    ProcessingStep,
    TrainingStep,
    TransformStep,
    TuningStep,
)

__all__ = [
    "CacheConfig",
    "ConditionEquals",
    "ConditionGreaterThan",
    "ConditionGreaterThanOrEqualTo",
    "ConditionIn",
    "ConditionLessThan",
    "ConditionLessThanOrEqualTo",
    "ConditionNot",
    "ConditionOr",
    "ConditionStep",
    "CreateModelStep",
    "ExecutionVariables",
    "FailStep",
    "Join",
    "JsonGet",
    "ModelStep",
    "ParameterBoolean",
    "ParameterFloat",
    "ParameterInteger",
    "ParameterString",
    "Pipeline",
    "PipelineExecution",
    "ProcessingStep",
    "PropertyFile",
    "TrainingStep",
    "TransformStep",
    "TuningStep",
]
