"""The hosting Describe answers (SageMaker's fields); the requests are ``services.hosting_request``'s."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kiln.records import Endpoint, EndpointConfigRecord, ModelRecord
from kiln.services.hosting_request import (
    CreateEndpointConfigRequest,
    CreateEndpointRequest,
    CreateModelRequest,
    UpdateEndpointRequest,
    UpdateWeightsRequest,
)

__all__ = [
    "CreateEndpointConfigRequest",
    "CreateEndpointRequest",
    "CreateModelRequest",
    "UpdateEndpointRequest",
    "UpdateWeightsRequest",
    "describe_endpoint",
    "describe_endpoint_config",
    "describe_model",
]

ARN = "arn:kiln:sagemaker:local:000000000000"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def describe_model(model: ModelRecord) -> dict[str, Any]:
    return {
        "ModelName": model.name,
        "ModelArn": f"{ARN}:model/{model.name}",
        "PrimaryContainer": model.spec.get("PrimaryContainer", {}),
        "CreationTime": _iso(model.creation_time),
        **({"SdkArguments": model.spec["SdkArguments"]} if model.spec.get("SdkArguments") else {}),
    }


def describe_endpoint_config(config: EndpointConfigRecord) -> dict[str, Any]:
    return {
        "EndpointConfigName": config.name,
        "EndpointConfigArn": f"{ARN}:endpoint-config/{config.name}",
        "ProductionVariants": config.variants,
        "CreationTime": _iso(config.creation_time),
    }


def describe_endpoint(endpoint: Endpoint) -> dict[str, Any]:
    variants = []
    for variant, weight in endpoint.weights.items():
        serving = [
            i
            for i in endpoint.instances
            if i.variant == variant and i.config_name == endpoint.config_name and i.state.value == "Serving"
        ]
        variants.append(
            {
                "VariantName": variant,
                "CurrentWeight": weight,
                "DesiredWeight": weight,
                "CurrentInstanceCount": len(serving),
                "DesiredInstanceCount": endpoint.counts.get(variant, 0),
            }
        )
    described: dict[str, Any] = {
        "EndpointName": endpoint.name,
        "EndpointArn": f"{ARN}:endpoint/{endpoint.name}",
        "EndpointConfigName": endpoint.config_name,
        "EndpointStatus": endpoint.status.value,
        "ProductionVariants": variants,
        "CreationTime": _iso(endpoint.creation_time),
        "LastModifiedTime": _iso(endpoint.last_modified_time),
        "Instances": [
            {
                "InstanceId": i.instance_id,
                "VariantName": i.variant,
                "EndpointConfigName": i.config_name,
                "State": i.state.value,
                "Port": i.port,
                "FailureReason": i.failure_reason,
            }
            for i in endpoint.instances
            if i.state.is_live() or i.state.value == "Failed"
        ],
    }
    if endpoint.failure_reason:
        described["FailureReason"] = endpoint.failure_reason
    return described
