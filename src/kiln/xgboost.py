"""XGBoost's estimator, model and predictor, importable as ``sagemaker.xgboost`` is.

``from kiln.xgboost import ...`` works the way ``from sagemaker.xgboost import ...`` does;
the classes live in ``kiln.sdk.frameworks.xgboost``.
"""

from __future__ import annotations

from kiln.sdk.frameworks.xgboost import XGBoost, XGBoostModel, XGBoostPredictor

__all__ = ["XGBoost", "XGBoostModel", "XGBoostPredictor"]
