"""PyTorch: ``PyTorch`` (estimator), ``PyTorchModel`` and ``PyTorchPredictor`` (``sagemaker.pytorch``)."""

from __future__ import annotations

from typing import Any, ClassVar

from kiln.sdk.deserializers import BaseDeserializer, NumpyDeserializer
from kiln.sdk.framework import Framework
from kiln.sdk.model import Model
from kiln.sdk.predictor import Predictor
from kiln.sdk.serializers import BaseSerializer, NumpySerializer
from kiln.sdk.session import Session

__all__ = ["PyTorch", "PyTorchModel", "PyTorchPredictor"]


class PyTorchPredictor(Predictor):
    """NumPy in, NumPy out: SageMaker's defaults for PyTorch endpoints."""

    def __init__(
        self,
        endpoint_name: str,
        sagemaker_session: Session | None = None,
        serializer: BaseSerializer | None = None,
        deserializer: BaseDeserializer | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            endpoint_name,
            sagemaker_session,
            serializer=serializer or NumpySerializer(),
            deserializer=deserializer or NumpyDeserializer(),
            **kwargs,
        )


class PyTorchModel(Model):
    """A PyTorch model: TorchScript or a state dict with ``model_fn``; SageMaker's argument order."""

    framework = "pytorch"
    default_base_name = "pytorch-inference"
    predictor_class = PyTorchPredictor
    inert_arguments: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        model_data: str | None = None,
        role: str | None = None,
        entry_point: str | None = None,
        framework_version: str | None = None,
        py_version: str | None = None,
        image_uri: str | None = None,
        predictor_cls: type[Predictor] | None = None,
        model_server_workers: int | None = None,
        **kwargs: Any,
    ) -> None:
        env = dict(kwargs.pop("env", None) or {})
        if model_server_workers is not None:
            env["SAGEMAKER_MODEL_SERVER_WORKERS"] = str(model_server_workers)
        super().__init__(
            model_data=model_data,
            role=role,
            entry_point=entry_point,
            framework_version=framework_version,
            py_version=py_version,
            image_uri=image_uri,
            predictor_cls=predictor_cls,
            env=env,
            **kwargs,
        )


class PyTorch(Framework):
    """SageMaker's ``sagemaker.pytorch.PyTorch``: a script-mode estimator with PyTorch defaults."""

    default_base_job_name = "pytorch-training"
    framework_name = "pytorch"
    model_class = PyTorchModel
    inert_arguments: ClassVar[dict[str, Any]] = {
        "compiler_config": None,
        "training_recipe": None,
        "recipe_overrides": None,
    }

    def __init__(
        self,
        entry_point: str,
        framework_version: str | None = None,
        py_version: str | None = None,
        source_dir: str | None = None,
        hyperparameters: dict[str, Any] | None = None,
        image_uri: str | None = None,
        distribution: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if image_uri is not None:
            kwargs["image_uri"] = image_uri  # stored; Kiln runs its own PyTorch runtime
        super().__init__(
            entry_point,
            framework_version=framework_version,
            py_version=py_version,
            source_dir=source_dir,
            hyperparameters=hyperparameters,
            distribution=distribution,
            **kwargs,
        )
