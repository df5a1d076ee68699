"""Time and the job status every SageMaker job shares."""

from __future__ import annotations

import enum
from datetime import datetime, timezone

__all__ = [
    "JobStatus",
    "from_epoch",
    "utcnow",
]


def utcnow() -> datetime:
    """Now, as an aware UTC datetime: every time Kiln stores is aware."""
    return datetime.now(timezone.utc)


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


class JobStatus(str, enum.Enum):
    """The primary status of every SageMaker job: training, tuning (and transform, processing)."""

    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"

    def is_terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED)
