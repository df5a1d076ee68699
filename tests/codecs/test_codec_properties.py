"""Every codec, fuzzed: arbitrary bytes never raise anything but Kiln's 4xx errors, arbitrary valid
values round-trip exactly, and bodies built to exhaust memory are refused before allocating."""

from __future__ import annotations

import io
import json
import math
import zipfile
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiln.codecs import decode, encode
from kiln.codecs._tensor_proto_schema import TensorProto
from kiln.codecs.content_types import CSV, JSON, JSONLINES, NPY, NPZ, TENSOR_PROTO
from kiln.codecs.limits import DEFAULT_MAX_DECODED_BYTES
from kiln.errors import KilnError, PayloadTooLarge, UserError, ValidationError

ALL_TYPES = [JSON, JSONLINES, CSV, NPY, NPZ, TENSOR_PROTO]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROUND_TRIP = settings(max_examples=100, deadline=None)

SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)
NUMERIC_DTYPES = st.one_of(
    hnp.boolean_dtypes(),
    hnp.integer_dtypes(endianness="="),
    hnp.unsigned_integer_dtypes(endianness="="),
    hnp.floating_dtypes(endianness="="),
    hnp.complex_number_dtypes(endianness="="),
)


def _decode_or_user_error(body: bytes, content_type: str, **limits: Any) -> Any:
    """Decode ``body``; a refusal must be one of Kiln's 4xx errors, never anything else."""
    try:
        return decode(body, content_type, **limits)
    except KilnError as e:
        refusal = e
    assert isinstance(refusal, UserError), f"{type(refusal).__name__}: {refusal.message}"
    assert 400 <= refusal.http_status < 500
    assert refusal.message
    return None


def _valid_body(content_type: str) -> bytes:
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    if content_type == JSONLINES:
        return encode([{"a": [1, 2]}, [3.5], "x"], JSONLINES)
    return encode(array, content_type)


@pytest.mark.parametrize("content_type", ALL_TYPES)
@FUZZ
@given(body=st.binary(max_size=512))
def test_arbitrary_bytes_are_decoded_or_refused_with_a_4xx(content_type: str, body: bytes) -> None:
    _decode_or_user_error(body, content_type)


@pytest.mark.parametrize("content_type", ALL_TYPES)
@FUZZ
@given(data=st.data())
def test_damaged_valid_bodies_are_decoded_or_refused_with_a_4xx(
    content_type: str, data: st.DataObject
) -> None:
    # Random bytes rarely pass a format's magic number; damaged real bodies reach the deep paths.
    body = bytearray(_valid_body(content_type))
    for _ in range(data.draw(st.integers(1, 6))):
        where = data.draw(st.integers(0, len(body) - 1))
        action = data.draw(st.sampled_from(["flip", "cut", "insert", "drop"]))
        if action == "flip":
            body[where] = data.draw(st.integers(0, 255))
        elif action == "cut":
            del body[where:]
        elif action == "insert":
            body[where:where] = data.draw(st.binary(min_size=1, max_size=16))
        else:
            del body[where]
        if not body:
            break
    _decode_or_user_error(bytes(body), content_type)


@pytest.mark.parametrize("content_type", [NPY, NPZ, TENSOR_PROTO])
@ROUND_TRIP
@given(array=hnp.arrays(NUMERIC_DTYPES, SHAPES))
def test_arrays_round_trip_exactly_through_binary_formats(content_type: str, array: np.ndarray) -> None:
    decoded = decode(encode(array, content_type), content_type)
    assert decoded.dtype == array.dtype
    assert decoded.shape == array.shape
    np.testing.assert_array_equal(decoded, array, strict=True)


@ROUND_TRIP
@given(
    array=hnp.arrays(
        np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6), elements=st.floats()
    )
)
def test_float_arrays_round_trip_exactly_through_csv(array: np.ndarray) -> None:
    decoded = decode(encode(array, CSV), CSV)
    np.testing.assert_array_equal(decoded, array, strict=True)  # NaN equals NaN here


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)  # past 64 bits: the exact-integer path
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


@ROUND_TRIP
@given(value=JSON_VALUES)
def test_json_values_round_trip_exactly(value: Any) -> None:
    assert decode(encode(value, JSON), JSON) == value


@ROUND_TRIP
@given(records=st.lists(JSON_VALUES, min_size=1, max_size=5))
def test_json_lines_records_round_trip_exactly(records: list[Any]) -> None:
    assert decode(encode(records, JSONLINES), JSONLINES) == records


@ROUND_TRIP
@given(
    shape=st.lists(st.integers(0, 1 << 20), min_size=1, max_size=4),
    limit=st.integers(1, 1 << 16),
)
def test_a_declared_shape_over_the_limit_is_refused_before_allocating(shape: list[int], limit: int) -> None:
    message = TensorProto(dtype=1)  # DT_FLOAT: one value, filled to the shape
    for size in shape:
        message.tensor_shape.dim.add(size=size)
    if math.prod(shape):
        message.float_val.append(1.0)  # filled to the shape (an empty shape holds no value at all)
    result = _decode_or_user_error(message.SerializeToString(), TENSOR_PROTO, max_decoded_bytes=limit)
    if math.prod(shape) * 4 > limit or max(shape) * 4 > limit:
        assert result is None
    else:
        assert result is not None
        assert result.shape == tuple(shape)


# --- the bodies found by probing (issue 16, items 3 and 5) --------------------------------------------


def _tensor_proto(shape: list[int], values: list[float]) -> bytes:
    message = TensorProto(dtype=1)
    for size in shape:
        message.tensor_shape.dim.add(size=size)
    message.float_val.extend(values)
    return bytes(message.SerializeToString())


def test_a_21_byte_tensor_proto_that_fills_a_gigabyte_is_refused() -> None:
    body = _tensor_proto([2**28], [1.0])
    assert len(body) < 32
    with pytest.raises(PayloadTooLarge, match=f"limit of {DEFAULT_MAX_DECODED_BYTES:,} bytes"):
        decode(body, TENSOR_PROTO)


def test_a_tensor_proto_of_shape_0_by_2_to_the_62_is_a_bad_request() -> None:
    with pytest.raises(ValidationError, match="a dimension of 4,611,686,018,427,387,904 elements"):
        decode(_tensor_proto([0, 2**62], []), TENSOR_PROTO)


def test_an_npy_header_claiming_more_than_the_body_holds_is_refused() -> None:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f4", "fortran_order": False, "shape": (1000,)})
    with pytest.raises(ValidationError, match="4,000 bytes of values, but holds only 16"):
        decode(buffer.getvalue() + b"\x00" * 16, NPY)


def test_an_npz_member_whose_header_claims_a_huge_shape_is_refused() -> None:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (2**40,)})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("x.npy", header.getvalue() + b"\x00" * 64)
    with pytest.raises(PayloadTooLarge, match=r"Member 'x\.npy' of the \.npz body"):
        decode(buffer.getvalue(), NPZ)


@pytest.mark.parametrize("content_type", [JSON, JSONLINES])
def test_a_json_integer_of_5000_digits_is_a_bad_request_naming_the_reason(content_type: str) -> None:
    with pytest.raises(ValidationError, match="4300 digits"):
        decode(b"[" + b"7" * 5000 + b"]", content_type)


@pytest.mark.parametrize("content_type", [JSON, JSONLINES])
@pytest.mark.parametrize("opener", [b"[", b'{"a":'])
def test_json_nested_100000_deep_is_a_bad_request_naming_the_reason(content_type: str, opener: bytes) -> None:
    with pytest.raises(ValidationError, match="nested more than 1024 levels"):
        decode(opener * 100_000, content_type)


def test_long_integers_deep_inside_json_are_refused_too() -> None:
    # A long integer sends the body to Python's json, whose own nesting limit must not escape.
    body = b"[" * 5000 + b"1" * 30 + b"]" * 5000
    with pytest.raises(ValidationError, match="nested more than 1024 levels"):
        decode(body, JSON)
    assert json.loads(b"[" * 10 + b"1" * 30 + b"]" * 10)  # what stays within the limits still decodes
