"""Printing a training job's logs and status changes the way SageMaker's ``logs_for_job`` does."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from typing import Any, TextIO

from kiln.errors import UnexpectedStatusException
from kiln.sdk.client import KilnClient
from kiln.sdk.reconnect import StreamBroken
from kiln.sdk.waiters import WAITERS

__all__ = ["check_job_status", "closing_lines", "print_job_logs", "wait_for_job"]

RESUME_PAUSE_SECONDS = 0.1  # between a broken stream and the next attempt to open it


def _status_line(event: dict[str, Any]) -> str:
    when = datetime.fromisoformat(event["timestamp"]).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    return f"{when} {event['status']} - {event['message']}"


def closing_lines(description: dict[str, Any]) -> list[str]:
    """SageMaker's closing lines, with Kiln's cost estimate."""
    count = int(description.get("ResourceConfig", {}).get("InstanceCount", 1))
    instance_type = description.get("ResourceConfig", {}).get("InstanceType", "local")
    training = int(description.get("TrainingTimeInSeconds", 0)) * count
    billable = int(description.get("BillableTimeInSeconds", 0))
    cost = float(description.get("EstimatedCost", 0.0))
    return [
        f"Training seconds: {training}",
        f"Billable seconds: {billable}, estimated cost: ${cost:.4f} at {instance_type}'s reference price",
    ]


def check_job_status(description: dict[str, Any]) -> None:
    status = description.get("TrainingJobStatus")
    if status in ("Failed", "Stopped"):
        reason = description.get("FailureReason") or description.get("SecondaryStatus", "")
        name = description.get("TrainingJobName")
        raise UnexpectedStatusException(
            f"Error for Training job {name}: {status}. Reason: {reason}",
            allowed_statuses=("Completed",),
            actual_status=str(status),
        )


def print_job_logs(
    client: KilnClient, name: str, *, follow: bool, out: TextIO | None = None
) -> dict[str, Any]:
    """Print every line so far (and, with ``follow``, until the job ends); returns the final describe."""
    stream = out or sys.stdout
    description = client.describe_training_job(name)
    multi_host = int(description.get("ResourceConfig", {}).get("InstanceCount", 1)) > 1
    if not follow:
        after = 0
        while True:
            page = client.training_job_logs(name, after)
            for event in page["Events"]:
                _print_line(stream, event, multi_host)
            if not page["Events"]:
                break
            after = page["NextSeq"]
        return description
    _follow(client, name, stream, multi_host)
    description = client.describe_training_job(name)
    for line in closing_lines(description):
        print(line, file=stream, flush=True)
    return description


def _follow(client: KilnClient, name: str, stream: TextIO, multi_host: bool) -> None:
    """Print the followed stream until its ``end`` event, resuming after a lost connection.

    A server restart breaks the stream; it is opened again after the last line printed (lines carry
    their sequence number) and the status changes already printed are skipped (the stream sends a
    job's transitions from the first, in order), so no line is lost or printed twice.
    """
    last_seq = 0
    statuses_printed = 0
    broken_since: float | None = None
    while True:
        statuses_seen = 0
        try:
            for event in client.follow_training_job(name, after=last_seq):
                broken_since = None
                if event["type"] == "log":
                    if int(event["seq"]) <= last_seq:
                        continue
                    _print_line(stream, event, multi_host)
                    last_seq = int(event["seq"])
                elif event["type"] == "status":
                    statuses_seen += 1
                    if statuses_seen > statuses_printed:
                        print(_status_line(event), file=stream, flush=True)
                        statuses_printed = statuses_seen
                elif event["type"] == "end":
                    return
        except StreamBroken:
            # Opening the stream again waits for the server (the client's retries); a stream that
            # keeps breaking without a single event gives up after the same time.
            now = time.monotonic()
            broken_since = now if broken_since is None else broken_since
            if now - broken_since > client.retry_seconds:
                raise
        # The stream also ends without ``end`` when the server shuts down gracefully: follow again.
        time.sleep(RESUME_PAUSE_SECONDS)


def _print_line(stream: TextIO, event: dict[str, Any], multi_host: bool) -> None:
    prefix = f"[{event['host']}] " if multi_host else ""
    print(f"{prefix}{event['message']}", file=stream, flush=True)


def wait_for_job(
    client: KilnClient, name: str, *, poll: float | None = None, max_attempts: int | None = None
) -> dict[str, Any]:
    """Block until the job ends (checking every ``poll`` seconds, at most ``max_attempts`` times);
    returns its description, whatever the end state."""
    return WAITERS["TrainingJobEnded"].wait(client, name, delay=poll, max_attempts=max_attempts)
