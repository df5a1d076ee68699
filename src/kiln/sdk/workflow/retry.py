"""Retry policies (``sagemaker.workflow.retry``): when a step's job fails for a reason a policy names,
the step runs again (a new job) after ``interval_seconds × backoff_rate^(attempt-1)``."""

from __future__ import annotations

import enum
from typing import Any

__all__ = [
    "SageMakerJobExceptionTypeEnum",
    "SageMakerJobStepRetryPolicy",
    "StepExceptionTypeEnum",
    "StepRetryPolicy",
]


class StepExceptionTypeEnum(enum.Enum):
    SERVICE_FAULT = "Step.SERVICE_FAULT"
    THROTTLING = "Step.THROTTLING"


class SageMakerJobExceptionTypeEnum(enum.Enum):
    INTERNAL_ERROR = "SageMaker.JOB_INTERNAL_ERROR"
    CAPACITY_ERROR = "SageMaker.CAPACITY_ERROR"
    RESOURCE_LIMIT = "SageMaker.RESOURCE_LIMIT"


class _RetryPolicy:
    def __init__(
        self,
        exception_types: list[Any],
        interval_seconds: int = 1,
        backoff_rate: float = 2.0,
        max_attempts: int | None = None,
        expire_after_mins: int | None = None,
    ) -> None:
        self.exception_types = [e.value if isinstance(e, enum.Enum) else str(e) for e in exception_types]
        self.interval_seconds = interval_seconds
        self.backoff_rate = backoff_rate
        self.max_attempts = max_attempts
        self.expire_after_mins = expire_after_mins

    def to_request(self) -> dict[str, Any]:
        request: dict[str, Any] = {
            "ExceptionType": self.exception_types,
            "IntervalSeconds": self.interval_seconds,
            "BackoffRate": self.backoff_rate,
        }
        if self.max_attempts is not None:
            request["MaxAttempts"] = self.max_attempts
        if self.expire_after_mins is not None:
            request["ExpireAfterMin"] = self.expire_after_mins
        return request


class StepRetryPolicy(_RetryPolicy):
    pass


class SageMakerJobStepRetryPolicy(_RetryPolicy):
    def __init__(
        self,
        exception_types: list[Any] | None = None,
        failure_reason_types: list[Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(list(exception_types or failure_reason_types or []), **kwargs)
