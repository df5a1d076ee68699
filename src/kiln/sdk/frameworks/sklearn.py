"""scikit-learn: ``SKLearn`` (estimator), ``SKLearnModel`` and ``SKLearnPredictor`` (``sagemaker.sklearn``).

As in SageMaker, one instance only (scikit-learn does not train across hosts), ``py_version`` ``py3``,
and the training script is also the inference script: its ``model_fn`` / ``predict_fn`` (under an
``if __name__ == "__main__":`` guard for the training part) serve the model, and without them Kiln's
default handlers load ``model.joblib``.
"""

from __future__ import annotations

from typing import Any

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
    framework = "sklearn"
    predictor_class = SKLearnPredictor


class SKLearn(FrameworkEstimator):
    """SageMaker's ``sagemaker.sklearn.SKLearn``."""

    default_base_job_name = "sagemaker-scikit-learn"
    image_repository = "sagemaker-scikit-learn"
    model_class = SKLearnModel

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
