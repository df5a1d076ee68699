"""SageMaker v2's serializers: they turn what is passed to ``Predictor.predict`` into a request body.

Names, content types and behaviour follow ``sagemaker.serializers`` (``base_serializers.py``) so code
written for SageMaker keeps working; the formats themselves come from ``kiln.codecs``, the same code
the model server decodes them with. Every serializer passes a file-like object (anything with
``read()``) through unread, as SageMaker's do, and returns ``bytes``.
"""

from __future__ import annotations

import abc
from typing import Any

from kiln.codecs import content_types, csv_codec, json_codec, jsonlines_codec, npy_codec, tensor_proto
from kiln.codecs._arrays import describe
from kiln.errors import ValidationError

__all__ = [
    "BaseSerializer",
    "CSVSerializer",
    "IdentitySerializer",
    "JSONLinesSerializer",
    "JSONSerializer",
    "LibSVMSerializer",
    "NumpySerializer",
    "SimpleBaseSerializer",
    "TensorProtoSerializer",
]


class BaseSerializer(abc.ABC):
    """Turns data into the body of an inference request."""

    @abc.abstractmethod
    def serialize(self, data: Any) -> bytes:
        """``data`` as the request body."""

    @property
    @abc.abstractmethod
    def CONTENT_TYPE(self) -> str:  # noqa: N802 - SageMaker's name
        """The ``Content-Type`` the body is sent with."""

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` the body is sent with (same as ``CONTENT_TYPE``)."""
        return self.CONTENT_TYPE


class SimpleBaseSerializer(BaseSerializer):
    """A serializer whose content type is chosen when it is made."""

    def __init__(self, content_type: str = content_types.JSON) -> None:
        self._content_type = content_type

    @property
    def CONTENT_TYPE(self) -> str:  # noqa: N802 - SageMaker's name
        return self._content_type

    def __repr__(self) -> str:
        return f"{type(self).__name__}(content_type={self._content_type!r})"


def _read_stream(data: Any) -> bytes | None:
    """The contents of ``data`` when it is a file-like object, else ``None``."""
    if not hasattr(data, "read"):
        return None
    content = data.read()
    return content.encode("utf-8") if isinstance(content, str) else bytes(content)


def _encoded_already(data: Any) -> bytes | None:
    """``data`` as bytes when it is a file-like object, ``str`` or bytes: a body the caller made."""
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    return _read_stream(data)


class JSONSerializer(SimpleBaseSerializer):
    """JSON; numpy arrays and tensors become nested lists, also as the values of a dict.

    A ``str`` (or bytes) is taken to be JSON already and sent unchanged.
    """

    def __init__(self, content_type: str = content_types.JSON) -> None:
        super().__init__(content_type)

    def serialize(self, data: Any) -> bytes:
        body = _encoded_already(data)
        return json_codec.encode(data) if body is None else body


class CSVSerializer(SimpleBaseSerializer):
    """CSV: a list of rows (or a 2-D array) becomes one line per row, anything 1-D a single line.

    A ``str`` is taken to be CSV already; a pandas ``DataFrame`` is written without header and index.
    """

    def __init__(self, content_type: str = content_types.CSV) -> None:
        super().__init__(content_type)

    def serialize(self, data: Any) -> bytes:
        body = _encoded_already(data)
        if body is not None:
            return body
        if hasattr(data, "to_csv"):  # a pandas DataFrame or Series, duck-typed to keep pandas optional
            text: str = data.to_csv(header=False, index=False)
            return text.removesuffix("\n").encode("utf-8")
        return csv_codec.encode(data)


class NumpySerializer(SimpleBaseSerializer):
    """NumPy's ``.npy`` format; lists, scalars and tensors are converted with ``dtype`` (if given)."""

    def __init__(self, dtype: Any = None, content_type: str = content_types.NPY) -> None:
        super().__init__(content_type)
        self.dtype = dtype

    def serialize(self, data: Any) -> bytes:
        body = _read_stream(data)
        if body is not None:
            return body
        array = npy_codec.to_array(data, self.dtype)
        if array.size == 0:
            raise ValidationError(f"Cannot serialize an empty {describe(array)}; send at least one value.")
        return npy_codec.encode(array)


class JSONLinesSerializer(SimpleBaseSerializer):
    """JSON Lines: each element of a list (or row of an array) on its own line.

    A ``str`` is taken to be JSON Lines already and sent unchanged.
    """

    def __init__(self, content_type: str = content_types.JSONLINES) -> None:
        super().__init__(content_type)

    def serialize(self, data: Any) -> bytes:
        body = _encoded_already(data)
        return jsonlines_codec.encode(data) if body is None else body


class IdentitySerializer(SimpleBaseSerializer):
    """Sends bytes exactly as given (a ``str`` as UTF-8), with the content type you name."""

    def __init__(self, content_type: str = "application/octet-stream") -> None:
        super().__init__(content_type)

    def serialize(self, data: Any) -> bytes:
        body = _encoded_already(data)
        if body is None:
            raise ValidationError(
                f"IdentitySerializer sends bytes as they are, but got a {describe(data)}; "
                "encode it first, or use a serializer for it such as JSONSerializer or NumpySerializer."
            )
        return body


class TensorProtoSerializer(SimpleBaseSerializer):
    """TensorFlow's ``TensorProto`` in protobuf binary form, the legacy TensorFlow endpoints' format.

    Arrays keep their dtype; Python lists of floats become float32 and of ints int32, as with
    ``tf.make_tensor_proto``, and a ``str`` a DT_STRING scalar. Bytes and protobuf messages (such as
    one ``tf.make_tensor_proto`` built) are taken to be the body already.
    """

    def __init__(self, content_type: str = content_types.TENSOR_PROTO) -> None:
        super().__init__(content_type)

    def serialize(self, data: Any) -> bytes:
        if isinstance(data, (bytes, bytearray, memoryview)):
            return bytes(data)
        body = _read_stream(data)
        if body is not None:
            return body
        if hasattr(data, "SerializeToString"):
            return bytes(data.SerializeToString())
        return tensor_proto.encode(data)


class LibSVMSerializer(SimpleBaseSerializer):
    """LIBSVM text (``text/libsvm``), sent as given: SageMaker's default for XGBoost endpoints.

    Like SageMaker's, it takes a ``str`` or a readable file; it does not convert arrays.
    """

    def __init__(self, content_type: str = "text/libsvm") -> None:
        super().__init__(content_type)

    def serialize(self, data: Any) -> bytes:
        body = _encoded_already(data)
        if body is None:
            raise ValidationError(
                f"LibSVMSerializer sends LIBSVM text, but got a {describe(data)}; pass a str such as "
                "'0 1:0.5 2:1.0' or an open file, or use CSVSerializer for an array."
            )
        return body
