"""How much a request body may decode to, checked before anything is allocated.

A few bytes can ask for any amount of memory: a TensorProto whose shape says 2^28 values and whose
one value fills them, an NPY header that declares a shape of 2^40, a zip that inflates a thousand
times. Each decoder reads the declared shape first and refuses one that would exceed
``max_bytes``; the default is in proportion to SageMaker's 6 MB payload limit, so an honest body
(raw numbers, a little compression) always fits, and an endpoint instance configured with
``KILN_MAX_DECODED_BYTES`` may allow more.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from kiln.errors import PayloadTooLarge, ValidationError

__all__ = [
    "DEFAULT_MAX_DECODED_BYTES",
    "MAX_JSON_DEPTH",
    "PAYLOAD_LIMIT_BYTES",
    "check_array_size",
    "configure",
    "max_decoded_bytes",
]

PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024  # SageMaker InvokeEndpoint's body limit (6 MB)
# 16 times the payload: float32 CSV or JSON text expands about 2-4×, NPY not at all, a compressed NPZ
# of real data rarely past 10×. A body that decodes to more is built to exhaust memory.
DECODED_BYTES_PER_PAYLOAD_BYTE = 16
DEFAULT_MAX_DECODED_BYTES = DECODED_BYTES_PER_PAYLOAD_BYTE * PAYLOAD_LIMIT_BYTES
MAX_JSON_DEPTH = 1024  # orjson's own limit; Python's json gives up near 1000 with a RecursionError


_configured = DEFAULT_MAX_DECODED_BYTES


def configure(max_bytes: int) -> None:
    """Set this process's limit once at startup (an endpoint instance: ``KILN_MAX_DECODED_BYTES``),
    so that every decoder it runs, Kiln's or a framework adapter's, applies the same one."""
    global _configured
    _configured = max_bytes


def max_decoded_bytes() -> int:
    """The limit decoders apply when their caller names none."""
    return _configured


def check_array_size(shape: Sequence[int], itemsize: int, max_bytes: int, what: str) -> None:
    """Refuse an array of ``shape`` with ``itemsize``-byte elements that would exceed ``max_bytes``.

    A dimension that alone exceeds the limit is refused even when another dimension is 0 (shape
    ``[0, 2**62]`` holds no value, but no array library can describe it): that shape is malformed
    input (400), where a large but sensible one is too large (413).
    """
    width = max(itemsize, 1)
    if any(size < 0 for size in shape):
        raise ValidationError(f"{what} declares shape {list(shape)}, with a negative dimension.")
    total = math.prod(shape) * width
    if total > max_bytes:
        raise PayloadTooLarge(
            f"{what} declares shape {list(shape)}, too large: it decodes to {total:,} bytes, over Kiln's "
            f"limit of {max_bytes:,} bytes (KILN_MAX_DECODED_BYTES); send a smaller array per request."
        )
    largest = max(shape, default=0)
    if largest * width > max_bytes:  # only possible beside a dimension of 0
        raise ValidationError(
            f"{what} declares shape {list(shape)}: a dimension of {largest:,} elements is larger than "
            f"any array Kiln reads ({max_bytes:,} bytes); send the shape the data has."
        )
