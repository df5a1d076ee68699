"""Checks for CreateModel and CreateEndpointConfig requests: refusals name the field and the value."""

from __future__ import annotations

from typing import Any

from kiln.artifacts import ArtifactStore
from kiln.errors import ValidationError
from kiln.metadata import Database, hosting
from kiln.scheduler import get_instance_type
from kiln.services.job_validation import validate_job_name

__all__ = ["validate_endpoint_config", "validate_model"]

MAX_VARIANTS = 10  # SageMaker's limit of production variants per endpoint config


def validate_model(request: dict[str, Any], store: ArtifactStore) -> None:
    validate_job_name(str(request.get("ModelName", "")), "ModelName")
    container = request.get("PrimaryContainer") or {}
    data_url = container.get("ModelDataUrl")
    environment = container.get("Environment") or {}
    if not data_url and not environment.get("SAGEMAKER_SUBMIT_DIRECTORY"):
        raise ValidationError(
            "PrimaryContainer needs a ModelDataUrl (a model.tar.gz) or inference code to serve"
        )
    if data_url:
        store.resolve_uri(str(data_url), field="ModelDataUrl")
    code = environment.get("SAGEMAKER_SUBMIT_DIRECTORY", "")
    if "://" in code:
        store.resolve_uri(code, field="SAGEMAKER_SUBMIT_DIRECTORY")
    if data_url and not store.exists(str(data_url)):
        raise ValidationError(f"ModelDataUrl {data_url!r} does not exist; pass the URI of a model.tar.gz")
    if data_url and not str(data_url).endswith(".tar.gz"):
        raise ValidationError(f"ModelDataUrl {data_url!r} must point to a .tar.gz archive")
    if "://" in code and not store.exists(code):
        raise ValidationError(f"SAGEMAKER_SUBMIT_DIRECTORY {code!r} does not exist; upload the code first")


def validate_endpoint_config(request: dict[str, Any], db: Database) -> None:
    validate_job_name(str(request.get("EndpointConfigName", "")), "EndpointConfigName")
    variants = request.get("ProductionVariants") or []
    if not variants:
        raise ValidationError("ProductionVariants must hold at least one variant")
    if len(variants) > MAX_VARIANTS:
        raise ValidationError(
            f"ProductionVariants has {len(variants)} variants; at most {MAX_VARIANTS} are allowed"
        )
    names: set[str] = set()
    for variant in variants:
        name = str(variant.get("VariantName", ""))
        validate_job_name(name, "VariantName")
        if name in names:
            raise ValidationError(f"VariantName {name!r} is given twice; variant names must be unique")
        names.add(name)
        hosting.get_model(db, str(variant.get("ModelName", "")))  # NotFound names the model
        get_instance_type(str(variant.get("InstanceType", "")))
        count = variant.get("InitialInstanceCount", 1)
        if not isinstance(count, int) or count < 1:
            raise ValidationError(
                f"variant {name!r}: InitialInstanceCount {count!r} must be a whole number ≥ 1"
            )
        weight = variant.get("InitialVariantWeight", 1.0)
        if not isinstance(weight, (int, float)) or weight < 0:
            raise ValidationError(f"variant {name!r}: InitialVariantWeight {weight!r} must be a number ≥ 0")
