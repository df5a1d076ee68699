"""Kiln's first-party built-in algorithms (Linear Learner, K-Means, PCA), served like any framework model.

The archive holds ``model_algo-1`` (SageMaker's name; ``kiln.algorithms.model_file``). Decoding and
the answers' shapes are the algorithms' own (``kiln.algorithms.inference``), so an endpoint and a
batch transform of such a model speak SageMaker's formats for that algorithm, RecordIO-protobuf
included. Built-in XGBoost models are served by the XGBoost adapter.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiln.algorithms.inference import (
    RESPONSE_TYPES,
    AlgorithmModel,
    decode_request,
    encode_response,
    load_algorithm_model,
)
from kiln.algorithms.model_file import MODEL_FILE
from kiln.runtime.serving.adapters._base import FrameworkAdapter, ModelLoadError

__all__ = ["AlgorithmAdapter"]


class AlgorithmAdapter(FrameworkAdapter):
    name = "algorithm"
    response_types = RESPONSE_TYPES

    def __init__(self) -> None:
        self._width = 0

    def load(self, model_dir: Path, files: list[Path]) -> Any | None:
        path = next((p for p in files if p.name == MODEL_FILE), None)
        if path is None:
            return None
        model = load_algorithm_model(path)
        if model is None:
            raise ModelLoadError(
                f"{MODEL_FILE} is not a Kiln built-in algorithm model (SageMaker's own MXNet artifacts do "
                "not load on Kiln); train the algorithm on Kiln to get one"
            )
        self._width = model.feature_dim
        return model

    def owns(self, model: Any) -> bool:
        return isinstance(model, AlgorithmModel)

    def decode(self, inv: Any) -> None:
        inv.data, inv.tfs = decode_request(inv.body, inv.content_type, self._width), False

    def predictor(self, model: Any, as_numpy: bool) -> Callable[[Any], Any]:
        return model.predict  # type: ignore[no-any-return]

    def encode(self, prediction: Any, inv: Any) -> bytes:
        top_key = "projections" if prediction and "projection" in prediction[0] else "predictions"
        return encode_response(list(prediction), top_key, inv.response_type)
