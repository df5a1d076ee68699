"""Deserializers for ``Predictor``, importable as ``sagemaker.deserializers`` is.

``from kiln.deserializers import JSONDeserializer`` works the way ``from sagemaker.deserializers import
JSONDeserializer`` does; the classes live in ``kiln.sdk.deserializers``.
"""

from __future__ import annotations

from kiln.sdk.deserializers import (
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

__all__ = [
    "BaseDeserializer",
    "BytesDeserializer",
    "CSVDeserializer",
    "JSONDeserializer",
    "JSONLinesDeserializer",
    "NumpyDeserializer",
    "SimpleBaseDeserializer",
    "StreamDeserializer",
    "StringDeserializer",
    "TensorProtoDeserializer",
]
