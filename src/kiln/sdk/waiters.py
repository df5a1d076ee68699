"""Waiting for a resource to reach a state: one polling engine and a table of waiters (botocore's shape).

Each waiter names the describe call, the status field, the states that end the wait with success or
failure, a delay between checks and a maximum number of checks, so every wait has a bound. Callers may
pass their own ``delay`` (``Session.wait_for_job(poll=…)``) or ``max_attempts`` (a job's own runtime
limit), never an unbounded loop. The table sits above ``KilnClient``, which never imports it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kiln.errors import UnexpectedStatusException, ValidationError
from kiln.sdk.client import KilnClient
from kiln.sdk.tuning_client import TuningClient

__all__ = ["WAITERS", "Waiter", "get_waiter"]

Describe = Callable[[KilnClient, str], dict[str, Any]]


@dataclass(frozen=True)
class Waiter:
    """Poll ``describe`` every ``delay`` seconds, at most ``max_attempts`` times, until the status ends."""

    name: str
    noun: str  # for messages: "training job", "endpoint"
    describe: Describe
    status_field: str
    success: frozenset[str]
    failure: frozenset[str] = frozenset()
    failure_message: str = "{noun} {name} ended {status}. Reason: {reason}"
    delay: float = 0.5
    max_attempts: int = 7200

    def wait(
        self,
        client: KilnClient,
        name: str,
        *,
        delay: float | None = None,
        max_attempts: int | None = None,
        on_poll: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """The description once the status is a success state; raises on a failure state or when the
        checks run out (``UnexpectedStatusException`` naming the state it was left in)."""
        pause = self.delay if delay is None else float(delay)
        attempts = self.max_attempts if max_attempts is None else int(max_attempts)
        if pause < 0 or attempts < 1:
            raise ValidationError(f"waiting needs delay ≥ 0 and max_attempts ≥ 1, not {pause}, {attempts}")
        started = time.monotonic()
        status = "unknown"
        for attempt in range(1, attempts + 1):
            description = self.describe(client, name)
            if on_poll is not None:
                on_poll(description)
            status = str(description.get(self.status_field))
            if status in self.success:
                return description
            if status in self.failure:
                raise UnexpectedStatusException(
                    self.failure_message.format(
                        noun=self.noun.capitalize(),
                        name=name,
                        status=status,
                        reason=description.get("FailureReason", ""),
                    ),
                    allowed_statuses=tuple(sorted(self.success)),
                    actual_status=status,
                )
            if attempt < attempts:
                time.sleep(pause)
        waited = time.monotonic() - started
        raise UnexpectedStatusException(
            f"{self.noun.capitalize()} {name} is still {status} after {waited:.0f} s ({attempts} checks "
            f"{pause:g} s apart); it has not failed: wait again, or pass a larger max_attempts",
            allowed_statuses=tuple(sorted(self.success)),
            actual_status=status,
        )


def _describe_tuning_job(client: KilnClient, name: str) -> dict[str, Any]:
    return TuningClient(client).describe_tuning_job(name)


def _describe_pipeline_execution(client: KilnClient, execution: str) -> dict[str, Any]:
    described: dict[str, Any] = client.call("GET", f"/pipeline-executions/{execution.rsplit('/', 1)[-1]}")
    return described


_ENDED = frozenset({"Completed", "Failed", "Stopped"})

# Delays suit one machine (a local job's status changes within a second, not minutes as on AWS); the
# attempts bound each wait: a day for jobs (a caller with the job's own limits passes a tighter one),
# an hour for an endpoint to come up (SageMaker's EndpointInService waits an hour too).
WAITERS: Mapping[str, Waiter] = {
    waiter.name: waiter
    for waiter in (
        Waiter(
            "TrainingJobEnded",
            "training job",
            KilnClient.describe_training_job,
            "TrainingJobStatus",
            success=_ENDED,  # the caller decides whether Failed/Stopped is an error (logs, attach)
            delay=0.5,
            max_attempts=2 * 24 * 3600,
        ),
        Waiter(
            "EndpointInService",
            "endpoint",
            KilnClient.describe_endpoint,
            "EndpointStatus",
            success=frozenset({"InService"}),
            failure=frozenset({"Failed"}),
            failure_message="Error hosting endpoint {name}: {status}. Reason: {reason}",
            delay=0.2,
            max_attempts=5 * 3600,
        ),
        Waiter(
            "TransformJobEnded",
            "transform job",
            KilnClient.describe_transform_job,
            "TransformJobStatus",
            success=_ENDED,  # the caller decides whether Failed/Stopped is an error
            delay=0.5,
            max_attempts=2 * 24 * 3600,
        ),
        Waiter(
            "ProcessingJobEnded",
            "processing job",
            KilnClient.describe_processing_job,
            "ProcessingJobStatus",
            success=_ENDED,  # the caller decides whether Failed/Stopped is an error (as SageMaker's SDK)
            delay=0.5,
            max_attempts=2 * 24 * 3600,
        ),
        Waiter(
            "TuningJobEnded",
            "tuning job",
            _describe_tuning_job,
            "HyperParameterTuningJobStatus",
            success=_ENDED,
            delay=0.5,
            max_attempts=2 * 24 * 3600,
        ),
        Waiter(
            "PipelineExecutionComplete",
            "pipeline execution",
            _describe_pipeline_execution,
            "PipelineExecutionStatus",
            success=frozenset({"Succeeded"}),
            failure=frozenset({"Failed", "Stopped"}),  # SageMaker's SDK waits out a Stopped one
            delay=0.5,
            max_attempts=2 * 24 * 3600,
        ),
    )
}


def get_waiter(name: str) -> Waiter:
    """The waiter called ``name`` (``botocore``'s ``client.get_waiter``)."""
    try:
        return WAITERS[name]
    except KeyError:
        raise ValidationError(f"no waiter {name!r}; the waiters are {', '.join(sorted(WAITERS))}") from None
