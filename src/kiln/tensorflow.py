"""TensorFlow's estimator, model and predictor, importable as ``sagemaker.tensorflow`` is.

``from kiln.tensorflow import ...`` works the way ``from sagemaker.tensorflow import ...`` does;
the classes live in ``kiln.sdk.frameworks.tensorflow``.
"""

from __future__ import annotations

from kiln.sdk.frameworks.tensorflow import TensorFlow, TensorFlowModel, TensorFlowPredictor

__all__ = ["TensorFlow", "TensorFlowModel", "TensorFlowPredictor"]
