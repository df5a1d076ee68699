"""Names for jobs, models and endpoints, made the way SageMaker's SDK makes them (``sagemaker.utils``).

Every ``fit()``, ``deploy()`` and ``create_model()`` gets a fresh name from its base unless the caller
passes one, so a second deploy never silently reuses the first one's model.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timezone

__all__ = [
    "MAX_NAME_LENGTH",
    "MAX_TUNING_JOB_NAME_LENGTH",
    "base_from_name",
    "name_from_base",
    "sagemaker_short_timestamp",
    "sagemaker_timestamp",
    "tuning_job_name",
]

MAX_NAME_LENGTH = 63  # SageMaker's limit for job, model, endpoint and endpoint config names
MAX_TUNING_JOB_NAME_LENGTH = 32  # HyperParameterTuningJobName's limit
_STAMP = re.compile(r"-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-\d{3}$|-\d{6}-\d{4}$")


def sagemaker_timestamp() -> str:
    """``YYYY-MM-DD-HH-MM-SS-mmm`` in UTC."""
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%d-%H-%M-%S-") + f"{now.microsecond // 1000:03d}"


def sagemaker_short_timestamp() -> str:
    """``YYMMDD-HHMM`` in UTC."""
    return datetime.now(timezone.utc).strftime("%y%m%d-%H%M")


def _clean(base: str, fallback: str) -> str:
    """Only the characters SageMaker names allow (letters, digits, dashes)."""
    return re.sub(r"[^a-zA-Z0-9-]", "-", base).strip("-") or fallback


def name_from_base(base: str, max_length: int = MAX_NAME_LENGTH, short: bool = False) -> str:
    """``<base>-<timestamp>`` within ``max_length``, the base trimmed to fit (``name_from_base``)."""
    stamp = sagemaker_short_timestamp() if short else sagemaker_timestamp()
    return f"{_clean(base, 'kiln')[: max_length - len(stamp) - 1]}-{stamp}"


def base_from_name(name: str) -> str:
    """The base a ``name_from_base`` name was made from (the name itself if it has no timestamp)."""
    return _STAMP.sub("", name)


def tuning_job_name(base: str) -> str:
    """``<base>-YYMMDD-HHMMSS-xxx`` within 32 characters: a random tail, since two tuning jobs started in
    the same second from one notebook are common and the short timestamp alone would collide."""
    stamp = datetime.now(timezone.utc).strftime("%y%m%d-%H%M%S-") + secrets.token_hex(2)[:3]
    trimmed = _clean(base, "tuning")[: MAX_TUNING_JOB_NAME_LENGTH - len(stamp) - 1].rstrip("-")
    return f"{trimmed}-{stamp}"
