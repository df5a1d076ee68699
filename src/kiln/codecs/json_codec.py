"""``application/json``: any JSON document; arrays and tensors are written as nested lists."""

from __future__ import annotations

import json
from typing import Any

from kiln.codecs._arrays import as_numpy, describe, jsonable
from kiln.errors import ValidationError

__all__ = ["decode", "dump", "encode"]

# Compact separators: responses are read by programs, and the spaces only cost bytes on the wire.
_SEPARATORS = (",", ":")


def decode(body: bytes) -> Any:
    """The Python object (lists, dicts, numbers, strings) that the JSON ``body`` holds."""
    if not body.strip():
        raise ValidationError("The body is empty; send a JSON document such as [[1.0, 2.0]].")
    try:
        # json.loads takes bytes directly and detects UTF-8/16/32 itself.
        return json.loads(body)
    except UnicodeDecodeError as e:
        raise ValidationError(f"The JSON body is not valid UTF-8 ({e}); send UTF-8 encoded JSON.") from e
    except json.JSONDecodeError as e:
        raise ValidationError(
            f"The body is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}. "
            "Send a JSON document such as [[1.0, 2.0]], or set Content-Type to the format you are sending."
        ) from e


def dump(obj: Any) -> str:
    """``obj`` as one line of JSON text; numpy arrays, numpy scalars and tensors become lists/numbers."""
    array = as_numpy(obj)
    try:
        if array is not None:
            # tolist() converts the whole array in C, far faster than the per-element default hook.
            return json.dumps(array.tolist(), separators=_SEPARATORS)
        return json.dumps(obj, separators=_SEPARATORS, default=jsonable)
    except (TypeError, ValueError) as e:
        raise ValidationError(
            f"Cannot write a {describe(obj)} as JSON ({e}); "
            "return lists, dicts, numbers, strings or numpy arrays, or pick another content type."
        ) from e


def encode(obj: Any) -> bytes:
    """``obj`` as a UTF-8 JSON document."""
    return dump(obj).encode("utf-8")
