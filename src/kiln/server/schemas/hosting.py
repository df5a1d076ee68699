"""CreateModel, CreateEndpointConfig, CreateEndpoint and their Describe answers (SageMaker's fields)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kiln.records import Endpoint, EndpointConfigRecord, ModelRecord

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


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContainerShape(_Shape):
    ModelDataUrl: str | None = None
    Environment: dict[str, str] = {}
    Image: str | None = None  # accepted for compatibility; Kiln serves with its own runtime
    Mode: str | None = None
    Framework: str | None = None  # Kiln: "pytorch", "sklearn", … (informational)


class CreateModelRequest(_Shape):
    ModelName: str
    PrimaryContainer: ContainerShape
    ExecutionRoleArn: str | None = None
    Tags: list[dict[str, str]] = []
    # Kiln's: SageMaker SDK arguments Kiln accepted but has no counterpart for; stored and echoed.
    SdkArguments: dict[str, Any] | None = None


class VariantShape(_Shape):
    VariantName: str
    ModelName: str
    InitialInstanceCount: int = Field(default=1, ge=1, le=64)
    InstanceType: str = "local"
    InitialVariantWeight: float = Field(default=1.0, ge=0)


class CreateEndpointConfigRequest(_Shape):
    EndpointConfigName: str
    ProductionVariants: list[VariantShape] = Field(min_length=1)
    Tags: list[dict[str, str]] = []


class CreateEndpointRequest(_Shape):
    EndpointName: str
    EndpointConfigName: str
    Tags: list[dict[str, str]] = []


class UpdateEndpointRequest(_Shape):
    EndpointConfigName: str


class DesiredWeightAndCapacity(_Shape):
    VariantName: str
    DesiredWeight: float | None = Field(default=None, ge=0)
    DesiredInstanceCount: int | None = Field(default=None, ge=1, le=64)


class UpdateWeightsRequest(_Shape):
    DesiredWeightsAndCapacities: list[DesiredWeightAndCapacity] = Field(min_length=1)


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
