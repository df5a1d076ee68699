"""SageMaker's model, endpoint-config and endpoint operations, on ``EndpointService``."""

from __future__ import annotations

from typing import Any

from kiln.errors import ValidationError
from kiln.images import parse_image_uri
from kiln.server.schemas.hosting import describe_endpoint, describe_endpoint_config, describe_model
from kiln.server.wire._base import WireCall
from kiln.server.wire.operations import Operation, select_page
from kiln.server.wire.requests import accept_typed, refuse_unsupported
from kiln.server.wire.sagemaker_tags import forget_tags, store_tags
from kiln.services.hosting_request import (
    CreateEndpointConfigRequest,
    CreateEndpointRequest,
    CreateModelRequest,
    UpdateEndpointRequest,
    UpdateWeightsRequest,
)

__all__ = ["HOSTING_OPERATIONS"]

LIST_ALL = 10_000
# Members that change how a model is served: refused rather than ignored.
UNSUPPORTED_CONFIG = {
    "AsyncInferenceConfig": "Kiln endpoints answer InvokeEndpoint synchronously; leave it out",
    "ShadowProductionVariants": "use ProductionVariants with weights, and UpdateEndpointWeightsAndCapacities",
}


# -- models -----------------------------------------------------------------------------------------


def create_model(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    if "PrimaryContainer" not in params:
        raise ValidationError(
            "PrimaryContainer is required: Kiln serves one container per model (Containers and "
            "inference pipelines are not supported)"
        )
    container = params["PrimaryContainer"]
    if isinstance(container, dict) and container.get("Image") and "Framework" not in container:
        params = {**params, "PrimaryContainer": {**container}}
        params["PrimaryContainer"]["Framework"] = parse_image_uri(str(container["Image"])).runtime
    request, submitted = accept_typed(CreateModelRequest, params)
    model = call.state.endpoints.create_model(request, as_submitted=submitted)
    store_tags(call, f"model/{model.name}", params)
    return {"ModelArn": call.arn(f"model/{model.name}")}


def describe_model_op(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    model = call.state.endpoints.describe_model(params["ModelName"])
    return {**model.spec, **describe_model(model)}


def list_models(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    models = [describe_model(m) for m in call.state.endpoints.list_models(LIST_ALL)]
    chosen, token = select_page(
        models, params, name_key="ModelName", sort_keys={"Name": "ModelName", "CreationTime": "CreationTime"}
    )
    return {"Models": chosen, "NextToken": token}


def delete_model(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    call.state.endpoints.delete_model(params["ModelName"])
    forget_tags(call, f"model/{params['ModelName']}")
    return {}


def _model_not_found(call: WireCall, params: dict[str, Any]) -> tuple[str, str]:
    return (
        "ValidationException",
        f'Could not find model "{call.arn("model/" + params.get("ModelName", ""))}".',
    )


def _model_exists(call: WireCall, params: dict[str, Any]) -> tuple[str, str]:
    arn = call.arn("model/" + params.get("ModelName", ""))
    return "ValidationException", f'Cannot create already existing model "{arn}".'


# -- endpoint configs -------------------------------------------------------------------------------


def create_endpoint_config(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    refuse_unsupported(params, UNSUPPORTED_CONFIG)
    request, submitted = accept_typed(CreateEndpointConfigRequest, params)
    config = call.state.endpoints.create_endpoint_config(request, as_submitted=submitted)
    store_tags(call, f"endpoint-config/{config.name}", params)
    return {"EndpointConfigArn": call.arn(f"endpoint-config/{config.name}")}


def describe_endpoint_config_op(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    config = call.state.endpoints.describe_endpoint_config(params["EndpointConfigName"])
    return {**config.spec, **describe_endpoint_config(config)}


def list_endpoint_configs(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    configs = [describe_endpoint_config(c) for c in call.state.endpoints.list_endpoint_configs(LIST_ALL)]
    chosen, token = select_page(
        configs,
        params,
        name_key="EndpointConfigName",
        sort_keys={"Name": "EndpointConfigName", "CreationTime": "CreationTime"},
    )
    return {"EndpointConfigs": chosen, "NextToken": token}


def delete_endpoint_config(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    call.state.endpoints.delete_endpoint_config(params["EndpointConfigName"])
    forget_tags(call, f"endpoint-config/{params['EndpointConfigName']}")
    return {}


def _config_not_found(call: WireCall, params: dict[str, Any]) -> tuple[str, str]:
    arn = call.arn("endpoint-config/" + params.get("EndpointConfigName", ""))
    return "ValidationException", f'Could not find endpoint configuration "{arn}".'


def _config_exists(call: WireCall, params: dict[str, Any]) -> tuple[str, str]:
    arn = call.arn("endpoint-config/" + params.get("EndpointConfigName", ""))
    return "ValidationException", f'Cannot create already existing endpoint configuration "{arn}".'


def _variant_model_not_found(call: WireCall, params: dict[str, Any]) -> tuple[str, str]:
    known = {m.name for m in call.state.endpoints.list_models(LIST_ALL)}
    for variant in params.get("ProductionVariants") or []:
        if variant.get("ModelName") not in known:
            arn = call.arn(f"model/{variant.get('ModelName')}")
            return "ValidationException", f'Could not find model "{arn}".'
    return "ValidationException", "A model named by ProductionVariants does not exist."


# -- endpoints --------------------------------------------------------------------------------------


def create_endpoint(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    request, _ = accept_typed(CreateEndpointRequest, params)
    endpoint = call.state.endpoints.create_endpoint(request)
    store_tags(call, f"endpoint/{endpoint.name}", params)
    return {"EndpointArn": call.arn(f"endpoint/{endpoint.name}")}


def describe_endpoint_op(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    return describe_endpoint(call.state.endpoints.describe(params["EndpointName"]))


def list_endpoints(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    endpoints = [describe_endpoint(e) for e in call.state.endpoints.list_endpoints(None, LIST_ALL)]
    chosen, token = select_page(
        endpoints,
        params,
        name_key="EndpointName",
        status_key="EndpointStatus",
        sort_keys={"Name": "EndpointName", "CreationTime": "CreationTime", "Status": "EndpointStatus"},
    )
    return {"Endpoints": chosen, "NextToken": token}


def update_endpoint(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    request, _ = accept_typed(UpdateEndpointRequest, params)
    endpoint = call.state.endpoints.update_endpoint(params["EndpointName"], request)
    return {"EndpointArn": call.arn(f"endpoint/{endpoint.name}")}


def update_weights(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    request, _ = accept_typed(UpdateWeightsRequest, params)
    endpoint = call.state.endpoints.update_weights_and_capacities(params["EndpointName"], request)
    return {"EndpointArn": call.arn(f"endpoint/{endpoint.name}")}


def delete_endpoint(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    call.state.endpoints.delete_endpoint(params["EndpointName"])
    forget_tags(call, f"endpoint/{params['EndpointName']}")
    return {}


def _endpoint_not_found(call: WireCall, params: dict[str, Any]) -> tuple[str, str]:
    arn = call.arn("endpoint/" + params.get("EndpointName", ""))
    return "ValidationException", f'Could not find endpoint "{arn}".'


def _endpoint_or_config_not_found(call: WireCall, params: dict[str, Any]) -> tuple[str, str]:
    try:
        call.state.endpoints.describe_endpoint_config(params.get("EndpointConfigName", ""))
    except Exception:
        return _config_not_found(call, params)
    return _endpoint_not_found(call, params)


def _endpoint_exists(call: WireCall, params: dict[str, Any]) -> tuple[str, str]:
    arn = call.arn("endpoint/" + params.get("EndpointName", ""))
    return "ValidationException", f'Cannot create already existing endpoint "{arn}".'


def _endpoint_busy(call: WireCall, params: dict[str, Any]) -> tuple[str, str]:
    endpoint = call.state.endpoints.describe(params["EndpointName"])
    arn = call.arn(f"endpoint/{endpoint.name}")
    return "ValidationException", f'Cannot update in-progress endpoint "{arn}".'


HOSTING_OPERATIONS: dict[str, Operation] = {
    "CreateModel": Operation(create_model, conflict=_model_exists),
    "DescribeModel": Operation(describe_model_op, missing=_model_not_found),
    "ListModels": Operation(list_models),
    "DeleteModel": Operation(delete_model, missing=_model_not_found),
    "CreateEndpointConfig": Operation(
        create_endpoint_config, missing=_variant_model_not_found, conflict=_config_exists
    ),
    "DescribeEndpointConfig": Operation(describe_endpoint_config_op, missing=_config_not_found),
    "ListEndpointConfigs": Operation(list_endpoint_configs),
    "DeleteEndpointConfig": Operation(delete_endpoint_config, missing=_config_not_found),
    "CreateEndpoint": Operation(create_endpoint, missing=_config_not_found, conflict=_endpoint_exists),
    "DescribeEndpoint": Operation(describe_endpoint_op, missing=_endpoint_not_found),
    "ListEndpoints": Operation(list_endpoints),
    "UpdateEndpoint": Operation(
        update_endpoint, missing=_endpoint_or_config_not_found, conflict=_endpoint_busy
    ),
    "UpdateEndpointWeightsAndCapacities": Operation(
        update_weights, missing=_endpoint_not_found, conflict=_endpoint_busy
    ),
    "DeleteEndpoint": Operation(delete_endpoint, missing=_endpoint_not_found),
}
