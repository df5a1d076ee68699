"""TensorFlow: ``TensorFlow`` (estimator), ``TensorFlowModel`` and ``TensorFlowPredictor``
(``sagemaker.tensorflow``).

The estimator passes ``model_dir`` as SageMaker does (``<output_path>/<job>/model``; ``model_dir=False``
passes none) and turns ``distribution`` into the toolkit's flags
(``sagemaker_multi_worker_mirrored_strategy_enabled``, ``sagemaker_parameter_server_enabled``); the
training runtime sets ``TF_CONFIG`` from them. The model serves SavedModels with TF Serving's REST
semantics; its code, if any, is ``inference.py`` with ``input_handler``/``output_handler``. The
predictor speaks JSON and names a model of a multi-model archive with ``model_name``.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from kiln.errors import ValidationError
from kiln.sdk.deserializers import BaseDeserializer, JSONDeserializer
from kiln.sdk.frameworks._framework_base import FrameworkEstimator
from kiln.sdk.model import Model
from kiln.sdk.predictor import Predictor
from kiln.sdk.serializers import BaseSerializer, JSONSerializer
from kiln.sdk.session import Session

__all__ = ["TensorFlow", "TensorFlowModel", "TensorFlowPredictor"]

SUPPORTED_DISTRIBUTIONS = ("multi_worker_mirrored_strategy", "parameter_server")


class TensorFlowPredictor(Predictor):
    """JSON in, JSON out (SageMaker's defaults), with TF Serving's model name and version attributes."""

    def __init__(
        self,
        endpoint_name: str,
        sagemaker_session: Session | None = None,
        serializer: BaseSerializer | None = None,
        deserializer: BaseDeserializer | None = None,
        model_name: str | None = None,
        model_version: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            endpoint_name,
            sagemaker_session,
            serializer=serializer or JSONSerializer(),
            deserializer=deserializer or JSONDeserializer(),
            **kwargs,
        )
        attributes = []
        if model_name:
            attributes.append(f"tfs-model-name={model_name}")
        if model_version:
            attributes.append(f"tfs-model-version={model_version}")
        self._model_attributes = ",".join(attributes) or None

    def predict(
        self,
        data: Any,
        initial_args: dict[str, str] | None = None,
        target_model: str | None = None,
        target_variant: str | None = None,
        inference_id: str | None = None,
        custom_attributes: str | None = None,
        **kwargs: Any,
    ) -> Any:
        args = dict(initial_args or {})
        given = custom_attributes or args.get("CustomAttributes")
        if self._model_attributes:
            given = f"{given},{self._model_attributes}" if given else self._model_attributes
        return super().predict(
            data,
            initial_args=args,
            target_model=target_model,
            target_variant=target_variant,
            inference_id=inference_id,
            custom_attributes=given,
            **kwargs,
        )

    def classify(self, data: Any) -> Any:
        raise ValidationError(
            "classify() calls TF Serving's classify API, which Kiln does not serve; use predict()."
        )

    def regress(self, data: Any) -> Any:
        raise ValidationError(
            "regress() calls TF Serving's regress API, which Kiln does not serve; use predict()."
        )


class TensorFlowModel(Model):
    """A SavedModel (``<version>/`` in model.tar.gz) served as SageMaker's TF Serving container does."""

    image_repository = "tensorflow-inference"
    framework = "tensorflow"
    default_base_name = "tensorflow-inference"
    predictor_class = TensorFlowPredictor
    inert_arguments: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        model_data: str | None = None,
        role: str | None = None,
        entry_point: str | None = None,
        image_uri: str | None = None,
        framework_version: str | None = None,
        container_log_level: int = 20,
        predictor_cls: type[Predictor] | None = None,
        **kwargs: Any,
    ) -> None:
        if framework_version is None and image_uri is None:
            raise ValidationError(
                "TensorFlowModel needs framework_version or image_uri (SageMaker's rule), "
                "e.g. framework_version='2.21'."
            )
        super().__init__(
            model_data=model_data,
            role=role,
            entry_point=entry_point,
            image_uri=image_uri,
            framework_version=framework_version,
            container_log_level=container_log_level,
            predictor_cls=predictor_cls,
            **kwargs,
        )


class TensorFlow(FrameworkEstimator):
    """SageMaker's ``sagemaker.tensorflow.TensorFlow``: script mode with ``model_dir`` and ``TF_CONFIG``."""

    default_base_job_name = "tensorflow-training"
    framework_name = "tensorflow"
    image_repository = "tensorflow-training"
    model_class = TensorFlowModel
    inert_arguments: ClassVar[dict[str, Any]] = {"compiler_config": None}  # Training Compiler: GPU-only

    def _serves_training_script(self) -> bool:
        return False  # SageMaker's TF Serving endpoint runs no training code; deploy(entry_point=…) adds some

    def __init__(
        self,
        entry_point: str,
        py_version: str | None = None,
        framework_version: str | None = None,
        model_dir: str | bool | None = None,
        image_uri: str | None = None,
        distribution: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if py_version == "py2":
            raise ValidationError("Python 2 is not supported by TensorFlow 2; use py_version='py3…'.")
        unsupported = sorted(set(distribution or {}) - {*SUPPORTED_DISTRIBUTIONS, "instance_groups"})
        if unsupported:
            raise ValidationError(
                f"distribution {', '.join(unsupported)} is not supported by Kiln's TensorFlow; use "
                '{"multi_worker_mirrored_strategy": {"enabled": True}} or '
                '{"parameter_server": {"enabled": True}}.'
            )
        super().__init__(
            entry_point,
            framework_version=framework_version,
            py_version=py_version,
            image_uri=image_uri,
            distribution=distribution,
            **kwargs,
        )
        self.model_dir = model_dir

    def hyperparameters(self) -> dict[str, str]:
        values = super().hyperparameters()
        extra: dict[str, Any] = {}
        for name in SUPPORTED_DISTRIBUTIONS:
            if name in (self.distribution or {}):
                flag = f"sagemaker_{name}_enabled"
                extra[flag] = bool(self.distribution[name].get("enabled", False))  # type: ignore[index]
        if self.model_dir is not False:
            model_dir = self.model_dir or self._default_model_dir()
            if model_dir:
                extra["model_dir"] = model_dir
        values.update({k: json.dumps(v) for k, v in extra.items()})
        return values

    def _default_model_dir(self) -> str | None:
        """SageMaker's ``_default_s3_path("model")``: ``<output_path>/<job name>/model``."""
        if self._current_job_name is None:
            return None
        return f"{self._output_path()}/{self._current_job_name}/model"

    def _training_request(self, job_name: str, inputs: Any) -> dict[str, Any]:
        self._current_job_name = job_name  # model_dir is named after the job, as in SageMaker
        return super()._training_request(job_name, inputs)

    def _distribution_hyperparameters(self) -> dict[str, str]:
        return {}  # TensorFlow's flags are in hyperparameters(), as SageMaker's TensorFlow puts them
