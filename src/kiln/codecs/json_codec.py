"""``application/json``: any JSON document; arrays and tensors are written as nested lists."""

from __future__ import annotations

import json
from typing import Any

import orjson

from kiln.codecs._arrays import as_numpy, describe, jsonable
from kiln.codecs.limits import DEFAULT_MAX_DECODED_BYTES, MAX_JSON_DEPTH
from kiln.errors import ValidationError

__all__ = ["decode", "dump", "encode", "parse_error"]

# Compact separators: responses are read by programs, and the spaces only cost bytes on the wire.
_SEPARATORS = (",", ":")
# orjson turns integers past 64 bits into floats where json keeps them exact. Such an integer has at
# least 19 digits; bodies with a run of that many digits outside a fraction or exponent take json.
_DIGITS_AS_ZEROS = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * 19
_NOT_INTEGER_PART = frozenset(b".eE+")  # what precedes a run of fraction or exponent digits


def decode(body: bytes, *, max_bytes: int = DEFAULT_MAX_DECODED_BYTES) -> Any:
    """The Python object (lists, dicts, numbers, strings) that the JSON ``body`` holds.

    ``max_bytes`` needs no check here: what JSON text decodes to is bounded by the text (a payload
    within its 6 MB limit), but nesting and integer length are, and both are refused with a reason.
    """
    # orjson parses number arrays ~10× faster than json, which decides a small model's throughput
    # (a 28×28 image: ~30 µs against ~300 µs). It refuses what json accepts beyond RFC 8259 (NaN,
    # Infinity, lone surrogates, UTF-16/32 bodies) and gives the same objects for everything else,
    # so anything it refuses goes to json, whose answer or error is then exactly the one it gave before.
    if isinstance(body, bytes) and not _may_hold_long_integer(body):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as e:
            if str(e).startswith("depth limit exceeded"):
                raise _too_deep() from e
    return _decode_with_json(body)


def _too_deep() -> ValidationError:
    return ValidationError(
        f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep; send flatter JSON "
        "(an array of rows such as [[1.0, 2.0]] needs two levels)."
    )


def parse_error(e: ValueError | RecursionError, where: str) -> ValidationError:
    """The user's error for what ``json.loads`` raised about the JSON text ``where`` names."""
    if isinstance(e, RecursionError):
        return _too_deep()
    if isinstance(e, json.JSONDecodeError):
        return ValidationError(
            f"{where} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}. "
            "Send a JSON document such as [[1.0, 2.0]], or set Content-Type to the format you are sending."
        )
    # Python refuses integers of more than 4,300 digits (sys.get_int_max_str_digits): their
    # conversion takes quadratic time, a denial of service on its own.
    reason = str(e).split(";", 1)[0]
    return ValidationError(
        f"{where} holds a number Kiln will not read ({reason}); send numbers with fewer digits, "
        "or very long ones as strings."
    )


def _may_hold_long_integer(body: bytes) -> bool:
    """Whether ``body`` has a run of ≥ 19 digits that could be an integer (false alarms are harmless)."""
    masked = body.translate(_DIGITS_AS_ZEROS)
    start = masked.find(_LONG_RUN)
    while start >= 0:
        before = masked[start - 1] if start else 0
        if before == 0x2D and start >= 2:  # "-": the sign of an integer, unless it follows an "e"
            before = masked[start - 2] if masked[start - 2] in b"eE" else 0
        if before not in _NOT_INTEGER_PART:
            return True
        end = start + len(_LONG_RUN)
        while end < len(masked) and masked[end] == 0x30:  # skip the rest of this run
            end += 1
        start = masked.find(_LONG_RUN, end)
    return False


def _decode_with_json(body: bytes) -> Any:
    if not body.strip():
        raise ValidationError("The body is empty; send a JSON document such as [[1.0, 2.0]].")
    try:
        # json.loads takes bytes directly and detects UTF-8/16/32 itself.
        return json.loads(body)
    except UnicodeDecodeError as e:
        raise ValidationError(f"The JSON body is not valid UTF-8 ({e}); send UTF-8 encoded JSON.") from e
    except (ValueError, RecursionError) as e:  # JSONDecodeError is a ValueError
        raise parse_error(e, "The body") from e


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
