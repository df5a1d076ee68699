"""/api/v1/access-keys: the AWS wire's keys (``kiln keys``); the operator's API token is required."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from kiln.records import AccessKey
from kiln.server.deps import AccessKeys
from kiln.services.access_keys import MAX_NAME_LENGTH

router = APIRouter(prefix="/access-keys", tags=["access keys"])


class CreateAccessKeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    Name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)


def _public(key: AccessKey) -> dict[str, Any]:
    return {
        "AccessKeyId": key.access_key_id,
        "Name": key.name,
        "Status": key.status.value,
        "CreateDate": key.created_at.isoformat(),
        "RevokeDate": key.revoked_at.isoformat() if key.revoked_at else None,
    }


@router.post("", status_code=201)
def create_access_key(body: CreateAccessKeyRequest, keys: AccessKeys) -> dict[str, Any]:
    """A new key; the answer is the only time its secret is shown."""
    key, secret = keys.create(body.Name)
    return {**_public(key), "SecretAccessKey": secret}


@router.get("")
def list_access_keys(keys: AccessKeys) -> dict[str, Any]:
    return {"AccessKeys": [_public(k) for k in keys.list_keys()]}


@router.post("/{access_key_id}/revoke")
def revoke_access_key(access_key_id: str, keys: AccessKeys) -> dict[str, Any]:
    """Requests signed with the key are refused from now on; the key stays listed as Inactive."""
    return _public(keys.revoke(access_key_id))
