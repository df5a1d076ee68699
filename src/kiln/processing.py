"""Processing jobs, importable as ``sagemaker.processing`` (and ``sagemaker.sklearn.processing``) are.

``from kiln.processing import ScriptProcessor, ProcessingInput, ProcessingOutput`` works the way the
SageMaker SDK's imports do; the classes live in ``kiln.sdk.processing``.
"""

from __future__ import annotations

from kiln.sdk.processing import (
    FrameworkProcessor,
    ProcessingInput,
    ProcessingJob,
    ProcessingOutput,
    Processor,
    ScriptProcessor,
    SKLearnProcessor,
)

__all__ = [
    "FrameworkProcessor",
    "ProcessingInput",
    "ProcessingJob",
    "ProcessingOutput",
    "Processor",
    "SKLearnProcessor",
    "ScriptProcessor",
]
