"""Access keys: the AWS wire's credentials."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "AccessKey",
    "AccessKeyStatus",
]


class AccessKeyStatus(str, enum.Enum):
    ACTIVE = "Active"
    INACTIVE = "Inactive"  # revoked: requests signed with it are refused


@dataclass(frozen=True)
class AccessKey:
    """An access key for the AWS wire (``kiln keys create``); the secret never leaves the service."""

    access_key_id: str
    name: str
    status: AccessKeyStatus
    created_at: datetime
    revoked_at: datetime | None = None
