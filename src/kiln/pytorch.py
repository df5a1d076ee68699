"""PyTorch on Kiln, importable as ``sagemaker.pytorch`` is.

``from kiln.pytorch import PyTorch, PyTorchModel, PyTorchPredictor`` works the way
``from sagemaker.pytorch import …`` does; the classes live in ``kiln.sdk.frameworks.pytorch``.
"""

from __future__ import annotations

from kiln.sdk.frameworks.pytorch import PyTorch, PyTorchModel, PyTorchPredictor

__all__ = ["PyTorch", "PyTorchModel", "PyTorchPredictor"]
