"""RetryPolicies: which job failures a policy retries, after how long, and when it gives up."""

from __future__ import annotations

from datetime import timedelta

from kiln.records import PipelineStep, PipelineStepStatus, utcnow
from kiln.services.pipelines.definition import parse_definition
from kiln.services.pipelines.engine import retry_delay


def _spec(policies: list[dict[str, object]]):  # type: ignore[no-untyped-def]
    document = {
        "Version": "2020-12-01",
        "Steps": [{"Name": "Train", "Type": "Training", "Arguments": {}, "RetryPolicies": policies}],
    }
    return parse_definition(document).steps["Train"]


def _failed(reason: str, attempt: int = 1, started_ago: float = 0) -> PipelineStep:
    return PipelineStep(
        execution_id="e",
        pipeline_name="p",
        step_name="Train",
        step_type="Training",
        status=PipelineStepStatus.EXECUTING,
        job_name="j",
        arguments={},
        cache_key=None,
        cache_source_execution=None,
        outcome=None,
        attempt_count=attempt,
        retry_at=None,
        failure_reason=reason,
        start_time=utcnow() - timedelta(seconds=started_ago),
        end_time=None,
    )


INTERNAL = {
    "ExceptionType": ["SageMaker.JOB_INTERNAL_ERROR"],
    "IntervalSeconds": 2,
    "BackoffRate": 3.0,
    "MaxAttempts": 3,
}


def test_an_internal_error_is_retried_with_backoff_until_max_attempts() -> None:
    spec = _spec([INTERNAL])
    reason = "InternalServerError: the process of host algo-1 exited before reporting a result"
    assert retry_delay(spec, _failed(reason, attempt=1)) == timedelta(seconds=2)
    assert retry_delay(spec, _failed(reason, attempt=2)) == timedelta(seconds=6)
    assert retry_delay(spec, _failed(reason, attempt=3)) is None


def test_a_scripts_own_error_or_an_unnamed_failure_is_not_retried() -> None:
    assert retry_delay(_spec([INTERNAL]), _failed("AlgorithmError: ExecuteUserScriptError: exit 1")) is None
    capacity = {"ExceptionType": ["SageMaker.CAPACITY_ERROR"], "MaxAttempts": 5}
    reason = "InternalServerError: the job holds no capacity to restart with"
    assert retry_delay(_spec([capacity]), _failed(reason)) is None
    assert retry_delay(_spec([]), _failed(reason)) is None


def test_expire_after_min_bounds_the_retries() -> None:
    policy = {"ExceptionType": ["SageMaker.JOB_INTERNAL_ERROR"], "ExpireAfterMin": 1}
    reason = "InternalServerError: boom"
    assert retry_delay(_spec([policy]), _failed(reason, started_ago=10)) == timedelta(seconds=1)
    assert retry_delay(_spec([policy]), _failed(reason, started_ago=61)) is None
