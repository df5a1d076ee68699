"""Serializers for ``Predictor``, importable as ``sagemaker.serializers`` is.

``from kiln.serializers import JSONSerializer`` works the way ``from sagemaker.serializers import
JSONSerializer`` does; the classes live in ``kiln.sdk.serializers``.
"""

from __future__ import annotations

from kiln.sdk.serializers import (
    BaseSerializer,
    CSVSerializer,
    IdentitySerializer,
    JSONLinesSerializer,
    JSONSerializer,
    LibSVMSerializer,
    NumpySerializer,
    SimpleBaseSerializer,
    TensorProtoSerializer,
)

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
