"""/api/v1/internal: what training hosts report (log lines, metrics, status, their ending)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from kiln.records import LogLine, MetricValue, from_epoch
from kiln.server.deps import TrainingJobs
from kiln.server.routes.bounds import MAX_EPOCH_SECONDS, MAX_ROW_NUMBER
from kiln.services import TrainingJobService

router = APIRouter(prefix="/internal/training-jobs/{name}/hosts/{host}", tags=["internal"])


class _Line(BaseModel):
    t: float = Field(ge=0, le=MAX_EPOCH_SECONDS)
    s: str = "stdout"
    m: str


class _Metric(BaseModel):
    name: str
    value: float
    t: float = Field(ge=0, le=MAX_EPOCH_SECONDS)


class HostStatus(BaseModel):
    status: str
    message: str = ""
    t: float | None = Field(default=None, ge=0, le=MAX_EPOCH_SECONDS)  # on the host; None: now


class HostEvents(BaseModel):
    batch: int = Field(ge=0, le=MAX_ROW_NUMBER)
    lines: list[_Line] = []
    metrics: list[_Metric] = []
    statuses: list[HostStatus] = []  # status changes, applied after these lines, at their times


def _store_events(name: str, host: str, events: HostEvents, jobs: TrainingJobService) -> bool:
    lines = [LogLine(0, host, from_epoch(e.t), e.m, e.s) for e in events.lines]
    metrics = [MetricValue(m.name, m.value, from_epoch(m.t), host) for m in events.metrics]
    stored = jobs.host_events(name, host, events.batch, lines, metrics)
    if stored:  # a batch seen before had its statuses applied then
        for status in events.statuses:
            at = None if status.t is None else from_epoch(status.t)
            jobs.host_status(name, host, status.status, status.message, at)
    return stored


@router.post("/events")
def host_events(name: str, host: str, events: HostEvents, jobs: TrainingJobs) -> dict[str, bool]:
    return {"stored": _store_events(name, host, events, jobs)}


@router.post("/status")
def host_status(name: str, host: str, body: HostStatus, jobs: TrainingJobs) -> dict[str, bool]:
    jobs.host_status(name, host, body.status, body.message)
    return {"ok": True}


@router.post("/finish")
def host_finished(name: str, host: str, result: dict[str, Any], jobs: TrainingJobs) -> dict[str, str]:
    events = result.pop("events", None)  # the host's last lines and statuses, stored first
    if events is not None:
        _store_events(name, host, HostEvents.model_validate(events), jobs)
    job = jobs.host_finished(name, host, result)
    return {"TrainingJobStatus": job.status.value}
