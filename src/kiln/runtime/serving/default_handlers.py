"""Kiln's default handlers, used for every function the user's ``code/inference.py`` leaves out.

They follow SageMaker's framework containers, one adapter per framework (``adapters/``): PyTorch
(TorchScript ``model.pt``), TensorFlow (SavedModels with TF Serving's REST semantics), XGBoost (a
Booster in ``xgboost-model``) and scikit-learn (``model.joblib``). This module is the handler chain's
view of them: the model found in an archive and the adapter that feeds and answers it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiln.runtime.serving.adapters import FrameworkAdapter, adapter_for, find_model
from kiln.runtime.serving.adapters._base import ModelLoadError
from kiln.runtime.serving.adapters.pytorch import limit_torch_threads, tensor_converter

__all__ = [
    "ModelLoadError",
    "default_predictor",
    "limit_torch_threads",
    "load_default_model",
    "load_model_and_adapter",
    "model_adapter",
    "tensor_converter",
]


def load_model_and_adapter(model_dir: Path) -> tuple[Any, FrameworkAdapter]:
    return find_model(model_dir)


def load_default_model(model_dir: Path) -> Any:
    """SageMaker's default ``model_fn``: the model found in ``model_dir``."""
    return find_model(model_dir)[0]


def model_adapter(model: Any) -> FrameworkAdapter | None:
    return adapter_for(model)


def default_predictor(model: Any, adapter: FrameworkAdapter | None, as_numpy: bool) -> Callable[[Any], Any]:
    """The default ``predict_fn`` with ``model`` bound.

    ``as_numpy``: hand back numpy instead of tensors (Kiln's own ``output_fn`` wants nothing else).
    """
    if adapter is None:
        raise ModelLoadError(
            f"model_fn returned a {type(model).__name__}, which is neither a torch module, a TensorFlow "
            "SavedModel, an XGBoost Booster nor has predict(); define predict_fn(data, model) in "
            "code/inference.py."
        )
    return adapter.predictor(model, as_numpy)
