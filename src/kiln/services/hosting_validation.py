"""The checks of CreateModel and CreateEndpointConfig that need the store, the database or the
instance-type catalog; what the request alone can tell is checked when it is parsed
(``hosting_request``). Refusals name the field and the value."""

from __future__ import annotations

from collections.abc import Callable

from kiln.artifacts import ArtifactStore
from kiln.errors import ValidationError
from kiln.metadata import Database, hosting
from kiln.scheduler import InstanceType, get_instance_type
from kiln.services.hosting_request import CreateEndpointConfigRequest, CreateModelRequest

__all__ = ["validate_endpoint_config", "validate_model"]


def validate_model(request: CreateModelRequest, store: ArtifactStore) -> None:
    data_url = request.PrimaryContainer.ModelDataUrl
    code = request.PrimaryContainer.Environment.get("SAGEMAKER_SUBMIT_DIRECTORY", "")
    if data_url:
        store.resolve_uri(data_url, field="ModelDataUrl")
    if "://" in code:
        store.resolve_uri(code, field="SAGEMAKER_SUBMIT_DIRECTORY")
    if data_url and not store.exists(data_url):
        raise ValidationError(f"ModelDataUrl {data_url!r} does not exist; pass the URI of a model.tar.gz")
    if data_url and not data_url.endswith(".tar.gz"):
        raise ValidationError(f"ModelDataUrl {data_url!r} must point to a .tar.gz archive")
    if "://" in code and not store.exists(code):
        raise ValidationError(f"SAGEMAKER_SUBMIT_DIRECTORY {code!r} does not exist; upload the code first")


def validate_endpoint_config(
    request: CreateEndpointConfigRequest,
    db: Database,
    instance_type: Callable[[str], InstanceType] = get_instance_type,
) -> None:
    """``instance_type``: the server's catalog (the scheduler's, with the operator's own types);
    the built-in one where no scheduler runs."""
    for variant in request.ProductionVariants:
        hosting.get_model(db, variant.ModelName)  # NotFound names the model
        instance_type(variant.InstanceType)
