"""The endpoint instance's settings, read once at startup from its environment.

An endpoint instance is configured the way a SageMaker inference container is: through the
environment its supervisor gives it (``ContainerDefinition.Environment``). SageMaker's own names
(``SAGEMAKER_*``) keep their meaning, so a model configured for SageMaker behaves the same here;
Kiln's batching knobs use the ``KILN_`` prefix.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from kiln.codecs.limits import DECODED_BYTES_PER_PAYLOAD_BYTE
from kiln.errors import ValidationError

__all__ = ["BatchingMode", "ServingSettings"]

MEGABYTE = 1024 * 1024
DEFAULT_MAX_PAYLOAD_MB = 6.0  # SageMaker InvokeEndpoint's body limit: 6 MB = 6,291,456 bytes
DEFAULT_MAX_BATCH_SIZE = 32
DEFAULT_MAX_BATCH_DELAY_MS = 2.0  # the longest a request waits for company; the batcher often waits less
# One intra-op thread: the event loop needs the other core, and OpenMP's thread pool synchronises
# badly when it shares cores with it (measured: a 28×28 conv took 20 ms with 2 threads, 0.04 ms with 1).
DEFAULT_TORCH_THREADS = 1


class BatchingMode(str, Enum):
    """``KILN_BATCHING``: whether requests may be merged into one model call."""

    AUTO = "auto"  # batch when the handlers allow it: default predict_fn, or a module with batchable = True
    ON = "on"  # also batch a user's predict_fn that does not say (still calibrated per input shape)
    OFF = "off"  # one request per model call


@dataclass(frozen=True)
class ServingSettings:
    max_payload_bytes: int = int(DEFAULT_MAX_PAYLOAD_MB * MEGABYTE)
    default_accept: str = "application/json"  # for requests without Accept, or with */*
    program: str = "inference.py"  # the handler module inside <model_dir>/code
    program_explicit: bool = False  # SAGEMAKER_PROGRAM was set, so a missing module is reported in the log
    batching: BatchingMode = BatchingMode.AUTO
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE
    max_batch_delay_s: float = DEFAULT_MAX_BATCH_DELAY_MS / 1000.0
    torch_threads: int | None = DEFAULT_TORCH_THREADS  # None: leave torch's own choice alone
    # What one request body may decode to (KILN_MAX_DECODED_BYTES): refused before it is allocated.
    max_decoded_bytes: int = int(DEFAULT_MAX_PAYLOAD_MB * MEGABYTE) * DECODED_BYTES_PER_PAYLOAD_BYTE

    @property
    def max_response_bytes(self) -> int:
        """SageMaker refuses a model's response over the payload limit, as it refuses a request."""
        return self.max_payload_bytes

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServingSettings:
        """Settings from ``environ`` (default ``os.environ``); a bad value raises ``ValidationError``."""
        env = os.environ if environ is None else environ
        payload_mb = _number(env, "SAGEMAKER_MAX_PAYLOAD_IN_MB", DEFAULT_MAX_PAYLOAD_MB, "6")
        delay_ms = _number(env, "KILN_MAX_BATCH_DELAY_MS", DEFAULT_MAX_BATCH_DELAY_MS, "2")
        batch_size = _number(env, "KILN_MAX_BATCH_SIZE", DEFAULT_MAX_BATCH_SIZE, "32")
        if payload_mb <= 0 or delay_ms < 0 or batch_size < 1 or batch_size != int(batch_size):
            raise ValidationError(
                "SAGEMAKER_MAX_PAYLOAD_IN_MB must be > 0, KILN_MAX_BATCH_DELAY_MS >= 0 and "
                f"KILN_MAX_BATCH_SIZE a whole number >= 1 (got {payload_mb}, {delay_ms}, {batch_size})."
            )
        raw_mode = (env.get("KILN_BATCHING") or BatchingMode.AUTO.value).strip().lower()
        try:
            mode = BatchingMode(raw_mode)
        except ValueError:
            raise ValidationError(f"KILN_BATCHING={raw_mode!r} is not one of auto, on, off.") from None
        program = env.get("SAGEMAKER_PROGRAM") or ""
        payload_bytes = int(payload_mb * MEGABYTE)
        decoded = _number(
            env, "KILN_MAX_DECODED_BYTES", payload_bytes * DECODED_BYTES_PER_PAYLOAD_BYTE, "1e8"
        )
        if decoded < 1:
            raise ValidationError(f"KILN_MAX_DECODED_BYTES must be a number of bytes >= 1 (got {decoded}).")
        return cls(
            max_payload_bytes=payload_bytes,
            max_decoded_bytes=int(decoded),
            default_accept=env.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT") or "application/json",
            program=program or "inference.py",
            program_explicit=bool(program),
            batching=mode,
            max_batch_size=int(batch_size),
            max_batch_delay_s=delay_ms / 1000.0,
            torch_threads=_torch_threads(env),
        )


def _number(env: Mapping[str, str], name: str, default: float, example: str) -> float:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValidationError(f"{name}={raw!r} is not a number; set it to e.g. {example}.") from None


def _torch_threads(env: Mapping[str, str]) -> int | None:
    raw = env.get("KILN_TORCH_THREADS")
    if raw is None or not raw.strip():
        # Someone who set OMP_NUM_THREADS chose a thread count on purpose; torch reads it itself.
        return None if env.get("OMP_NUM_THREADS") else DEFAULT_TORCH_THREADS
    try:
        threads = int(raw)
    except ValueError:
        threads = 0
    if threads < 1:
        raise ValidationError(f"KILN_TORCH_THREADS={raw!r} must be a whole number >= 1.")
    return threads
