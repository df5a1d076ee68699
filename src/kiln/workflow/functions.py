"""Importable as ``sagemaker.workflow.functions`` is;
the classes live in ``kiln.sdk.workflow.functions``.
"""

from __future__ import annotations

from kiln.sdk.workflow.functions import (
    Join,
    JsonGet,
)

__all__ = ["Join", "JsonGet"]
