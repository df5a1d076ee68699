"""Importable as ``sagemaker.workflow.pipeline`` is;
the classes live in ``kiln.sdk.workflow.pipeline``.
"""

from __future__ import annotations

from kiln.sdk.workflow.pipeline import (
    Pipeline,
    PipelineExecution,
)

__all__ = ["Pipeline", "PipelineExecution"]
