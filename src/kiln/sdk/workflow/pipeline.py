"""``Pipeline`` and its executions (``sagemaker.workflow.pipeline``): the definition document built from
parameters and steps, CreatePipeline/UpdatePipeline (``upsert``), StartPipelineExecution and the
execution's describe, steps, wait and stop."""

from __future__ import annotations

import json
from typing import Any

from kiln.sdk.session import Session
from kiln.sdk.waiters import get_waiter
from kiln.sdk.workflow.parameters import Parameter
from kiln.sdk.workflow.steps import Step

__all__ = ["Pipeline", "PipelineExecution"]

VERSION = "2020-12-01"


class PipelineExecution:
    """One execution (SageMaker's ``_PipelineExecution``), known by its ARN."""

    def __init__(self, arn: str, sagemaker_session: Session) -> None:
        self.arn = arn
        self.execution_id = arn.rsplit("/", 1)[-1]
        self.sagemaker_session = sagemaker_session

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = self.sagemaker_session.client.call(
            "GET", f"/pipeline-executions/{self.execution_id}"
        )
        return described

    def list_steps(self) -> list[dict[str, Any]]:
        """The steps that started, newest first (as ListPipelineExecutionSteps)."""
        steps: list[dict[str, Any]] = self.sagemaker_session.client.call(
            "GET", f"/pipeline-executions/{self.execution_id}/steps"
        )["PipelineExecutionSteps"]
        return steps

    def list_parameters(self) -> list[dict[str, str]]:
        return list(self.describe()["PipelineParameters"])

    def wait(self, delay: float = 0.5, max_attempts: int = 2 * 3600) -> dict[str, Any]:
        """Until the execution Succeeded; UnexpectedStatusException if it Failed or was Stopped."""
        return get_waiter("PipelineExecutionComplete").wait(
            self.sagemaker_session.client, self.execution_id, delay=delay, max_attempts=max_attempts
        )

    def stop(self) -> None:
        self.sagemaker_session.client.call("POST", f"/pipeline-executions/{self.execution_id}/stop")


class Pipeline:
    def __init__(
        self,
        name: str,
        parameters: list[Parameter] | None = None,
        steps: list[Step] | None = None,
        sagemaker_session: Session | None = None,
        **_ignored: Any,
    ) -> None:
        self.name = name
        self.parameters = list(parameters or [])
        self.steps = list(steps or [])
        self.sagemaker_session = sagemaker_session or Session()

    def definition(self) -> str:
        """SageMaker's definition document (JSON), as ``sagemaker.workflow.pipeline.Pipeline`` writes it."""
        return json.dumps(
            {
                "Version": VERSION,
                "Metadata": {},
                "Parameters": [p.to_request() for p in self.parameters],
                "PipelineExperimentConfig": {
                    "ExperimentName": {"Get": "Execution.PipelineName"},
                    "TrialName": {"Get": "Execution.PipelineExecutionId"},
                },
                "Steps": [s.to_request() for s in self.steps],
            }
        )

    def _request(self, role_arn: str | None, description: str | None) -> dict[str, Any]:
        request: dict[str, Any] = {"PipelineName": self.name, "PipelineDefinition": self.definition()}
        if role_arn:
            request["RoleArn"] = role_arn
        if description:
            request["PipelineDescription"] = description
        return request

    def create(
        self, role_arn: str | None = None, description: str | None = None, **_ignored: Any
    ) -> dict[str, Any]:
        created: dict[str, Any] = self.sagemaker_session.client.call(
            "POST", "/pipelines", json=self._request(role_arn, description)
        )
        return created

    def update(
        self, role_arn: str | None = None, description: str | None = None, **_ignored: Any
    ) -> dict[str, Any]:
        updated: dict[str, Any] = self.sagemaker_session.client.call(
            "PUT", f"/pipelines/{self.name}", json=self._request(role_arn, description)
        )
        return updated

    def upsert(
        self, role_arn: str | None = None, description: str | None = None, **_ignored: Any
    ) -> dict[str, Any]:
        """Create the pipeline, or update it when it exists."""
        existing = [
            p["PipelineName"]
            for p in self.sagemaker_session.client.call("GET", "/pipelines", params={"limit": 1000})[
                "PipelineSummaries"
            ]
        ]
        if self.name in existing:
            return self.update(role_arn, description)
        return self.create(role_arn, description)

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = self.sagemaker_session.client.call("GET", f"/pipelines/{self.name}")
        return described

    def delete(self) -> None:
        self.sagemaker_session.client.call("DELETE", f"/pipelines/{self.name}")

    def start(
        self,
        parameters: dict[str, Any] | None = None,
        execution_display_name: str | None = None,
        execution_description: str | None = None,
        **_ignored: Any,
    ) -> PipelineExecution:
        """Start an execution; values arrive as strings, as SageMaker's SDK sends them."""
        body: dict[str, Any] = {
            "PipelineParameters": [
                {"Name": k, "Value": json.dumps(v) if isinstance(v, bool) else str(v)}
                for k, v in (parameters or {}).items()
            ]
        }
        if execution_display_name:
            body["PipelineExecutionDisplayName"] = execution_display_name
        if execution_description:
            body["PipelineExecutionDescription"] = execution_description
        arn = self.sagemaker_session.client.call("POST", f"/pipelines/{self.name}/executions", json=body)[
            "PipelineExecutionArn"
        ]
        return PipelineExecution(str(arn), self.sagemaker_session)

    def list_executions(self) -> dict[str, Any]:
        listed: dict[str, Any] = self.sagemaker_session.client.call(
            "GET", f"/pipelines/{self.name}/executions"
        )
        return listed
