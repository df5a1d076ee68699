"""Importable as ``sagemaker.workflow.properties`` is;
the classes live in ``kiln.sdk.workflow.properties``.
"""

from __future__ import annotations

from kiln.sdk.workflow.properties import (
    Properties,
    PropertyFile,
)

__all__ = ["Properties", "PropertyFile"]
