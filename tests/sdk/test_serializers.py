"""kiln.serializers / kiln.deserializers: SageMaker v2's names and behaviour over kiln.codecs."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pytest

import kiln.deserializers
import kiln.sdk.deserializers
import kiln.sdk.serializers
import kiln.serializers
from kiln.codecs import decode, encode
from kiln.deserializers import (
    BaseDeserializer,
    BytesDeserializer,
    CSVDeserializer,
    JSONDeserializer,
    JSONLinesDeserializer,
    NumpyDeserializer,
    SimpleBaseDeserializer,
    StreamDeserializer,
    StringDeserializer,
    TensorProtoDeserializer,
)
from kiln.errors import UnsupportedMediaType, ValidationError
from kiln.serializers import (
    BaseSerializer,
    CSVSerializer,
    IdentitySerializer,
    JSONLinesSerializer,
    JSONSerializer,
    NumpySerializer,
    SimpleBaseSerializer,
    TensorProtoSerializer,
)


class ClosingBytesIO(io.BytesIO):
    """A response stream that remembers whether the deserializer closed it."""

    was_closed = False

    def close(self) -> None:
        self.was_closed = True
        super().close()


def test_top_level_modules_re_export_the_sdk_classes() -> None:
    for facade, home in (
        (kiln.serializers, kiln.sdk.serializers),
        (kiln.deserializers, kiln.sdk.deserializers),
    ):
        assert facade.__all__
        for name in facade.__all__:
            assert getattr(facade, name) is getattr(home, name)
    assert "JSONSerializer" in kiln.serializers.__all__
    assert "NumpyDeserializer" in kiln.deserializers.__all__


@pytest.mark.parametrize(
    ("serializer", "content_type"),
    [
        (JSONSerializer(), "application/json"),
        (CSVSerializer(), "text/csv"),
        (NumpySerializer(), "application/x-npy"),
        (JSONLinesSerializer(), "application/jsonlines"),
        (IdentitySerializer(), "application/octet-stream"),
        (IdentitySerializer("image/png"), "image/png"),
        (TensorProtoSerializer(), "application/x-protobuf"),
        (JSONSerializer(content_type="application/vnd+json"), "application/vnd+json"),
    ],
)
def test_serializer_content_types(serializer: BaseSerializer, content_type: str) -> None:
    assert content_type == serializer.CONTENT_TYPE
    assert serializer.content_type == content_type


@pytest.mark.parametrize(
    ("deserializer", "accept"),
    [
        (JSONDeserializer(), ("application/json",)),
        (CSVDeserializer(), ("text/csv",)),
        (NumpyDeserializer(), ("application/x-npy",)),
        (JSONLinesDeserializer(), ("application/jsonlines",)),
        (BytesDeserializer(), ("*/*",)),
        (StreamDeserializer(), ("*/*",)),
        (StringDeserializer(), ("application/json",)),
        (TensorProtoDeserializer(), ("application/x-protobuf",)),
        (
            NumpyDeserializer(accept=["application/x-npy", "application/json"]),
            ("application/x-npy", "application/json"),
        ),
    ],
)
def test_deserializer_accept_types(deserializer: BaseDeserializer, accept: tuple[str, ...]) -> None:
    assert accept == deserializer.ACCEPT


def test_base_classes_are_abstract_and_simple_bases_are_extensible() -> None:
    with pytest.raises(TypeError):
        BaseSerializer()  # type: ignore[abstract]
    with pytest.raises(TypeError):
        BaseDeserializer()  # type: ignore[abstract]

    class UpperSerializer(SimpleBaseSerializer):
        def serialize(self, data: Any) -> bytes:
            return str(data).upper().encode()

    class LengthDeserializer(SimpleBaseDeserializer):
        def deserialize(self, stream: Any, content_type: str) -> int:
            return len(stream)

    assert UpperSerializer("text/plain").serialize("hi") == b"HI"
    assert UpperSerializer().CONTENT_TYPE == "application/json"
    assert LengthDeserializer().deserialize(b"abc", "text/plain") == 3
    assert LengthDeserializer().ACCEPT == ("*/*",)


# --- serializers --------------------------------------------------------------------------------------


def test_json_serializer() -> None:
    serializer = JSONSerializer()
    assert json.loads(serializer.serialize(np.array([[1.0, 2.0]]))) == [[1.0, 2.0]]
    assert json.loads(serializer.serialize({"instances": np.arange(3)})) == {"instances": [0, 1, 2]}
    assert serializer.serialize('{"already": "json"}') == b'{"already": "json"}'  # a str passes through
    assert serializer.serialize(io.BytesIO(b"[1]")) == b"[1]"
    assert serializer.serialize([1, "a", None]) == b'[1,"a",null]'


def test_json_serializer_handles_torch_tensors() -> None:
    torch = pytest.importorskip("torch")
    assert json.loads(JSONSerializer().serialize(torch.tensor([[0.5, 1.5]]))) == [[0.5, 1.5]]


def test_csv_serializer_rows_and_values() -> None:
    serializer = CSVSerializer()
    assert serializer.serialize([1, 2, 3]) == b"1,2,3"
    assert serializer.serialize([[1, 2], [3, 4]]) == b"1,2\n3,4"
    assert serializer.serialize(np.array([[1.5, 2.0], [3.0, 4.0]])) == b"1.5,2.0\n3.0,4.0"
    assert serializer.serialize("1,2\n3,4") == b"1,2\n3,4"
    assert serializer.serialize(io.BytesIO(b"5,6")) == b"5,6"


def test_csv_serializer_writes_dataframes_without_header_or_index() -> None:
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({"a": [1, 3], "b": [2, 4]})
    assert CSVSerializer().serialize(frame) == b"1,2\n3,4"


def test_csv_serializer_refuses_empty_data() -> None:
    with pytest.raises(ValidationError, match="empty"):
        CSVSerializer().serialize([])


def test_numpy_serializer_applies_dtype() -> None:
    body = NumpySerializer(dtype="float32").serialize([[1, 2], [3, 4]])
    decoded = np.load(io.BytesIO(body))
    assert decoded.dtype == np.float32
    np.testing.assert_array_equal(decoded, [[1, 2], [3, 4]])


def test_numpy_serializer_keeps_array_dtype_and_passes_streams() -> None:
    decoded = np.load(io.BytesIO(NumpySerializer().serialize(np.arange(3, dtype=np.int16))))
    assert decoded.dtype == np.int16
    assert NumpySerializer().serialize(io.BytesIO(b"raw")) == b"raw"


@pytest.mark.parametrize("empty", [np.array([]), []])
def test_numpy_serializer_refuses_empty_arrays(empty: Any) -> None:
    with pytest.raises(ValidationError, match="empty"):
        NumpySerializer().serialize(empty)


def test_jsonlines_serializer() -> None:
    serializer = JSONLinesSerializer()
    assert serializer.serialize([{"a": 1}, {"a": 2}]) == b'{"a":1}\n{"a":2}\n'
    assert serializer.serialize('{"a": 1}\n') == b'{"a": 1}\n'


def test_identity_serializer_sends_bytes_unchanged() -> None:
    serializer = IdentitySerializer()
    assert serializer.serialize(b"\x00\x01") == b"\x00\x01"
    assert serializer.serialize(bytearray(b"ab")) == b"ab"
    assert serializer.serialize("text") == b"text"
    with pytest.raises(ValidationError, match=r"IdentitySerializer sends bytes.*ndarray"):
        serializer.serialize(np.ones(2))


def test_tensor_proto_serializer() -> None:
    serializer = TensorProtoSerializer()
    # The golden bytes of a float32 [2] tensor [1.0, 2.0] (see tests/codecs/test_tensor_proto.py).
    assert serializer.serialize([1.0, 2.0]) == bytes.fromhex("080112041202080222080000803f00000040")
    assert serializer.serialize(b"prebuilt") == b"prebuilt"


def test_tensor_proto_serializer_sends_protobuf_messages_as_they_serialize() -> None:
    tensor_util = pytest.importorskip("tensorboard.util.tensor_util")
    proto = tensor_util.make_tensor_proto([[1, 2], [3, 4]])
    body = TensorProtoSerializer().serialize(proto)
    assert body == proto.SerializeToString()
    np.testing.assert_array_equal(decode(body, "application/x-protobuf"), [[1, 2], [3, 4]])


# --- serializer → codec decode (what the model server reads) ------------------------------------------


MATRIX = np.array([[0.5, 1.0, -2.0], [3.25, 0.0, 8.0]], dtype=np.float32)


@pytest.mark.parametrize(
    "serializer",
    [JSONSerializer(), CSVSerializer(), NumpySerializer(), JSONLinesSerializer(), TensorProtoSerializer()],
    ids=lambda serializer: type(serializer).__name__,
)
def test_serializer_output_decodes_on_the_server(serializer: BaseSerializer) -> None:
    decoded = decode(serializer.serialize(MATRIX), serializer.CONTENT_TYPE)
    np.testing.assert_array_equal(np.asarray(decoded, dtype=np.float32), MATRIX)


# --- codec encode (what the model server writes) → deserializers --------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["application/x-npy", "application/x-npz", "application/json", "text/csv", "application/x-protobuf"],
)
def test_numpy_deserializer_reads_every_array_format(content_type: str) -> None:
    stream = ClosingBytesIO(encode(MATRIX, content_type))
    decoded = NumpyDeserializer(dtype="float32").deserialize(stream, content_type)
    assert decoded.dtype == np.float32
    np.testing.assert_array_equal(decoded, MATRIX)
    assert stream.was_closed  # as SageMaker's deserializers do once they have read the body


def test_numpy_deserializer_keeps_the_sent_dtype_without_one() -> None:
    decoded = NumpyDeserializer().deserialize(
        encode(np.arange(3, dtype=np.uint8), "application/x-npy"), "application/x-npy"
    )
    assert decoded.dtype == np.uint8


def test_numpy_deserializer_gives_a_dict_for_several_npz_arrays() -> None:
    body = encode({"scores": np.ones(2), "labels": np.array([1, 0])}, "application/x-npz")
    decoded = NumpyDeserializer(dtype="int64").deserialize(body, "application/x-npz")
    assert set(decoded) == {"scores", "labels"}
    assert decoded["scores"].dtype == np.int64


def test_numpy_deserializer_refuses_pickles_unless_allowed() -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValidationError, match=r"allow_pickle=True"):
        NumpyDeserializer().deserialize(buffer.getvalue(), "application/x-npy")
    loaded = NumpyDeserializer(allow_pickle=True).deserialize(buffer.getvalue(), "application/x-npy")
    assert loaded[0] == {"a": 1}


def test_numpy_deserializer_refuses_unknown_types() -> None:
    with pytest.raises(UnsupportedMediaType, match="image/png"):
        NumpyDeserializer().deserialize(b"\x89PNG", "image/png")


def test_numpy_deserializer_refuses_ragged_json() -> None:
    with pytest.raises(ValidationError, match="JSONDeserializer"):
        NumpyDeserializer().deserialize(b"[[1, 2], [3]]", "application/json")


def test_json_deserializer_from_bytes_and_streams() -> None:
    body = encode({"predictions": np.array([[0.25, 0.75]])}, "application/json")
    assert JSONDeserializer().deserialize(body, "application/json") == {"predictions": [[0.25, 0.75]]}
    stream = ClosingBytesIO(body)
    assert JSONDeserializer().deserialize(stream, "application/json; charset=utf-8")["predictions"]
    assert stream.was_closed


def test_json_deserializer_names_a_bad_body() -> None:
    with pytest.raises(ValidationError, match="not valid JSON"):
        JSONDeserializer().deserialize(b"<html>", "application/json")


def test_csv_deserializer_gives_rows_of_strings() -> None:
    body = encode(np.array([[1.5, 2.0], [3.0, 4.0]]), "text/csv")
    assert CSVDeserializer().deserialize(io.BytesIO(body), "text/csv") == [["1.5", "2.0"], ["3.0", "4.0"]]
    assert CSVDeserializer().deserialize(b'"a,b",c\n', "text/csv") == [["a,b", "c"]]


def test_jsonlines_deserializer() -> None:
    body = encode([{"label": 1}, {"label": 2}], "application/jsonlines")
    assert JSONLinesDeserializer().deserialize(io.BytesIO(body), "application/jsonlines") == [
        {"label": 1},
        {"label": 2},
    ]
    assert JSONLinesDeserializer().deserialize(b"", "application/jsonlines") == []


def test_tensor_proto_deserializer() -> None:
    body = encode(MATRIX, "application/x-protobuf")
    decoded = TensorProtoDeserializer().deserialize(io.BytesIO(body), "application/x-protobuf")
    assert decoded.dtype == np.float32
    np.testing.assert_array_equal(decoded, MATRIX)


def test_bytes_and_string_deserializers() -> None:
    assert BytesDeserializer().deserialize(io.BytesIO(b"\x00\xff"), "application/octet-stream") == b"\x00\xff"
    assert StringDeserializer().deserialize("café".encode(), "text/plain") == "café"
    assert StringDeserializer("latin-1").deserialize(b"caf\xe9", "text/plain") == "café"
    with pytest.raises(ValidationError, match="encoding"):
        StringDeserializer().deserialize(b"caf\xe9", "text/plain")


def test_stream_deserializer_returns_the_stream_unread() -> None:
    stream = ClosingBytesIO(b"payload")
    returned, content_type = StreamDeserializer().deserialize(stream, "application/octet-stream")
    assert returned is stream
    assert content_type == "application/octet-stream"
    assert not stream.was_closed
    wrapped, _ = StreamDeserializer().deserialize(b"payload", "application/octet-stream")
    assert wrapped.read() == b"payload"
