"""``decode`` and ``encode``: pick the format module for a content type and run it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiln.codecs import csv_codec, json_codec, jsonlines_codec, limits, npy_codec, npz_codec, tensor_proto
from kiln.codecs.content_types import (
    CSV,
    JSON,
    JSONLINES,
    NPY,
    NPZ,
    SUPPORTED_REQUEST_TYPES,
    SUPPORTED_RESPONSE_TYPES,
    TENSOR_PROTO,
    canonical_content_type,
)
from kiln.errors import UnsupportedMediaType

__all__ = ["decode", "encode"]

# Each takes the body and, as ``max_bytes``, how much it may decode to (see ``kiln.codecs.limits``).
_DECODERS: dict[str, Callable[..., Any]] = {
    JSON: json_codec.decode,
    JSONLINES: jsonlines_codec.decode,
    CSV: csv_codec.decode,
    NPY: npy_codec.decode,
    NPZ: npz_codec.decode,
    TENSOR_PROTO: tensor_proto.decode,
}

_ENCODERS: dict[str, Callable[[Any], bytes]] = {
    JSON: json_codec.encode,
    JSONLINES: jsonlines_codec.encode,
    CSV: csv_codec.encode,
    NPY: npy_codec.encode,
    NPZ: npz_codec.encode,
    TENSOR_PROTO: tensor_proto.encode,
}


def decode(body: bytes, content_type: str, *, max_decoded_bytes: int | None = None) -> Any:
    """The object that ``body`` holds in the format named by ``content_type``.

    JSON gives lists and dicts, JSON Lines a list of them, CSV a 2-D float64 array, NPY and TensorProto
    an array, NPZ a dict of arrays (the array itself when there is only one). Parameters such as
    ``; charset=utf-8`` are ignored. A body that does not parse raises ``ValidationError``; one that
    would decode to more than ``max_decoded_bytes`` (default: this process's ``limits.configure``)
    raises ``PayloadTooLarge`` before allocating it; a content type with no decoder raises
    ``UnsupportedMediaType``.
    """
    decoder = _DECODERS.get(canonical_content_type(content_type))
    if decoder is None:
        raise UnsupportedMediaType(
            f"Cannot read a request body of content type {content_type!r}; "
            f"send one of: {', '.join(SUPPORTED_REQUEST_TYPES)}."
        )
    limit = limits.max_decoded_bytes() if max_decoded_bytes is None else max_decoded_bytes
    return decoder(body, max_bytes=limit)


def encode(obj: Any, content_type: str) -> bytes:
    """``obj`` (numpy array or scalar, torch tensor, list, dict, number) in the format ``content_type``.

    Raises ``ValidationError`` when the format cannot hold ``obj`` and ``UnsupportedMediaType`` when
    Kiln has no encoder for ``content_type``.
    """
    encoder = _ENCODERS.get(canonical_content_type(content_type))
    if encoder is None:
        raise UnsupportedMediaType(
            f"Cannot write a response as content type {content_type!r}; "
            f"ask for one of: {', '.join(SUPPORTED_RESPONSE_TYPES)}."
        )
    return encoder(obj)
