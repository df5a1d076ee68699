"""The content types Kiln speaks, their aliases, and the one place a header value is normalised."""

from __future__ import annotations

__all__ = [
    "CSV",
    "JSON",
    "JSONLINES",
    "NPY",
    "NPZ",
    "SUPPORTED_REQUEST_TYPES",
    "SUPPORTED_RESPONSE_TYPES",
    "TENSOR_PROTO",
    "canonical_content_type",
]

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
NPZ = "application/x-npz"
JSONLINES = "application/jsonlines"
# TensorFlow's TensorProto message in protobuf binary form (the legacy TF endpoints' default format).
TENSOR_PROTO = "application/x-protobuf"

# Other spellings clients send for the same formats: the SageMaker TF Serving container accepts
# `application/jsons`, and `application/vnd.google.protobuf` is the IANA-style protobuf name.
_ALIASES: dict[str, str] = {
    "application/jsons": JSONLINES,
    "application/x-jsonlines": JSONLINES,
    "application/vnd.google.protobuf": TENSOR_PROTO,
}

SUPPORTED_REQUEST_TYPES: tuple[str, ...] = (JSON, JSONLINES, CSV, NPY, NPZ, TENSOR_PROTO)
SUPPORTED_RESPONSE_TYPES: tuple[str, ...] = (JSON, JSONLINES, CSV, NPY, NPZ, TENSOR_PROTO)


def canonical_content_type(content_type: str) -> str:
    """``content_type`` without parameters, lower-cased, with aliases mapped to Kiln's spelling.

    ``"Application/JSON; charset=utf-8"`` becomes ``"application/json"`` and ``"application/jsons"``
    becomes ``"application/jsonlines"``. A type Kiln does not know comes back normalised but otherwise
    unchanged, so callers can still name it in an error message.
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    return _ALIASES.get(media_type, media_type)
