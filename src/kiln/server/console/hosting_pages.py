"""Models and endpoints: lists, an endpoint's page (variants, weights, try a prediction, delete)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kiln.errors import NotFound
from kiln.records import EndpointStatus
from kiln.server.console import services
from kiln.server.console.login import ConsoleAccess
from kiln.server.console.templating import message_page, render

__all__ = ["router"]

router = APIRouter()

LIST_LIMIT = 200
LOG_TAIL_LINES = 40


@router.get("/endpoints")
def endpoint_list(request: Request, _access: ConsoleAccess) -> Response:
    found = services.endpoints(request).list_endpoints(None, LIST_LIMIT)
    settled = (EndpointStatus.IN_SERVICE, EndpointStatus.FAILED)
    in_progress = any(e.status not in settled for e in found)
    return render(request, "endpoints.html", endpoints=found, in_progress=in_progress)


@router.get("/models")
def model_list(request: Request, _access: ConsoleAccess) -> Response:
    hosting = services.endpoints(request)
    return render(
        request,
        "models.html",
        models=hosting.list_models(LIST_LIMIT),
        configs=hosting.list_endpoint_configs(LIST_LIMIT),
    )


@router.get("/endpoints/{name}")
def endpoint_page(request: Request, name: str, _access: ConsoleAccess) -> Response:
    hosting = services.endpoints(request)
    try:
        endpoint = hosting.describe(name)
    except NotFound as e:
        return message_page(request, "No such endpoint", e.message, 404)
    try:
        config_variants = hosting.describe_endpoint_config(endpoint.config_name).variants
    except NotFound:
        config_variants = []  # the config was deleted after the endpoint was created
    models = {v["VariantName"]: v.get("ModelName", "") for v in config_variants}
    types = {v["VariantName"]: v.get("InstanceType", "local") for v in config_variants}
    variants = [
        {
            "name": variant,
            "weight": weight,
            "desired": endpoint.counts.get(variant, 0),
            "serving": sum(
                1
                for i in endpoint.instances
                if i.variant == variant
                and i.config_name == endpoint.config_name
                and i.state.value == "Serving"
            ),
            "model": models.get(variant, ""),
            "instance_type": types.get(variant, "local"),
        }
        for variant, weight in endpoint.weights.items()
    ]
    return render(
        request,
        "endpoint.html",
        endpoint=endpoint,
        variants=variants,
        instances=[i for i in endpoint.instances if i.state.is_live() or i.state.value == "Failed"],
        logs=hosting.logs(name, LOG_TAIL_LINES),
    )
