"""SageMaker's AddTags, ListTags and DeleteTags, and the tags given to Create* requests.

Tags are stored by resource (``training-job/NAME``, ``model/NAME``, …) rather than by full ARN, so a
client in another region or account of the same Kiln finds them; deleting a model, endpoint config
or endpoint deletes its tags.
"""

from __future__ import annotations

from typing import Any

from kiln.errors import ValidationError
from kiln.metadata import resource_tags as tag_rows
from kiln.server.wire._base import WireCall
from kiln.server.wire.operations import Operation
from kiln.server.wire.paging import page

__all__ = ["TAG_OPERATIONS", "forget_tags", "store_tags"]

MAX_TAGS = 50  # SageMaker's limit per resource
# ARN resource type → how to check that the resource exists (each raises NotFound).
_RESOURCES: dict[str, str] = {
    "training-job": "training_jobs.describe",
    "hyper-parameter-tuning-job": "tuning_jobs.describe",
    "model": "endpoints.describe_model",
    "endpoint-config": "endpoints.describe_endpoint_config",
    "endpoint": "endpoints.describe",
    "processing-job": "processing_jobs.describe",
    "pipeline": "pipelines.describe",
}


def store_tags(call: WireCall, resource: str, params: dict[str, Any]) -> None:
    tags = [(t["Key"], t.get("Value", "")) for t in params.get("Tags") or []]
    if tags:
        tag_rows.put_tags(call.state.db, resource, tags)


def forget_tags(call: WireCall, resource: str) -> None:
    tag_rows.delete_tags(call.state.db, resource)


def _resource(call: WireCall, arn: str) -> str:
    """``type/name`` of a SageMaker ARN, after checking that the resource exists."""
    parts = arn.split(":", 5)
    kind, _, name = parts[5].partition("/") if len(parts) == 6 else ("", "", "")
    if len(parts) != 6 or parts[2] != "sagemaker" or kind not in _RESOURCES or not name:
        raise ValidationError(
            f"ResourceArn {arn!r} is not the ARN of a SageMaker resource Kiln has; use the ARN a "
            f"Create or Describe answer gave, of a {', '.join(_RESOURCES)}"
        )
    service, method = _RESOURCES[kind].split(".")
    getattr(getattr(call.state, service), method)(name)
    return f"{kind}/{name}"


def add_tags(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    resource = _resource(call, params["ResourceArn"])
    current = dict(tag_rows.list_tags(call.state.db, resource))
    added = {t["Key"]: t.get("Value", "") for t in params["Tags"]}
    if len({**current, **added}) > MAX_TAGS:
        raise ValidationError(
            f"a resource may have at most {MAX_TAGS} tags; remove some with DeleteTags first"
        )
    tag_rows.put_tags(call.state.db, resource, list(added.items()))
    return {"Tags": [{"Key": k, "Value": v} for k, v in added.items()]}


def list_tags(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    resource = _resource(call, params["ResourceArn"])
    tags = [{"Key": k, "Value": v} for k, v in tag_rows.list_tags(call.state.db, resource)]
    chosen, token = page(tags, params, default=MAX_TAGS)
    return {"Tags": chosen, "NextToken": token}


def delete_tags(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    resource = _resource(call, params["ResourceArn"])
    tag_rows.delete_tags(call.state.db, resource, list(params["TagKeys"]))
    return {}


def _not_found(_call: WireCall, params: dict[str, Any]) -> tuple[str, str]:
    return "ValidationException", f"Resource {params.get('ResourceArn', '')} was not found."


TAG_OPERATIONS: dict[str, Operation] = {
    "AddTags": Operation(add_tags, missing=_not_found),
    "ListTags": Operation(list_tags, missing=_not_found),
    "DeleteTags": Operation(delete_tags, missing=_not_found),
}
