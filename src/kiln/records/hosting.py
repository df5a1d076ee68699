"""Hosting: models, endpoint configs, endpoints, their instances and routes, and their metrics."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "Endpoint",
    "EndpointConfigRecord",
    "EndpointInstance",
    "EndpointMetricPeriod",
    "EndpointRoutes",
    "EndpointStatus",
    "InstanceState",
    "ModelRecord",
    "VariantRoute",
]


class EndpointStatus(str, enum.Enum):
    CREATING = "Creating"
    IN_SERVICE = "InService"
    UPDATING = "Updating"
    DELETING = "Deleting"
    FAILED = "Failed"

    def accepts_invocations(self) -> bool:
        # During an update the old instances serve until the new ones take over.
        return self in (EndpointStatus.IN_SERVICE, EndpointStatus.UPDATING)


class InstanceState(str, enum.Enum):
    STARTING = "Starting"
    SERVING = "Serving"
    DRAINING = "Draining"  # out of rotation, answering what it already holds
    STOPPED = "Stopped"
    FAILED = "Failed"

    def is_live(self) -> bool:
        return self in (InstanceState.STARTING, InstanceState.SERVING, InstanceState.DRAINING)


@dataclass(frozen=True)
class ModelRecord:
    name: str
    spec: dict[str, Any]  # CreateModel's request: PrimaryContainer{ModelDataUrl, Environment, …}
    creation_time: datetime


@dataclass(frozen=True)
class EndpointConfigRecord:
    name: str
    spec: dict[str, Any]  # CreateEndpointConfig's request: ProductionVariants[…]
    creation_time: datetime

    @property
    def variants(self) -> list[dict[str, Any]]:
        return list(self.spec.get("ProductionVariants", []))


@dataclass(frozen=True)
class EndpointInstance:
    instance_id: str
    variant: str
    config_name: str
    state: InstanceState
    handle: str | None  # the executor's (opaque, persistable) handle once its process started
    port: int | None
    socket_path: str | None
    failure_reason: str | None
    started_at: datetime


@dataclass(frozen=True)
class Endpoint:
    name: str
    config_name: str
    status: EndpointStatus
    weights: dict[str, float]  # variant → current weight
    counts: dict[str, int]  # variant → desired instance count
    creation_time: datetime
    last_modified_time: datetime
    failure_reason: str | None = None
    in_service_since: datetime | None = None
    instances: tuple[EndpointInstance, ...] = ()


@dataclass(frozen=True)
class VariantRoute:
    name: str
    weight: float
    instances: tuple[tuple[str, str], ...]  # (instance id, socket path) of instances in rotation


@dataclass(frozen=True)
class EndpointRoutes:
    name: str
    status: str  # the endpoint's status when these routes were published
    variants: tuple[VariantRoute, ...] = field(default=())

    def accepts_invocations(self) -> bool:
        return EndpointStatus(self.status).accepts_invocations()


@dataclass(frozen=True)
class EndpointMetricPeriod:
    """A variant's invocations in one period: counts, and latency histograms (``latency_histogram``)."""

    endpoint: str
    variant: str
    start: int  # epoch seconds
    invocations: int
    errors_4xx: int
    errors_5xx: int
    instances: int  # the variant's instances in service (the most seen in the period)
    model_latency: dict[int, int]  # bucket index → requests
    overhead_latency: dict[int, int]
    model_latency_sum_us: float
    overhead_latency_sum_us: float
