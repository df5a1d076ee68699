"""scikit-learn, as SageMaker's scikit-learn container serves it.

The model is ``model.joblib`` (or the single ``*.joblib``/``*.pkl``) holding a fitted estimator; the
default ``predict_fn`` calls ``predict`` (a user's ``predict_fn`` may call ``predict_proba``). This
adapter also serves any other object with ``predict`` that a user's ``model_fn`` returns.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiln.runtime.serving.adapters._base import FrameworkAdapter, ModelLoadError, ShapeReporter, pick_file

__all__ = ["SKLearnAdapter"]

SKLEARN_SUFFIXES = (".joblib", ".pkl")


class SKLearnAdapter(FrameworkAdapter):
    name = "sklearn"

    def load(self, model_dir: Path, files: list[Path]) -> Any | None:
        path = pick_file(files, "model.joblib", SKLEARN_SUFFIXES)
        if path is None:
            return None
        model = importlib.import_module("joblib").load(path)
        if not callable(getattr(model, "predict", None)):
            raise ModelLoadError(
                f"{path.name} holds a {type(model).__name__}, which has no predict(); save a fitted "
                "scikit-learn estimator with joblib.dump(model, 'model.joblib'), or define predict_fn."
            )
        return model

    def owns(self, model: Any) -> bool:
        return callable(getattr(model, "predict", None))

    def predictor(self, model: Any, as_numpy: bool) -> Callable[[Any], Any]:
        return _EstimatorPredictor(model)


class _EstimatorPredictor(ShapeReporter):
    def __init__(self, model: Any) -> None:
        super().__init__()
        self._predict = model.predict

    def __call__(self, data: Any) -> Any:
        try:
            prediction = self._predict(data)
        except (ValueError, TypeError, IndexError) as e:  # wrong feature count, 1-D input, bad dtype
            raise self.rejected(data, e) from e
        self.accepted(data)
        return prediction
