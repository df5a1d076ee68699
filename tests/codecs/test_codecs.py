"""kiln.codecs: decode/encode for every format, Accept negotiation and the TF Serving helpers."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np
import pytest

import kiln.codecs
from kiln.codecs import (
    SUPPORTED_REQUEST_TYPES,
    SUPPORTED_RESPONSE_TYPES,
    canonical_content_type,
    decode,
    encode,
    negotiate_accept,
    tfs_instances,
    tfs_response,
)
from kiln.codecs.limits import DEFAULT_MAX_DECODED_BYTES
from kiln.errors import PayloadTooLarge, UnsupportedMediaType, ValidationError

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
NPZ = "application/x-npz"
JSONLINES = "application/jsonlines"
PROTOBUF = "application/x-protobuf"
ALL_TYPES = (JSON, CSV, NPY, NPZ, JSONLINES, PROTOBUF)


def test_public_api_is_exactly_the_documented_names() -> None:
    assert sorted(kiln.codecs.__all__) == [
        "SUPPORTED_REQUEST_TYPES",
        "SUPPORTED_RESPONSE_TYPES",
        "canonical_content_type",
        "decode",
        "encode",
        "negotiate_accept",
        "tfs_instances",
        "tfs_response",
    ]


def test_every_format_is_supported_both_ways() -> None:
    assert set(SUPPORTED_REQUEST_TYPES) == set(ALL_TYPES)
    assert set(SUPPORTED_RESPONSE_TYPES) == set(ALL_TYPES)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("application/json", JSON),
        ("Application/JSON; charset=utf-8", JSON),
        ("  text/csv ;header=absent", CSV),
        ("application/jsons", JSONLINES),
        ("application/x-jsonlines", JSONLINES),
        ("application/vnd.google.protobuf", PROTOBUF),
        ("image/PNG", "image/png"),
    ],
)
def test_canonical_content_type(given: str, expected: str) -> None:
    assert canonical_content_type(given) == expected


# --- round trips -------------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ALL_TYPES)
def test_float32_matrix_round_trips_through_every_format(content_type: str) -> None:
    matrix = np.array([[0.5, -1.25, 3.0], [4.0, 1e-3, -7.5]], dtype=np.float32)
    decoded = decode(encode(matrix, content_type), content_type)
    np.testing.assert_array_equal(np.asarray(decoded, dtype=np.float32), matrix)


@pytest.mark.parametrize("content_type", [NPY, NPZ, PROTOBUF])
@pytest.mark.parametrize(
    "dtype", ["float16", "float32", "float64", "int8", "int32", "int64", "uint8", "bool"]
)
def test_binary_formats_keep_dtype_and_shape(content_type: str, dtype: str) -> None:
    array = (np.arange(24).reshape(2, 3, 4) % 5).astype(dtype)
    decoded = decode(encode(array, content_type), content_type)
    assert decoded.dtype == array.dtype
    assert decoded.shape == array.shape
    np.testing.assert_array_equal(decoded, array)


@pytest.mark.parametrize("content_type", [CSV, NPY, NPZ, PROTOBUF])
def test_decoded_arrays_are_writable(content_type: str) -> None:
    decoded = decode(encode(np.ones((2, 2), dtype=np.float32), content_type), content_type)
    decoded[0, 0] = 5.0  # user input_fn/predict_fn code may change its input in place
    assert decoded[0, 0] == 5.0


def test_content_type_parameters_and_case_are_ignored() -> None:
    assert decode(b"[1, 2]", "Application/JSON; charset=utf-8") == [1, 2]
    assert encode([1, 2], "APPLICATION/JSON;charset=UTF-8") == b"[1,2]"


# --- JSON ---------------------------------------------------------------------------------------------


def test_json_decode_gives_python_objects() -> None:
    assert decode(b'{"instances": [[1.0, 2.5]], "name": "caf\xc3\xa9"}', JSON) == {
        "instances": [[1.0, 2.5]],
        "name": "café",
    }


def test_json_encode_writes_arrays_scalars_and_tensors_as_lists() -> None:
    torch = pytest.importorskip("torch")
    payload: dict[str, Any] = {
        "array": np.array([[1, 2], [3, 4]], dtype=np.int64),
        "scalar": np.float32(0.5),
        "count": np.int64(3),
        "tensor": torch.tensor([1.5, 2.5]),
        "nested": [np.bool_(True), {"x": np.arange(2)}],
    }
    assert json.loads(encode(payload, JSON)) == {
        "array": [[1, 2], [3, 4]],
        "scalar": 0.5,
        "count": 3,
        "tensor": [1.5, 2.5],
        "nested": [True, {"x": [0, 1]}],
    }


def test_json_encode_of_a_top_level_array_and_a_string() -> None:
    assert encode(np.array([[1.0, 2.0]]), JSON) == b"[[1.0,2.0]]"
    assert encode("cat", JSON) == b'"cat"'


def test_json_encode_of_a_torch_tensor_on_the_autograd_graph() -> None:
    torch = pytest.importorskip("torch")
    weights = torch.ones(2, requires_grad=True)
    assert encode(weights * 2, JSON) == b"[2.0,2.0]"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{", "not valid JSON"),
        (b"[1, 2,]", "line 1, column"),
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"\xff\xfe\xfa", "JSON"),
    ],
)
def test_bad_json_bodies_raise_validation_error(body: bytes, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        decode(body, JSON)


def test_json_encode_of_an_unserialisable_object_names_it() -> None:
    with pytest.raises(ValidationError, match="object"):
        encode({"x": object()}, JSON)


# --- CSV ----------------------------------------------------------------------------------------------


def test_csv_decode_gives_a_2d_float_array_of_rows() -> None:
    decoded = decode(b"1,2,3\n4,5,6\n", CSV)
    assert decoded.dtype == np.float64
    np.testing.assert_array_equal(decoded, [[1, 2, 3], [4, 5, 6]])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"1,2,3", [[1, 2, 3]]),
        (b"1\n2\n3", [[1], [2], [3]]),
        (b"1, 2\r\n 3 ,4\r\n", [[1, 2], [3, 4]]),
        (b'"1",2', [[1, 2]]),
        (b"1,2\n\n3,4\n\n", [[1, 2], [3, 4]]),
        (b"\xef\xbb\xbf1e3,-2.5", [[1000, -2.5]]),
    ],
)
def test_csv_decode_variants(body: bytes, expected: list[list[float]]) -> None:
    np.testing.assert_array_equal(decode(body, CSV), expected)


def test_csv_empty_cells_are_missing_values() -> None:
    np.testing.assert_array_equal(decode(b"1,,3\n4,5,\n", CSV), [[1, np.nan, 3], [4, 5, np.nan]])


def test_csv_header_row_is_refused_naming_row_and_column() -> None:
    with pytest.raises(ValidationError, match=r"Row 1, column 2 .*'width'.* not a number"):
        decode(b"1.0,width\n1,2\n", CSV)


def test_csv_bad_cell_in_a_later_row_is_named() -> None:
    with pytest.raises(ValidationError, match=r"Row 3, column 1 .*'abc'"):
        decode(b"1,2\n3,4\nabc,6\n", CSV)


def test_csv_ragged_rows_are_refused() -> None:
    with pytest.raises(ValidationError, match=r"Row 2 .* has 1 values but the first row has 2"):
        decode(b"1,2\n3\n", CSV)


@pytest.mark.parametrize("body", [b"", b"\n\n", b"\xff,\xfe"])
def test_empty_or_undecodable_csv_is_refused(body: bytes) -> None:
    with pytest.raises(ValidationError, match="CSV body"):
        decode(body, CSV)


def test_csv_encode_of_arrays() -> None:
    assert encode(np.array([[1, 2], [3, 4]]), CSV) == b"1,2\n3,4"
    assert encode(np.array([0.1, 0.25], dtype=np.float32), CSV) == b"0.1,0.25"  # 1-D: one row
    assert encode(np.float64(2.5), CSV) == b"2.5"
    assert encode(np.array([[True, False]]), CSV) == b"1,0"


def test_csv_encode_of_lists_quotes_cells_that_need_it() -> None:
    assert encode([1, 2.5, 3], CSV) == b"1,2.5,3"
    assert encode([[1, 2], [3, 4]], CSV) == b"1,2\n3,4"
    assert encode([["a,b", 'say "hi"']], CSV) == b'"a,b","say ""hi"""'
    assert encode(np.array([["a,b", "c"]]), CSV) == b'"a,b",c'
    assert encode("1,2\n3,4", CSV) == b"1,2\n3,4"  # already CSV
    assert encode(7, CSV) == b"7"


def test_csv_encode_of_a_torch_tensor() -> None:
    torch = pytest.importorskip("torch")
    assert encode(torch.tensor([[1.5, 2.0]]), CSV) == b"1.5,2.0"


@pytest.mark.parametrize(
    ("obj", "fragment"),
    [
        (np.zeros((2, 2, 2)), "3-D array"),
        (np.zeros((0, 3)), "empty"),
        ([], "empty list"),
        ({"a": 1}, "not a mapping"),
    ],
)
def test_csv_encode_refuses_what_csv_cannot_hold(obj: Any, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        encode(obj, CSV)


# --- NPY ----------------------------------------------------------------------------------------------


def test_npy_decode_reads_numpy_save_output() -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.arange(6, dtype=np.int16).reshape(3, 2))
    decoded = decode(buffer.getvalue(), NPY)
    assert decoded.dtype == np.int16
    np.testing.assert_array_equal(decoded, np.arange(6).reshape(3, 2))


def test_npy_encode_of_lists_and_tensors() -> None:
    np.testing.assert_array_equal(decode(encode([[1.0, 2.0]], NPY), NPY), [[1.0, 2.0]])
    torch = pytest.importorskip("torch")
    decoded = decode(encode(torch.arange(4, dtype=torch.int32), NPY), NPY)
    assert decoded.dtype == np.int32
    bfloat = decode(encode(torch.tensor([1.5], dtype=torch.bfloat16), NPY), NPY)
    assert bfloat.dtype == np.float32  # numpy has no bfloat16; float32 holds it exactly
    np.testing.assert_array_equal(bfloat, [1.5])


def test_npy_refuses_pickled_object_arrays() -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValidationError, match=r"\.npy body cannot be read"):
        decode(buffer.getvalue(), NPY)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"[1, 2]", "not a .npy array"),
        (b"", "not a .npy array"),
        (b"PK\x03\x04rest", "application/x-npz"),
    ],
)
def test_npy_refuses_other_bodies(body: bytes, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        decode(body, NPY)


def test_npy_refuses_a_truncated_body() -> None:
    body = encode(np.arange(100, dtype=np.float64), NPY)
    with pytest.raises(ValidationError, match=r"\.npy body"):
        decode(body[:-10], NPY)


def test_npy_header_declaring_a_huge_array_is_refused() -> None:
    buffer = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**13,)}  # 80 TB
    np.lib.format.write_array_header_1_0(buffer, header)
    with pytest.raises(PayloadTooLarge, match="too large"):
        decode(buffer.getvalue() + b"\x00" * 64, NPY)


@pytest.mark.parametrize(
    ("obj", "fragment"),
    [({"a": np.ones(2)}, "application/x-npz"), (np.array([object()]), "not Python objects")],
)
def test_npy_encode_refuses_mappings_and_objects(obj: Any, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        encode(obj, NPY)


# --- NPZ ----------------------------------------------------------------------------------------------


def test_npz_decode_gives_named_arrays() -> None:
    buffer = io.BytesIO()
    np.savez(buffer, features=np.ones((2, 3)), labels=np.array([1, 0]))
    decoded = decode(buffer.getvalue(), NPZ)
    assert set(decoded) == {"features", "labels"}
    np.testing.assert_array_equal(decoded["labels"], [1, 0])


def test_npz_with_one_array_gives_the_array() -> None:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, np.arange(3))
    np.testing.assert_array_equal(decode(buffer.getvalue(), NPZ), [0, 1, 2])


def test_npz_encode_of_a_mapping_is_readable_by_numpy() -> None:
    body = encode({"file": np.arange(2), "x": [[1.5]]}, NPZ)  # "file" would clash with np.savez's argument
    with np.load(io.BytesIO(body)) as archive:
        np.testing.assert_array_equal(archive["file"], [0, 1])
        np.testing.assert_array_equal(archive["x"], [[1.5]])


@pytest.mark.parametrize(
    ("body", "fragment"), [(b"\x93NUMPY", "not an .npz archive"), (b"PK\x03\x04xx", "corrupt")]
)
def test_npz_refuses_other_bodies(body: bytes, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        decode(body, NPZ)


def test_npz_refuses_pickled_members() -> None:
    buffer = io.BytesIO()
    np.savez(buffer, a=np.array([None, 1], dtype=object))
    with pytest.raises(ValidationError, match="object arrays"):
        decode(buffer.getvalue(), NPZ)


def test_npz_that_would_inflate_past_the_limit_is_refused() -> None:
    # A small archive whose central directory declares a 3.75 GiB member, as a zip bomb's would: the
    # uncompressed-size field sits 24 bytes into the central directory entry (signature PK\x01\x02).
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("big.npy", encode(np.zeros(4), NPY))
    body = bytearray(buffer.getvalue())
    entry = body.index(b"PK\x01\x02")
    body[entry + 24 : entry + 28] = (0xF0000000).to_bytes(4, "little")
    assert DEFAULT_MAX_DECODED_BYTES < 0xF0000000
    with pytest.raises(PayloadTooLarge, match="limit"):
        decode(bytes(body), NPZ)


# --- JSON Lines ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", [JSONLINES, "application/jsons", "application/x-jsonlines"])
def test_jsonlines_decode_gives_one_object_per_line(content_type: str) -> None:
    body = b'{"a": 1}\n\n[1, 2]\n"text"\n'
    assert decode(body, content_type) == [{"a": 1}, [1, 2], "text"]


def test_jsonlines_bad_line_is_named() -> None:
    with pytest.raises(ValidationError, match="Line 2 of the JSON Lines body"):
        decode(b'{"a": 1}\n{"a": \n', JSONLINES)


def test_jsonlines_without_records_is_refused() -> None:
    with pytest.raises(ValidationError, match="no records"):
        decode(b"\n \n", JSONLINES)


def test_jsonlines_encode() -> None:
    assert encode([{"a": 1}, [2]], JSONLINES) == b'{"a":1}\n[2]\n'
    assert encode(np.array([[1, 2], [3, 4]]), JSONLINES) == b"[1,2]\n[3,4]\n"
    assert encode({"a": np.float32(0.5)}, JSONLINES) == b'{"a":0.5}\n'


# --- unknown content types ----------------------------------------------------------------------------


def test_decode_of_an_unknown_type_names_it_and_the_supported_ones() -> None:
    with pytest.raises(UnsupportedMediaType, match=r"'image/png'.*application/json.*text/csv"):
        decode(b"\x89PNG", "image/png")


def test_encode_of_an_unknown_type_names_it_and_the_supported_ones() -> None:
    with pytest.raises(UnsupportedMediaType, match=r"'text/html'.*application/x-npy"):
        encode([1], "text/html")


def test_empty_content_type_is_unsupported() -> None:
    with pytest.raises(UnsupportedMediaType):
        decode(b"[1]", "")


# --- Accept negotiation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/json", JSON),
        ("text/csv", CSV),
        ("text/csv; charset=utf-8", CSV),
        ("application/xml, application/x-npy, text/csv", NPY),  # first supported wins
        ("image/png, */*", JSON),
        ("text/csv;q=0.5, application/x-npy", NPY),  # higher q first
        ("text/csv;q=0.9, application/x-npy;q=0.9", CSV),  # equal q: written order
        ("application/json;q=0, text/csv;q=0.1", CSV),  # q=0 rules a type out
        ("text/*", CSV),
        ("application/*", JSON),  # the default when it matches
        ("application/jsons", JSONLINES),
        ("application/vnd.google.protobuf", PROTOBUF),
        ("TEXT/CSV", CSV),
        ("text/csv;q=oops", CSV),  # a malformed weight is ignored
    ],
)
def test_negotiate_accept(accept: str | None, expected: str) -> None:
    assert negotiate_accept(accept) == expected


def test_negotiate_accept_with_custom_supported_and_default() -> None:
    assert negotiate_accept("*/*", supported=[CSV, NPY], default=NPY) == NPY
    assert negotiate_accept(None, supported=[CSV], default=CSV) == CSV
    assert negotiate_accept("application/*", supported=[CSV, NPY], default=CSV) == NPY
    assert negotiate_accept("application/json, text/csv", supported=[CSV]) == CSV


def test_negotiate_accept_names_the_header_and_the_supported_types() -> None:
    with pytest.raises(UnsupportedMediaType, match=r"'image/png, text/html'.*application/json.*text/csv"):
        negotiate_accept("image/png, text/html")
    with pytest.raises(UnsupportedMediaType, match="application/json;q=0"):
        negotiate_accept("application/json;q=0")


# --- TF Serving shapes --------------------------------------------------------------------------------


def test_tfs_instances_unwraps_row_and_columnar_requests() -> None:
    assert tfs_instances({"instances": [[1, 2]]}) == [[1, 2]]
    assert tfs_instances({"signature_name": "serving_default", "inputs": {"x": [1]}}) == {"x": [1]}
    assert tfs_instances([[1, 2]]) == [[1, 2]]
    assert tfs_instances({"x": 1}) == {"x": 1}


def test_tfs_response_wraps_predictions_and_encodes_as_json() -> None:
    response = tfs_response(np.array([[0.25, 0.75]]))
    assert set(response) == {"predictions"}
    assert json.loads(encode(response, JSON)) == {"predictions": [[0.25, 0.75]]}
