"""/api/v1/models, /api/v1/endpoint-configs, /api/v1/endpoints: SageMaker's hosting operations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query

from kiln.server.deps import EndpointMetricsStore, Endpoints
from kiln.server.schemas.endpoint_metrics import describe_endpoint_metrics
from kiln.server.schemas.hosting import (
    CreateEndpointConfigRequest,
    CreateEndpointRequest,
    CreateModelRequest,
    UpdateEndpointRequest,
    UpdateWeightsRequest,
    describe_endpoint,
    describe_endpoint_config,
    describe_model,
)

router = APIRouter(tags=["hosting"])


@router.post("/models", status_code=201)
def create_model(request: CreateModelRequest, endpoints: Endpoints) -> dict[str, Any]:
    return describe_model(endpoints.create_model(request))


@router.get("/models")
def list_models(endpoints: Endpoints, limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    return {"Models": [describe_model(m) for m in endpoints.list_models(limit)]}


@router.get("/models/{name}")
def get_model(name: str, endpoints: Endpoints) -> dict[str, Any]:
    return describe_model(endpoints.describe_model(name))


@router.delete("/models/{name}", status_code=204)
def delete_model(name: str, endpoints: Endpoints) -> None:
    endpoints.delete_model(name)


@router.post("/endpoint-configs", status_code=201)
def create_endpoint_config(request: CreateEndpointConfigRequest, endpoints: Endpoints) -> dict[str, Any]:
    return describe_endpoint_config(endpoints.create_endpoint_config(request))


@router.get("/endpoint-configs")
def list_endpoint_configs(endpoints: Endpoints, limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    return {"EndpointConfigs": [describe_endpoint_config(c) for c in endpoints.list_endpoint_configs(limit)]}


@router.get("/endpoint-configs/{name}")
def get_endpoint_config(name: str, endpoints: Endpoints) -> dict[str, Any]:
    return describe_endpoint_config(endpoints.describe_endpoint_config(name))


@router.delete("/endpoint-configs/{name}", status_code=204)
def delete_endpoint_config(name: str, endpoints: Endpoints) -> None:
    endpoints.delete_endpoint_config(name)


@router.post("/endpoints", status_code=201)
def create_endpoint(request: CreateEndpointRequest, endpoints: Endpoints) -> dict[str, Any]:
    return describe_endpoint(endpoints.create_endpoint(request))


@router.get("/endpoints")
def list_endpoints(
    endpoints: Endpoints, status: str | None = None, limit: int = Query(100, ge=1, le=1000)
) -> dict[str, Any]:
    return {"Endpoints": [describe_endpoint(e) for e in endpoints.list_endpoints(status, limit)]}


@router.get("/endpoints/{name}")
def get_endpoint(name: str, endpoints: Endpoints) -> dict[str, Any]:
    return describe_endpoint(endpoints.describe(name))


@router.post("/endpoints/{name}/update")
def update_endpoint(name: str, request: UpdateEndpointRequest, endpoints: Endpoints) -> dict[str, Any]:
    return describe_endpoint(endpoints.update_endpoint(name, request))


@router.post("/endpoints/{name}/weights-and-capacities")
def update_weights(name: str, request: UpdateWeightsRequest, endpoints: Endpoints) -> dict[str, Any]:
    return describe_endpoint(endpoints.update_weights_and_capacities(name, request))


@router.delete("/endpoints/{name}", status_code=204)
def delete_endpoint(name: str, endpoints: Endpoints) -> None:
    endpoints.delete_endpoint(name)


@router.get("/endpoints/{name}/logs")
def endpoint_logs(name: str, endpoints: Endpoints, tail: int = Query(200, ge=1, le=10_000)) -> dict[str, Any]:
    return {"Instances": endpoints.logs(name, tail)}


@router.get("/endpoints/{name}/metrics")
def endpoint_metrics(
    name: str,
    metrics: EndpointMetricsStore,
    period: int = Query(60, ge=1, le=86_400, description="seconds per datapoint: 10, or a multiple of 60"),
    start: datetime | None = Query(None, description="ISO 8601; default: 60 periods before end"),
    end: datetime | None = Query(None, description="ISO 8601; default: now"),
    variant: str | None = Query(None, description="one variant only"),
) -> dict[str, Any]:
    """SageMaker's CloudWatch endpoint metrics (AWS/SageMaker), per variant and period."""
    since, until, variants = metrics.query(name, period, start, end, variant)
    return describe_endpoint_metrics(name, period, since, until, variants)
