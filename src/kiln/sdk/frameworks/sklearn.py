"""scikit-learn: ``SKLearn`` (estimator), ``SKLearnModel`` and ``SKLearnPredictor`` (``sagemaker.sklearn``).

As in SageMaker, one instance only (scikit-learn does not train across hosts), ``py_version`` ``py3``,
and the training script is also the inference script: its ``model_fn`` / ``predict_fn`` (under an
``if __name__ == "__main__":`` guard for the training part) serve the model, and without them Kiln's
default handlers load ``model.joblib``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from kiln.errors import ValidationError
from kiln.sdk.deserializers import BaseDeserializer, NumpyDeserializer
from kiln.sdk.frameworks._framework_base import FrameworkEstimator
from kiln.sdk.model import Model
from kiln.sdk.predictor import Predictor
from kiln.sdk.serializers import BaseSerializer, NumpySerializer
from kiln.sdk.session import Session

__all__ = ["SKLearn", "SKLearnModel", "SKLearnPredictor"]


class SKLearnPredictor(Predictor):
    """NumPy in, NumPy out: SageMaker's defaults for scikit-learn endpoints."""

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


class SKLearnModel(Model):
    """SageMaker's ``sagemaker.sklearn.SKLearnModel``: its argument names and defaults."""

    image_repository = "sagemaker-scikit-learn"
    framework = "sklearn"
    default_base_name = "sagemaker-scikit-learn"
    predictor_class = SKLearnPredictor
    inert_arguments: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        model_data: str | None = None,
        role: str | None = None,
        entry_point: str | None = None,
        framework_version: str | None = None,
        py_version: str = "py3",
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


class SKLearn(FrameworkEstimator):
    """SageMaker's ``sagemaker.sklearn.SKLearn``."""

    default_base_job_name = "sagemaker-scikit-learn"
    image_repository = "sagemaker-scikit-learn"
    framework_name = "sklearn"
    model_class = SKLearnModel
    inert_arguments: ClassVar[dict[str, Any]] = {"image_uri_region": None}  # Kiln has no regions

    def __init__(
        self,
        entry_point: str,
        framework_version: str | None = None,
        py_version: str | None = "py3",
        source_dir: str | None = None,
        hyperparameters: dict[str, Any] | None = None,
        image_uri: str | None = None,
        **kwargs: Any,
    ) -> None:
        if py_version and py_version != "py3":
            raise ValidationError(
                "Scikit-learn image only supports Python 3. Please use 'py3' for py_version."
            )
        if kwargs.get("instance_count", 1) != 1:
            raise ValidationError(
                "Scikit-Learn does not support distributed training. Please remove the "
                "'instance_count' argument or set 'instance_count=1' when initializing SKLearn."
            )
        super().__init__(
            entry_point,
            framework_version=framework_version,
            py_version=py_version,
            image_uri=image_uri,
            source_dir=source_dir,
            hyperparameters=hyperparameters,
            **kwargs,
        )
