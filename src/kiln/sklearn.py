"""scikit-learn's estimator, model and predictor, importable as ``sagemaker.sklearn`` is.

``from kiln.sklearn import ...`` works the way ``from sagemaker.sklearn import ...`` does;
the classes live in ``kiln.sdk.frameworks.sklearn``.
"""

from __future__ import annotations

from kiln.sdk.frameworks.sklearn import SKLearn, SKLearnModel, SKLearnPredictor

__all__ = ["SKLearn", "SKLearnModel", "SKLearnPredictor"]
