"""``application/jsonlines``: one JSON document per line (https://jsonlines.org)."""

from __future__ import annotations

import json
from typing import Any

from kiln.codecs import json_codec
from kiln.codecs._arrays import as_numpy
from kiln.codecs.limits import DEFAULT_MAX_DECODED_BYTES
from kiln.errors import ValidationError

__all__ = ["decode", "encode"]


def decode(body: bytes, *, max_bytes: int = DEFAULT_MAX_DECODED_BYTES) -> list[Any]:
    """The list of objects, one per non-blank line of ``body`` (bounded by the body, as JSON is)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValidationError(f"The JSON Lines body is not valid UTF-8 ({e}); send UTF-8 text.") from e
    records: list[Any] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue  # a trailing newline or a blank separator line holds no record
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise ValidationError(
                f"Line {number} of the JSON Lines body is not valid JSON: {e.msg} at column {e.colno}. "
                'Send one JSON document per line, such as {"features": [1.0, 2.0]}.'
            ) from e
        except (ValueError, RecursionError) as e:  # too deep, or an integer of thousands of digits
            raise json_codec.parse_error(e, f"Line {number} of the JSON Lines body") from e
    if not records:
        raise ValidationError("The JSON Lines body holds no records; send one JSON document per line.")
    return records


def encode(obj: Any) -> bytes:
    """Each element of a list (or each row of an array) as one line; any other object as one line."""
    array = as_numpy(obj)
    if array is not None and array.ndim > 0:
        records: Any = array.tolist()
    elif isinstance(obj, (list, tuple)):
        records = obj
    else:
        records = [obj]  # a single record; json_codec.dump names the type if it is not serialisable
    return "".join(json_codec.dump(record) + "\n" for record in records).encode("utf-8")
