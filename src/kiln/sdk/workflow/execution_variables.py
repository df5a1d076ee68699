"""``ExecutionVariables`` (``sagemaker.workflow.execution_variables``): values of the running execution."""

from __future__ import annotations

from kiln.sdk.workflow.entities import Expression

__all__ = ["ExecutionVariable", "ExecutionVariables"]


class ExecutionVariable(Expression):
    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def expr(self) -> dict[str, str]:
        return {"Get": f"Execution.{self.name}"}


class ExecutionVariables:
    START_DATETIME = ExecutionVariable("StartDateTime")
    CURRENT_DATETIME = ExecutionVariable("CurrentDateTime")
    PIPELINE_NAME = ExecutionVariable("PipelineName")
    PIPELINE_ARN = ExecutionVariable("PipelineArn")
    PIPELINE_EXECUTION_ID = ExecutionVariable("PipelineExecutionId")
    PIPELINE_EXECUTION_ARN = ExecutionVariable("PipelineExecutionArn")
