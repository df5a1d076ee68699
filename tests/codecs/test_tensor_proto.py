"""The TensorProto codec against golden bytes worked out by hand from TensorFlow's .proto field numbers.

Wire format reminders used below: a field's key byte is ``(number << 3) | wire_type`` with wire type 0
for varints, 2 for length-delimited (bytes, messages, packed repeated scalars) and 5 for 32-bit values.
So dtype (1) is ``08``, tensor_shape (2) ``12``, a Dim's size (1) ``08``, TensorShapeProto.dim (2)
``12``, tensor_content (4) ``22``, packed float_val (5) ``2a``, unpacked float_val ``2d``, int64_val
(10) ``52``, string_val (8) ``42`` and half_val (13) ``6a``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from kiln.codecs import decode, encode
from kiln.codecs._tensor_proto_schema import TensorProto, TensorShapeProto
from kiln.codecs.tensor_proto import to_message
from kiln.errors import PayloadTooLarge, ValidationError

PROTOBUF = "application/x-protobuf"

# dtype=DT_FLOAT(1), shape=[2] (dim{size:2}), tensor_content = 1.0f, 2.0f little-endian.
FLOAT_PAIR_CONTENT = bytes.fromhex("080112041202080222080000803f00000040")
# The same tensor with float_val (packed): 2a, 8 bytes.
FLOAT_PAIR_VALUES = bytes.fromhex("08011204120208022a080000803f00000040")
# The same again with float_val unpacked (one 32-bit field per value), which parsers must also accept.
FLOAT_PAIR_UNPACKED = bytes.fromhex("08011204120208022d0000803f2d00000040")


def decode_hex(text: str) -> Any:
    return decode(bytes.fromhex(text.replace(" ", "")), PROTOBUF)


def test_messages_carry_tensorflows_full_names() -> None:
    assert TensorProto.DESCRIPTOR.full_name == "tensorflow.TensorProto"
    assert TensorShapeProto.DESCRIPTOR.full_name == "tensorflow.TensorShapeProto"
    assert TensorProto.DESCRIPTOR.fields_by_name["dtype"].enum_type.full_name == "tensorflow.DataType"
    numbers = {field.name: field.number for field in TensorProto.DESCRIPTOR.fields}
    assert numbers["tensor_content"] == 4
    assert numbers["half_val"] == 13
    assert numbers["uint64_val"] == 17


def test_encode_writes_the_golden_bytes() -> None:
    assert encode(np.array([1.0, 2.0], dtype=np.float32), PROTOBUF) == FLOAT_PAIR_CONTENT


@pytest.mark.parametrize("body", [FLOAT_PAIR_CONTENT, FLOAT_PAIR_VALUES, FLOAT_PAIR_UNPACKED])
def test_decode_reads_tensor_content_and_float_val(body: bytes) -> None:
    decoded = decode(body, PROTOBUF)
    assert decoded.dtype == np.float32
    np.testing.assert_array_equal(decoded, [1.0, 2.0])


def test_decode_accepts_the_alias_content_type() -> None:
    np.testing.assert_array_equal(decode(FLOAT_PAIR_CONTENT, "application/vnd.google.protobuf"), [1, 2])


def test_one_value_fills_the_whole_shape() -> None:
    # shape [2, 3] (two dims: 12 02 08 02, 12 02 08 03), float_val [7.0] (0x40e00000).
    decoded = decode_hex("0801 1208 12020802 12020803 2a04 0000e040")
    np.testing.assert_array_equal(decoded, np.full((2, 3), 7.0, dtype=np.float32))


def test_short_values_are_padded_with_the_last_one() -> None:
    # int_val (7, packed: 3a) [1, 2] for an int32 tensor of shape [4].
    np.testing.assert_array_equal(decode_hex("0803 1204 12020804 3a02 0102"), [1, 2, 2, 2])


def test_no_values_means_zeros() -> None:
    decoded = decode_hex("0803 1204 12020803")
    assert decoded.dtype == np.int32
    np.testing.assert_array_equal(decoded, [0, 0, 0])


def test_int64_val_with_negative_varints() -> None:
    # -1 is ten bytes as a varint (ff x9, 01); 300 is ac 02.
    decoded = decode_hex("0809 1204 12020803 520d 01 ffffffffffffffffff01 ac02")
    assert decoded.dtype == np.int64
    np.testing.assert_array_equal(decoded, [1, -1, 300])


def test_string_val() -> None:
    decoded = decode_hex("0807 1204 12020802 4202 6162 4201 63")
    assert decoded.dtype == object
    assert decoded.tolist() == [b"ab", b"c"]


def test_half_val_holds_float16_bit_patterns() -> None:
    # DT_HALF(19 = 0x13); half_val [0x3c00 (1.0), 0x4000 (2.0)] as varints 80 78, 80 80 01.
    decoded = decode_hex("0813 1204 12020802 6a05 8078 808001")
    assert decoded.dtype == np.float16
    np.testing.assert_array_equal(decoded, [1.0, 2.0])


def test_bfloat16_widens_to_float32() -> None:
    # DT_BFLOAT16(14 = 0x0e); half_val [0x3fc0 (1.5)] as varint c0 7f, broadcast to shape [2].
    decoded = decode_hex("080e 1204 12020802 6a02 c07f")
    assert decoded.dtype == np.float32
    np.testing.assert_array_equal(decoded, [1.5, 1.5])


def test_scalar_tensor_has_no_dims() -> None:
    # DT_DOUBLE(2), empty shape, double_val (6, packed: 32) [2.5].
    decoded = decode_hex("0802 1200 3208 0000000000000440")
    assert decoded.shape == ()
    assert decoded == 2.5


@pytest.mark.parametrize(
    ("dtype", "field", "values"),
    [
        (4, "int_val", [0, 255]),  # DT_UINT8
        (5, "int_val", [-3, 7]),  # DT_INT16
        (6, "int_val", [-128, 127]),  # DT_INT8
        (17, "int_val", [65535, 1]),  # DT_UINT16
        (10, "bool_val", [True, False]),  # DT_BOOL
        (22, "uint32_val", [4294967295, 0]),  # DT_UINT32
        (23, "uint64_val", [18446744073709551615, 1]),  # DT_UINT64
        (2, "double_val", [0.1, -2.0]),  # DT_DOUBLE
    ],
)
def test_typed_value_fields(dtype: int, field: str, values: list[Any]) -> None:
    message = TensorProto(dtype=dtype)
    message.tensor_shape.dim.add(size=2)
    getattr(message, field).extend(values)
    assert decode(message.SerializeToString(), PROTOBUF).tolist() == values


def test_complex_values_come_in_pairs() -> None:
    message = TensorProto(dtype=8)  # DT_COMPLEX64
    message.tensor_shape.dim.add(size=2)
    message.scomplex_val.extend([1.0, 2.0, 3.0, -4.0])
    decoded = decode(message.SerializeToString(), PROTOBUF)
    assert decoded.dtype == np.complex64
    np.testing.assert_array_equal(decoded, [1 + 2j, 3 - 4j])


# --- encode -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dtype",
    [
        *("float16", "float32", "float64", "int8", "int16", "int32", "int64"),
        *("uint8", "uint16", "uint32", "uint64", "bool", "complex64", "complex128"),
    ],
)
def test_every_numeric_dtype_round_trips(dtype: str) -> None:
    array = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    decoded = decode(encode(array, PROTOBUF), PROTOBUF)
    assert decoded.dtype == array.dtype
    np.testing.assert_array_equal(decoded, array)


def test_python_numbers_become_float32_and_int32_like_make_tensor_proto() -> None:
    assert decode(encode([[1.5, 2.5]], PROTOBUF), PROTOBUF).dtype == np.float32
    assert decode(encode([1, 2, 3], PROTOBUF), PROTOBUF).dtype == np.int32
    assert decode(encode([1, 2**40], PROTOBUF), PROTOBUF).dtype == np.int64
    assert decode(encode(True, PROTOBUF), PROTOBUF).dtype == np.bool_


def test_big_endian_and_non_contiguous_arrays_are_written_little_endian_in_c_order() -> None:
    big_endian = np.array([1.0, 2.0], dtype=">f4")
    assert encode(big_endian, PROTOBUF) == FLOAT_PAIR_CONTENT
    transposed = np.arange(6, dtype=np.int32).reshape(2, 3).T
    np.testing.assert_array_equal(decode(encode(transposed, PROTOBUF), PROTOBUF), transposed)


def test_strings_are_written_to_string_val() -> None:
    message = to_message(np.array(["ab", "café"]))
    assert list(message.string_val) == [b"ab", "café".encode()]
    assert decode(encode([b"\x00raw\x00", "x"], PROTOBUF), PROTOBUF).tolist() == [b"\x00raw\x00", b"x"]


def test_scalars_and_empty_arrays() -> None:
    assert decode(encode(np.float64(3.5), PROTOBUF), PROTOBUF).shape == ()
    empty = decode(encode(np.zeros((0, 3), dtype=np.float32), PROTOBUF), PROTOBUF)
    assert empty.shape == (0, 3)


def test_encode_of_a_torch_tensor() -> None:
    torch = pytest.importorskip("torch")
    decoded = decode(encode(torch.arange(6, dtype=torch.float32).reshape(2, 3), PROTOBUF), PROTOBUF)
    assert decoded.dtype == np.float32
    assert decoded.shape == (2, 3)


@pytest.mark.parametrize(
    ("obj", "fragment"),
    [
        (np.array(["2024-01-01"], dtype="datetime64[D]"), "datetime64"),
        ({"x": [1]}, "not a mapping"),
        (np.array([object()]), "only str or bytes"),
    ],
)
def test_encode_refuses_what_a_tensor_cannot_hold(obj: Any, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        encode(obj, PROTOBUF)


# --- bad bodies ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"\xff\xff\xff", "not a TensorProto"),
        (b"", "DT_INVALID"),
        (bytes.fromhex("0814 1204 12020802"), "DT_RESOURCE"),  # dtype 20
        (bytes.fromhex("0801 1204 12020802 2204 0000803f"), "holds 4 bytes, .* needs 8"),
        (bytes.fromhex("0801 1204 12020801 2a08 0000803f 00000040"), "holds 2 values, .* room for 1"),
        (bytes.fromhex("0801 1202 1801"), "unknown rank"),
        (bytes.fromhex("0801 120d 120b 08ffffffffffffffffff01"), r"unknown \(-1\)"),  # dim size -1
        (bytes.fromhex("0807 1204 12020801 2201 61"), "string_val"),
    ],
)
def test_bad_bodies_raise_validation_error(body: bytes, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        decode(body, PROTOBUF)


# --- cross-check with an independent implementation (TensorBoard's copy of TensorFlow's protos) --------


def test_tensorboards_tensor_proto_reads_our_bytes() -> None:
    tensor_pb2 = pytest.importorskip("tensorboard.compat.proto.tensor_pb2")
    theirs = tensor_pb2.TensorProto()
    theirs.ParseFromString(encode(np.arange(6, dtype=np.int64).reshape(2, 3), PROTOBUF))
    assert theirs.dtype == 9
    assert [dim.size for dim in theirs.tensor_shape.dim] == [2, 3]
    assert np.frombuffer(theirs.tensor_content, dtype="<i8").tolist() == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("values", "shape"),
    [
        (np.array([[1.0, 2.0]], dtype=np.float32), None),
        (7.0, [2, 3]),
        ([1, 2, 3], None),
        ([b"ab", b"c"], None),
        (np.array([1, 2], dtype=np.float16), None),
        (np.array([True, False]), None),
        (np.arange(4, dtype=np.uint8), None),
    ],
)
def test_we_read_what_make_tensor_proto_writes(values: Any, shape: list[int] | None) -> None:
    tensor_util = pytest.importorskip("tensorboard.util.tensor_util")
    proto = tensor_util.make_tensor_proto(values, shape=shape)
    expected = tensor_util.make_ndarray(proto)
    decoded = decode(proto.SerializeToString(), PROTOBUF)
    assert decoded.dtype == expected.dtype
    np.testing.assert_array_equal(decoded, expected)


@pytest.mark.parametrize(
    ("dtype", "field", "values", "fragment"),
    [
        (4, "int_val", [300, 1], "int_val holds 300, which does not fit uint8"),  # DT_UINT8
        (
            8,
            "scomplex_val",
            [1.0, 2.0, 3.0],
            r"scomplex_val holds 3 numbers; .* pairs",
        ),  # DT_COMPLEX64 needs (real, imag) pairs
        (19, "half_val", [-1, 2], "half_val holds -1"),  # DT_HALF bit patterns are 16-bit
        (14, "half_val", [70000, 1], "half_val holds 70000"),  # DT_BFLOAT16 likewise
    ],
)
def test_values_that_do_not_fit_the_dtype_are_refused(
    dtype: int, field: str, values: list[Any], fragment: str
) -> None:
    message = TensorProto(dtype=dtype)
    message.tensor_shape.dim.add(size=2)
    getattr(message, field).extend(values)
    with pytest.raises(ValidationError, match=fragment):
        decode(message.SerializeToString(), PROTOBUF)


@pytest.mark.parametrize("values", [[1.0], []])
def test_broadcasting_to_a_huge_shape_is_refused_before_allocating(values: list[float]) -> None:
    message = TensorProto(dtype=1)
    message.tensor_shape.dim.add(size=10**12)
    message.float_val.extend(values)
    with pytest.raises(PayloadTooLarge, match="limit"):
        decode(message.SerializeToString(), PROTOBUF)
