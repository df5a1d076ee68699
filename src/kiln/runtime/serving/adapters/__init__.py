"""Framework adapters: each framework's default handlers behind one contract (``_base.FrameworkAdapter``).

``find_model`` asks each adapter in turn for the model in the archive (TensorFlow SavedModels,
then PyTorch, XGBoost, scikit-learn); ``adapter_for`` finds the adapter that serves a model a user's
``model_fn`` returned.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiln.runtime.serving.adapters._base import FrameworkAdapter, ModelLoadError
from kiln.runtime.serving.adapters.algorithms import AlgorithmAdapter
from kiln.runtime.serving.adapters.pytorch import USAGE, PyTorchAdapter
from kiln.runtime.serving.adapters.sklearn import SKLearnAdapter
from kiln.runtime.serving.adapters.tensorflow import TensorFlowAdapter
from kiln.runtime.serving.adapters.xgboost import XGBoostAdapter

__all__ = ["FrameworkAdapter", "GenericAdapter", "ModelLoadError", "adapter_for", "find_model"]


class GenericAdapter(FrameworkAdapter):
    """For a model no framework claims (a user's ``model_fn`` and ``predict_fn``): arrays in, codecs out."""

    name = "custom"

    def load(self, model_dir: Path, files: list[Path]) -> Any | None:
        return None

    def owns(self, model: Any) -> bool:
        return False

    def predictor(self, model: Any, as_numpy: bool) -> Callable[[Any], Any]:
        raise ModelLoadError(
            f"model_fn returned a {type(model).__name__}, which is neither a torch module, a TensorFlow "
            "SavedModel, an XGBoost Booster nor has predict(); define predict_fn(data, model) in "
            "code/inference.py."
        )


def _adapters() -> list[FrameworkAdapter]:
    """Fresh adapters, most specific first (a SavedModel folder may also hold other files)."""
    return [TensorFlowAdapter(), PyTorchAdapter(), XGBoostAdapter(), SKLearnAdapter(), AlgorithmAdapter()]


def find_model(model_dir: Path) -> tuple[Any, FrameworkAdapter]:
    """SageMaker's default ``model_fn``: the model found in ``model_dir`` and its adapter."""
    files = sorted(p for p in model_dir.iterdir() if p.is_file()) if model_dir.is_dir() else []
    for adapter in _adapters():
        model = adapter.load(model_dir, files)
        if model is not None:
            return model, adapter
    names = ", ".join(p.name for p in files) or "nothing"
    raise ModelLoadError(
        f"No model file found in {model_dir} (it holds {names}); {USAGE}, a TensorFlow SavedModel in "
        "<version>/ or an XGBoost xgboost-model."
    )


def adapter_for(model: Any) -> FrameworkAdapter | None:
    """The adapter serving ``model`` (one a user's ``model_fn`` returned), or None."""
    return next((adapter for adapter in _adapters() if adapter.owns(model)), None)
