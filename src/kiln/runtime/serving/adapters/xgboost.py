"""XGBoost, as SageMaker's XGBoost container serves a Booster.

The model is ``xgboost-model`` (SageMaker's name: a pickled Booster or XGBoost's own format, tried in
that order as the container does) or ``xgboost-model.json``/``.ubj``, ``model.json``/``.ubj``/``.bst``
in XGBoost's format. Requests are CSV (no header, no label), LIBSVM (``text/libsvm``), JSON (a list
of rows, or ``{"instances": ...}``) or NPY. Answers have the container's shapes: JSON
``{"predictions": [{"score": s}, …]}`` (``s`` a list for multi-output models), JSON Lines one
``{"score": s}`` per line, CSV one prediction per line. A Booster saved through XGBoost's
scikit-learn wrapper with joblib is served by the scikit-learn adapter instead.
"""

from __future__ import annotations

import importlib
import io
import json
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from kiln import codecs
from kiln.codecs import content_types
from kiln.errors import ValidationError
from kiln.runtime.serving.adapters._base import (
    FrameworkAdapter,
    ModelLoadError,
    ShapeReporter,
    decode_array,
    summary,
)

__all__ = ["XGBoostAdapter"]

MODEL_NAMES = (
    "xgboost-model",
    "xgboost-model.json",
    "xgboost-model.ubj",
    "model.json",
    "model.ubj",
    "model.bst",
)
LIBSVM_TYPES = ("text/libsvm", "text/x-libsvm")


class XGBoostAdapter(FrameworkAdapter):
    name = "xgboost"
    input_dtype = np.float32

    def load(self, model_dir: Path, files: list[Path]) -> Any | None:
        by_name = {p.name: p for p in files}
        path = next((by_name[n] for n in MODEL_NAMES if n in by_name), None)
        if path is None:
            return None
        try:
            xgb = importlib.import_module("xgboost")
        except ImportError as e:
            raise ModelLoadError(
                f"The model is an XGBoost model ({path.name}) but XGBoost is not installed where the "
                "endpoint runs; pip install 'kiln[xgboost]'."
            ) from e
        if path.suffix == "":
            try:  # SageMaker's own order: a pickled Booster first
                with path.open("rb") as f:
                    model = pickle.load(f)  # the endpoint owner's own artifact, as in the container
                if isinstance(model, xgb.Booster):
                    return model
            except Exception:
                pass
        booster = xgb.Booster()
        try:
            booster.load_model(str(path))
        except Exception as e:
            raise ModelLoadError(
                f"{path.name} is not an XGBoost model ({summary(e)}); save it with "
                "booster.save_model('xgboost-model.json') or pickle the Booster as xgboost-model."
            ) from e
        return booster

    def owns(self, model: Any) -> bool:
        xgb = sys.modules.get("xgboost")
        return xgb is not None and isinstance(model, xgb.Booster)

    def decode(self, inv: Any) -> None:
        if codecs.canonical_content_type(inv.content_type) in LIBSVM_TYPES:
            inv.data, inv.tfs = _libsvm(inv.body), False
            return
        inv.data, inv.tfs = decode_array(inv.body, inv.content_type, self.input_dtype)
        if inv.data.ndim == 1:  # one row, as CSV of one line or a flat JSON list
            inv.data = inv.data.reshape(1, -1)

    def predictor(self, model: Any, as_numpy: bool) -> Callable[[Any], Any]:
        return _BoosterPredictor(model)

    def encode(self, prediction: Any, inv: Any) -> bytes:
        response_type = inv.response_type
        rows = np.asarray(prediction).tolist()
        if response_type == content_types.JSON:
            return json.dumps({"predictions": [{"score": s} for s in rows]}).encode()
        if response_type == content_types.JSONLINES:
            return "".join(json.dumps({"score": s}) + "\n" for s in rows).encode()
        if response_type == content_types.CSV:
            lines = [",".join(map(str, s)) if isinstance(s, list) else str(s) for s in rows]
            return ("\n".join(lines) + "\n").encode()
        return codecs.encode(prediction, response_type)


def _libsvm(body: bytes) -> Any:
    datasets = importlib.import_module("sklearn.datasets")
    try:
        features, _labels = datasets.load_svmlight_file(io.BytesIO(body), zero_based=True)
    except ValueError as e:
        raise ValidationError(
            f"The body is not LIBSVM ({summary(e)}); send lines like '0 1:0.5 3:1.2' (label, then "
            "index:value pairs)."
        ) from e
    return features


class _BoosterPredictor(ShapeReporter):
    def __init__(self, booster: Any) -> None:
        super().__init__()
        self._xgb = importlib.import_module("xgboost")
        self._booster = booster

    def __call__(self, data: Any) -> Any:
        matrix = data if isinstance(data, self._xgb.DMatrix) else self._xgb.DMatrix(data)
        try:
            prediction = self._booster.predict(matrix, validate_features=False)
        except self._xgb.core.XGBoostError as e:  # wrong feature count and the like
            raise self.rejected(data, e) from e
        self.accepted(data)
        return prediction
