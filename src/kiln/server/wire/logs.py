"""CloudWatch Logs (awsJson1_1, ``X-Amz-Target: Logs_20140328.<Operation>``) over Kiln's stored logs.

SageMaker's names: training jobs log to group ``/aws/sagemaker/TrainingJobs`` and processing jobs to
``/aws/sagemaker/ProcessingJobs``, one stream per host,
``<job>/algo-<n>-<epoch>`` (epoch: the job's creation, in seconds); an endpoint logs to
``/aws/sagemaker/Endpoints/<name>``, one stream per instance, ``<variant>/<instance id>``.

GetLogEvents tokens are positions (``f/<seq>`` forward, ``b/<seq>`` backward) in the job's stored
line order, so polling with ``nextForwardToken`` returns each line once, and at the end of a stream
answers no events and the token it was given — what ``sagemaker.Session.logs_for_job`` loops on.
DescribeLogStreams never pages a job's streams (the SDK would loop on a ``nextToken``).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from kiln import metadata
from kiln.errors import NotFound, ValidationError
from kiln.server.wire._base import WireCall
from kiln.server.wire.paging import page
from kiln.server.wire.protocols import Protocol, error_response, json_response
from kiln.server.wire.shapes import check_input, operation_model

__all__ = [
    "ENDPOINT_GROUP_PREFIX",
    "OPERATIONS",
    "PROCESSING_GROUP",
    "TARGET_PREFIX",
    "TRAINING_GROUP",
    "handle",
]

TARGET_PREFIX = "Logs_20140328."
TRAINING_GROUP = "/aws/sagemaker/TrainingJobs"
PROCESSING_GROUP = "/aws/sagemaker/ProcessingJobs"
JOB_GROUPS = {TRAINING_GROUP: "training_jobs", PROCESSING_GROUP: "processing_jobs"}  # → app.state's service
ENDPOINT_GROUP_PREFIX = "/aws/sagemaker/Endpoints/"
MAX_EVENTS = 10_000  # CloudWatch's page limit for GetLogEvents and FilterLogEvents
MAX_STREAMS = 50
LIST_JOBS = 1_000  # streams of this many recent jobs when a request names no job


@dataclass(frozen=True)
class Event:
    seq: int
    timestamp_ms: int
    message: str


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _when(ms: Any) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(int(ms) / 1000, tz=timezone.utc)


def _group_missing(group: str) -> NotFound:
    return NotFound(f"The specified log group does not exist: {group}")


# -- streams ----------------------------------------------------------------------------------------


def _jobs(call: WireCall, group: str) -> Any:
    """The service of the host jobs that log to ``group`` (training or processing)."""
    return getattr(call.state, JOB_GROUPS[group])


def _job_streams(call: WireCall, group: str, name: str) -> list[dict[str, Any]]:
    job = _jobs(call, group).describe(name)
    epoch = int(job.creation_time.timestamp())
    hosts = [h.host for h in job.hosts] or [f"algo-{i}" for i in range(1, job.instance_count + 1)]
    return [
        {
            "logStreamName": f"{job.name}/{host}-{epoch}",
            "creationTime": _ms(job.creation_time),
            "arn": call.arn(f"log-group:{group}:log-stream:{job.name}/{host}-{epoch}", "logs"),
            "storedBytes": 0,
        }
        for host in hosts
    ]


def _training_streams(call: WireCall, group: str, prefix: str) -> list[dict[str, Any]]:
    job_name = prefix.split("/", 1)[0] if "/" in prefix else ""
    if job_name:
        try:
            streams = _job_streams(call, group, job_name)
        except NotFound:
            return []
    else:
        jobs = _jobs(call, group).list_jobs(limit=LIST_JOBS)
        streams = [s for j in jobs for s in _job_streams(call, group, j.name)]
    return [s for s in streams if str(s["logStreamName"]).startswith(prefix)]


def _endpoint_streams(call: WireCall, endpoint_name: str, prefix: str) -> list[dict[str, Any]]:
    try:
        endpoint = call.state.endpoints.describe(endpoint_name)
    except NotFound:
        raise _group_missing(ENDPOINT_GROUP_PREFIX + endpoint_name) from None
    group = ENDPOINT_GROUP_PREFIX + endpoint.name
    streams = [
        {
            "logStreamName": f"{i.variant}/{i.instance_id}",
            "creationTime": _ms(i.started_at),
            "arn": call.arn(f"log-group:{group}:log-stream:{i.variant}/{i.instance_id}", "logs"),
            "storedBytes": 0,
        }
        for i in endpoint.instances
    ]
    return [s for s in streams if str(s["logStreamName"]).startswith(prefix)]


def _streams(call: WireCall, group: str, prefix: str = "") -> list[dict[str, Any]]:
    if group in JOB_GROUPS:
        return _training_streams(call, group, prefix)
    if group.startswith(ENDPOINT_GROUP_PREFIX):
        return _endpoint_streams(call, group[len(ENDPOINT_GROUP_PREFIX) :], prefix)
    raise _group_missing(group)


# -- events -----------------------------------------------------------------------------------------


def _training_events(
    call: WireCall,
    group: str,
    stream: str,
    after: int,
    before: int | None,
    since: Any,
    until: Any,
    limit: int,
    newest: bool,
) -> list[Event]:
    job_name, _, host_part = stream.partition("/")
    host = host_part.rsplit("-", 1)[0]
    try:
        _jobs(call, group).describe(job_name)  # a job of the group's kind
        lines = metadata.list_log_lines(
            call.state.db,
            job_name,
            after_seq=after,
            before_seq=before,
            host=host,
            since=_when(since),
            until=_when(until),
            limit=limit,
            newest=newest,
        )
    except NotFound:
        raise NotFound(f"The specified log stream does not exist: {stream}") from None
    return [Event(line.seq, _ms(line.timestamp), line.message) for line in lines]


def _endpoint_events(
    call: WireCall,
    group: str,
    stream: str,
    after: int,
    before: int | None,
    since: Any,
    until: Any,
    limit: int,
    newest: bool,
) -> list[Event]:
    endpoint_name = group[len(ENDPOINT_GROUP_PREFIX) :]
    instance_id = stream.partition("/")[2]
    instances = {i.instance_id: i for i in call.state.endpoints.describe(endpoint_name).instances}
    if instance_id not in instances:
        raise NotFound(f"The specified log stream does not exist: {stream}")
    # An instance's log holds no per-line times: each line carries the instance's start.
    started = _ms(instances[instance_id].started_at)
    if (since is not None and started < int(since)) or (until is not None and started >= int(until)):
        return []
    lines: list[str] = next(
        (
            i["Lines"]
            for i in call.state.endpoints.logs(endpoint_name, MAX_EVENTS)
            if i["InstanceId"] == instance_id
        ),
        [],
    )
    events = [Event(n, started, text) for n, text in enumerate(lines, start=1)]
    chosen = [e for e in events if e.seq > after and (before is None or e.seq < before)]
    return chosen[-limit:] if newest else chosen[:limit]


def _events(
    call: WireCall,
    group: str,
    stream: str,
    *,
    after: int = 0,
    before: int | None = None,
    since: Any = None,
    until: Any = None,
    limit: int = MAX_EVENTS,
    newest: bool = False,
) -> list[Event]:
    if group in JOB_GROUPS:
        return _training_events(call, group, stream, after, before, since, until, limit, newest)
    if group.startswith(ENDPOINT_GROUP_PREFIX):
        return _endpoint_events(call, group, stream, after, before, since, until, limit, newest)
    raise _group_missing(group)


# -- operations -------------------------------------------------------------------------------------


def describe_log_streams(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    streams = _streams(call, params["logGroupName"], params.get("logStreamNamePrefix") or "")
    if params.get("orderBy") == "LastEventTime":
        streams.sort(key=lambda s: s["creationTime"])
    else:
        streams.sort(key=lambda s: s["logStreamName"])
    if params.get("descending"):
        streams.reverse()
    chosen, token = page(
        streams, {"MaxResults": params.get("limit") or MAX_STREAMS, "NextToken": params.get("nextToken")}
    )
    return {"logStreams": chosen, **({"nextToken": token} if token else {})}


def _position(token: str) -> tuple[str, int]:
    direction, _, seq = token.partition("/")
    if direction not in ("f", "b") or not seq.isdigit():
        raise ValidationError(f"The specified nextToken is invalid: {token!r}")
    return direction, int(seq)


def get_log_events(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    group, stream = params["logGroupName"], params["logStreamName"]
    limit = min(int(params.get("limit") or MAX_EVENTS), MAX_EVENTS)
    since, until = params.get("startTime"), params.get("endTime")
    token = params.get("nextToken")
    if token:
        direction, seq = _position(token)
    else:  # from the head when asked; CloudWatch's default is the newest events
        direction, seq = ("f", 0) if params.get("startFromHead") else ("b", 0)
    if direction == "f":
        events = _events(call, group, stream, after=seq, since=since, until=until, limit=limit)
    else:
        before = seq if token else None
        events = _events(
            call, group, stream, before=before, since=since, until=until, limit=limit, newest=True
        )
    if events:
        forward, backward = events[-1].seq, events[0].seq
    elif direction == "f":
        forward, backward = seq, seq + 1
    else:
        forward, backward = max(seq - 1, 0), seq
    return {
        "events": [
            {"timestamp": e.timestamp_ms, "message": e.message, "ingestionTime": e.timestamp_ms}
            for e in events
        ],
        "nextForwardToken": f"f/{forward}",
        "nextBackwardToken": f"b/{backward}",
    }


def _matches(pattern: str) -> Callable[[str], bool]:
    """CloudWatch's plain filter patterns: every term (or "quoted phrase") must occur."""
    try:
        terms = shlex.split(pattern)
    except ValueError:
        terms = pattern.split()
    return lambda message: all(term in message for term in terms)


def filter_log_events(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    group = params["logGroupName"]
    names = params.get("logStreamNames")
    streams = [s["logStreamName"] for s in _streams(call, group, params.get("logStreamNamePrefix") or "")]
    if names:
        streams = [s for s in streams if s in set(names)]
    matches = _matches(params.get("filterPattern") or "")
    found = [
        {
            "logStreamName": stream,
            "timestamp": e.timestamp_ms,
            "message": e.message,
            "ingestionTime": e.timestamp_ms,
            "eventId": f"{stream}/{e.seq}",
        }
        for stream in streams
        for e in _events(call, group, stream, since=params.get("startTime"), until=params.get("endTime"))
        if matches(e.message)
    ]
    found.sort(key=lambda e: (e["timestamp"], e["eventId"]))
    limit = min(int(params.get("limit") or MAX_EVENTS), MAX_EVENTS)
    token = params.get("nextToken") or "p/0"
    if not token.startswith("p/") or not token[2:].isdigit():
        raise ValidationError(f"The specified nextToken is invalid: {token!r}")
    start = int(token[2:])
    chosen = found[start : start + limit]
    more = start + limit < len(found)
    return {
        "events": chosen,
        "searchedLogStreams": [],
        **({"nextToken": f"p/{start + limit}"} if more else {}),
    }


OPERATIONS: dict[str, Callable[[WireCall, dict[str, Any]], dict[str, Any]]] = {
    "DescribeLogStreams": describe_log_streams,
    "GetLogEvents": get_log_events,
    "FilterLogEvents": filter_log_events,
}


async def handle(request: Request, call: WireCall) -> Response:
    target = request.headers.get("x-amz-target", "")
    name = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
    operation = OPERATIONS.get(name)
    if operation is None:
        return error_response(
            Protocol.JSON,
            "UnknownOperationException",
            f"Kiln does not serve CloudWatch Logs operation {target!r}; it serves {', '.join(OPERATIONS)}",
        )
    try:
        params = json.loads(await request.body() or b"{}")
    except ValueError as e:
        return error_response(Protocol.JSON, "SerializationException", f"the request body is not JSON: {e}")
    try:
        check_input(params, operation_model("logs", name).input_shape)
        answer = await run_in_threadpool(operation, call, params)
    except NotFound as e:
        return error_response(Protocol.JSON, "ResourceNotFoundException", e.message)
    except ValidationError as e:
        return error_response(Protocol.JSON, "InvalidParameterException", e.message)
    return json_response(answer)
