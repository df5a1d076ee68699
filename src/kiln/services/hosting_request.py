"""CreateModel, CreateEndpointConfig, CreateEndpoint, UpdateEndpoint and
UpdateEndpointWeightsAndCapacities as typed requests, parsed once whichever door they came through.

The REST API's bodies, the AWS wire's operations and a pipeline's model steps all become these types;
``EndpointService`` takes nothing else. What the request alone can tell (its shape, names, the variants'
counts and weights) is checked here, once; what needs the artifact store, the database or the
instance-type catalog is checked by the service (``hosting_validation``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kiln.errors import ValidationError
from kiln.services.job_validation import validate_job_name

__all__ = [
    "MAX_VARIANTS",
    "ContainerShape",
    "CreateEndpointConfigRequest",
    "CreateEndpointRequest",
    "CreateModelRequest",
    "DesiredWeightAndCapacity",
    "UpdateEndpointRequest",
    "UpdateWeightsRequest",
    "VariantShape",
]

MAX_VARIANTS = 10  # SageMaker's limit of production variants per endpoint config


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContainerShape(_Shape):
    ModelDataUrl: str | None = None
    Environment: dict[str, str] = {}
    Image: str | None = None  # accepted for compatibility; Kiln serves with its own runtime
    Mode: str | None = None
    Framework: str | None = None  # Kiln: "pytorch", "sklearn", … (informational)


class CreateModelRequest(_Shape):
    """SageMaker's CreateModel request (one PrimaryContainer), checked as far as the request allows."""

    ModelName: str
    PrimaryContainer: ContainerShape
    ExecutionRoleArn: str | None = None
    Tags: list[dict[str, str]] = []
    # Kiln's: SageMaker SDK arguments Kiln accepted but has no counterpart for; stored and echoed.
    SdkArguments: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _check(self) -> CreateModelRequest:
        validate_job_name(self.ModelName, "ModelName")
        container = self.PrimaryContainer
        if not container.ModelDataUrl and not container.Environment.get("SAGEMAKER_SUBMIT_DIRECTORY"):
            raise ValidationError(
                "PrimaryContainer needs a ModelDataUrl (a model.tar.gz) or inference code to serve"
            )
        return self

    @property
    def spec(self) -> dict[str, Any]:
        """The request as stored and described: SageMaker's fields, unset optional ones left out."""
        return self.model_dump(exclude_none=True)


class VariantShape(_Shape):
    VariantName: str
    ModelName: str
    InitialInstanceCount: int = Field(default=1, ge=1, le=64)
    InstanceType: str = "local"
    InitialVariantWeight: float = Field(default=1.0, ge=0)


class CreateEndpointConfigRequest(_Shape):
    """SageMaker's CreateEndpointConfig request: up to ten uniquely named production variants."""

    EndpointConfigName: str
    ProductionVariants: list[VariantShape] = Field(min_length=1)
    Tags: list[dict[str, str]] = []

    @model_validator(mode="after")
    def _check(self) -> CreateEndpointConfigRequest:
        validate_job_name(self.EndpointConfigName, "EndpointConfigName")
        variants = self.ProductionVariants
        if len(variants) > MAX_VARIANTS:
            raise ValidationError(
                f"ProductionVariants has {len(variants)} variants; at most {MAX_VARIANTS} are allowed"
            )
        names: set[str] = set()
        for variant in variants:
            validate_job_name(variant.VariantName, "VariantName")
            if variant.VariantName in names:
                raise ValidationError(
                    f"VariantName {variant.VariantName!r} is given twice; variant names must be unique"
                )
            names.add(variant.VariantName)
        return self

    @property
    def spec(self) -> dict[str, Any]:
        """The request as stored and described: SageMaker's fields, unset optional ones left out."""
        return self.model_dump(exclude_none=True)


class CreateEndpointRequest(_Shape):
    EndpointName: str
    EndpointConfigName: str
    Tags: list[dict[str, str]] = []

    @model_validator(mode="after")
    def _check(self) -> CreateEndpointRequest:
        validate_job_name(self.EndpointName, "EndpointName")
        return self


class UpdateEndpointRequest(_Shape):
    EndpointConfigName: str


class DesiredWeightAndCapacity(_Shape):
    VariantName: str
    DesiredWeight: float | None = Field(default=None, ge=0)
    DesiredInstanceCount: int | None = Field(default=None, ge=1, le=64)


class UpdateWeightsRequest(_Shape):
    DesiredWeightsAndCapacities: list[DesiredWeightAndCapacity] = Field(min_length=1)
