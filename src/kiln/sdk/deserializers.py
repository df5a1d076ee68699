"""SageMaker v2's deserializers: they turn an endpoint's response body into Python objects.

Names, ``ACCEPT`` types and behaviour follow ``sagemaker.deserializers`` (``base_deserializers.py``);
the formats come from ``kiln.codecs``, the same code the model server encodes them with.
``deserialize`` takes the body as bytes or as a binary file-like object (SageMaker passes the response
stream), and closes a stream once it has read it, as SageMaker's do.
"""

from __future__ import annotations

import abc
import csv
import io
import pickle
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from kiln.codecs import content_types, decode, json_codec, jsonlines_codec, tensor_proto
from kiln.codecs.content_types import canonical_content_type
from kiln.errors import ValidationError

__all__ = [
    "BaseDeserializer",
    "Body",
    "BytesDeserializer",
    "CSVDeserializer",
    "JSONDeserializer",
    "JSONLinesDeserializer",
    "NumpyDeserializer",
    "SimpleBaseDeserializer",
    "StreamDeserializer",
    "StringDeserializer",
    "SupportsRead",
    "TensorProtoDeserializer",
]


class SupportsRead(Protocol):
    """A binary stream, such as ``io.BytesIO`` or an HTTP response body."""

    def read(self) -> bytes: ...


Body = bytes | bytearray | memoryview | SupportsRead
"""A response body: the bytes themselves, or a binary stream to read them from."""


def _read_all(body: Body) -> bytes:
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    try:
        return bytes(body.read())
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()


class BaseDeserializer(abc.ABC):
    """Turns a response body into Python objects."""

    @abc.abstractmethod
    def deserialize(self, stream: Body, content_type: str) -> Any:
        """The object that ``stream`` holds, given the response's ``Content-Type``."""

    @property
    @abc.abstractmethod
    def ACCEPT(self) -> tuple[str, ...]:  # noqa: N802 - SageMaker's name
        """The content types this deserializer reads, best first (sent as the ``Accept`` header)."""


class SimpleBaseDeserializer(BaseDeserializer):
    """A deserializer whose ``Accept`` types are chosen when it is made."""

    def __init__(self, accept: str | Sequence[str] = "*/*") -> None:
        self.accept = accept

    @property
    def ACCEPT(self) -> tuple[str, ...]:  # noqa: N802 - SageMaker's name
        return (self.accept,) if isinstance(self.accept, str) else tuple(self.accept)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(accept={self.accept!r})"


class BytesDeserializer(SimpleBaseDeserializer):
    """The body as ``bytes``."""

    def deserialize(self, stream: Body, content_type: str) -> bytes:
        return _read_all(stream)


class StringDeserializer(SimpleBaseDeserializer):
    """The body as ``str``, decoded with ``encoding``."""

    def __init__(self, encoding: str = "utf-8", accept: str | Sequence[str] = content_types.JSON) -> None:
        super().__init__(accept)
        self.encoding = encoding

    def deserialize(self, stream: Body, content_type: str) -> str:
        body = _read_all(stream)
        try:
            return body.decode(self.encoding)
        except UnicodeDecodeError as e:
            raise ValidationError(
                f"The response is not {self.encoding} text ({e}); "
                "use StringDeserializer(encoding=...) with its encoding, or BytesDeserializer."
            ) from e


class StreamDeserializer(SimpleBaseDeserializer):
    """``(stream, content_type)``, unread, for the caller to consume (and close)."""

    def deserialize(self, stream: Body, content_type: str) -> tuple[SupportsRead, str]:
        if isinstance(stream, (bytes, bytearray, memoryview)):
            return io.BytesIO(stream), content_type
        return stream, content_type


class JSONDeserializer(SimpleBaseDeserializer):
    """The JSON document in the body, as lists, dicts and numbers."""

    def __init__(self, accept: str | Sequence[str] = content_types.JSON) -> None:
        super().__init__(accept)

    def deserialize(self, stream: Body, content_type: str) -> Any:
        return json_codec.decode(_read_all(stream))


class JSONLinesDeserializer(SimpleBaseDeserializer):
    """The list of JSON documents in the body, one per line; an empty body is an empty list."""

    def __init__(self, accept: str | Sequence[str] = content_types.JSONLINES) -> None:
        super().__init__(accept)

    def deserialize(self, stream: Body, content_type: str) -> list[Any]:
        body = _read_all(stream)
        return jsonlines_codec.decode(body) if body.strip() else []


class CSVDeserializer(SimpleBaseDeserializer):
    """The rows of the CSV body as lists of strings, as SageMaker's ``CSVDeserializer`` gives them."""

    def __init__(self, encoding: str = "utf-8", accept: str | Sequence[str] = content_types.CSV) -> None:
        super().__init__(accept)
        self.encoding = encoding

    def deserialize(self, stream: Body, content_type: str) -> list[list[str]]:
        text = StringDeserializer(self.encoding).deserialize(stream, content_type)
        return list(csv.reader(io.StringIO(text)))


class NumpyDeserializer(SimpleBaseDeserializer):
    """A numpy array from an NPY, NPZ, JSON, CSV, JSON Lines or TensorProto body.

    An NPZ body with several arrays gives a dict of them. ``dtype`` converts the result. Pickled object
    arrays are refused unless ``allow_pickle=True``: unpickling runs code chosen by the endpoint.
    """

    def __init__(
        self,
        dtype: Any = None,
        accept: str | Sequence[str] = content_types.NPY,
        allow_pickle: bool = False,
    ) -> None:
        super().__init__(accept)
        self.dtype = dtype
        self.allow_pickle = allow_pickle

    def deserialize(self, stream: Body, content_type: str) -> Any:
        body = _read_all(stream)
        media_type = canonical_content_type(content_type)
        if media_type in (content_types.NPY, content_types.NPZ):
            decoded = self._load_numpy(body, content_type)
        else:
            decoded = decode(body, content_type)
        if isinstance(decoded, dict):
            return {name: self._as_array(value) for name, value in decoded.items()}
        return self._as_array(decoded)

    def _load_numpy(self, body: bytes, content_type: str) -> Any:
        if self.allow_pickle:
            try:
                loaded = np.load(io.BytesIO(body), allow_pickle=True)
            except (ValueError, OSError, EOFError, pickle.UnpicklingError) as e:
                raise ValidationError(
                    f"The response is not a {canonical_content_type(content_type)} body numpy can load ({e})."
                ) from e
            if isinstance(loaded, np.lib.npyio.NpzFile):
                with loaded:
                    arrays = {name: loaded[name] for name in loaded.files}
                return next(iter(arrays.values())) if len(arrays) == 1 else arrays
            return loaded
        try:
            return decode(body, content_type)
        except ValidationError as e:
            raise ValidationError(
                f"{e.message} If the endpoint sends pickled object arrays and you trust it, "
                "use NumpyDeserializer(allow_pickle=True)."
            ) from e

    def _as_array(self, value: Any) -> Any:
        try:
            return np.asarray(value, dtype=self.dtype)
        except (ValueError, TypeError) as e:
            raise ValidationError(
                f"The response cannot be made into a numpy array ({e}); "
                "use JSONDeserializer for nested or ragged data."
            ) from e


class TensorProtoDeserializer(SimpleBaseDeserializer):
    """The numpy array in a TensorFlow ``TensorProto`` body."""

    def __init__(self, accept: str | Sequence[str] = content_types.TENSOR_PROTO) -> None:
        super().__init__(accept)

    def deserialize(self, stream: Body, content_type: str) -> Any:
        return tensor_proto.decode(_read_all(stream))
