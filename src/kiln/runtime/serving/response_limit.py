"""SageMaker's limit on a model's response (6 MB, as on the request), enforced by the instance.

A response over the limit is refused with a 413 that says so. Kiln's own output_fn checks the
array's size before encoding it: writing 600 MB of JSON holds the model's thread for most of a
minute, and the answer would be refused anyway.
"""

from __future__ import annotations

from typing import Any

from kiln.codecs._arrays import as_numpy
from kiln.codecs.content_types import NPY, NPZ, TENSOR_PROTO
from kiln.errors import PayloadTooLarge
from kiln.runtime.serving.invocation import Reply

__all__ = ["check_prediction_fits", "within_limit"]

_BINARY_TYPES = frozenset({NPY, NPZ, TENSOR_PROTO})  # raw values: at least nbytes on the wire


def _too_large(size: str, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The model's response is {size} bytes, over the {limit:,}-byte limit of InvokeEndpoint "
        "responses (SAGEMAKER_MAX_PAYLOAD_IN_MB); send fewer records per request, or return less."
    )


def check_prediction_fits(prediction: Any, response_type: str, limit: int) -> None:
    """Refuse an array whose encoding in ``response_type`` cannot fit ``limit``, before encoding it."""
    array = as_numpy(prediction)
    if array is None:
        return
    fewest = array.nbytes if response_type in _BINARY_TYPES else 2 * array.size - 1  # "1," per value
    if fewest > limit:
        raise _too_large(f"at least {fewest:,}", limit)


def within_limit(reply: Reply, limit: int) -> Reply:
    """``reply``, unless its body is over ``limit`` (then the error says so)."""
    if len(reply.body) > limit:
        raise _too_large(f"{len(reply.body):,}", limit)
    return reply
