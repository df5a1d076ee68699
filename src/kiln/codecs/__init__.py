"""The wire formats Kiln's SDK and model server share.

``decode(body, content_type)`` and ``encode(obj, content_type)`` cover JSON, JSON Lines, CSV, NPY, NPZ
and TensorFlow's ``TensorProto``; ``negotiate_accept`` picks the response type from an ``Accept``
header; ``tfs_instances`` / ``tfs_response`` handle TensorFlow Serving's JSON envelope. Each format
lives in its own module (``json_codec``, ``csv_codec``, ``npy_codec``, ``npz_codec``,
``jsonlines_codec``, ``tensor_proto``); the content type names are in ``content_types``.

Bodies that do not parse raise ``kiln.errors.ValidationError``; content types with no codec raise
``kiln.errors.UnsupportedMediaType``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiln.codecs.content_types import (
        SUPPORTED_REQUEST_TYPES,
        SUPPORTED_RESPONSE_TYPES,
        canonical_content_type,
    )
    from kiln.codecs.dispatch import decode, encode
    from kiln.codecs.negotiation import negotiate_accept
    from kiln.codecs.tfs import tfs_instances, tfs_response

# The format modules import numpy; importing them on first use keeps ``kiln.codecs.hyperparameters``
# (read by the CLI and the training runtime) from paying numpy's import time.
_HOMES = {
    "SUPPORTED_REQUEST_TYPES": "content_types",
    "SUPPORTED_RESPONSE_TYPES": "content_types",
    "canonical_content_type": "content_types",
    "decode": "dispatch",
    "encode": "dispatch",
    "negotiate_accept": "negotiation",
    "tfs_instances": "tfs",
    "tfs_response": "tfs",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'kiln.codecs' has no attribute {name!r}")
    return getattr(importlib.import_module(f"kiln.codecs.{home}"), name)


__all__ = [
    "SUPPORTED_REQUEST_TYPES",
    "SUPPORTED_RESPONSE_TYPES",
    "canonical_content_type",
    "decode",
    "encode",
    "negotiate_accept",
    "tfs_instances",
    "tfs_response",
]
