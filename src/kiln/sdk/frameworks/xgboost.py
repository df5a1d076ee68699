"""XGBoost: ``XGBoost`` (estimator), ``XGBoostModel`` and ``XGBoostPredictor`` (``sagemaker.xgboost``).

``XGBoost(framework_version=…)`` with no ``entry_point`` runs SageMaker's XGBoost algorithm (algorithm
mode, ``kiln.algorithms.xgboost``) instead of a script.

Script mode as SageMaker's XGBoost container runs it: ``framework_version`` (``"1.7-1"``: version and
container revision) is required, ``py_version`` is ``py3``, and the training script is also the
inference script (its ``model_fn`` or Kiln's default Booster loader). The predictor's defaults are
SageMaker's: LIBSVM text in, CSV out.
"""

from __future__ import annotations

from typing import Any, ClassVar

from kiln.errors import ValidationError
from kiln.sdk.algorithm_estimator import AlgorithmEstimator
from kiln.sdk.deserializers import BaseDeserializer, CSVDeserializer
from kiln.sdk.frameworks._framework_base import FrameworkEstimator
from kiln.sdk.image_uris import retrieve
from kiln.sdk.model import Model
from kiln.sdk.predictor import Predictor
from kiln.sdk.serializers import BaseSerializer, LibSVMSerializer
from kiln.sdk.session import Session

__all__ = ["XGBoost", "XGBoostModel", "XGBoostPredictor"]


class XGBoostPredictor(Predictor):
    """LIBSVM in, CSV out: SageMaker's defaults for XGBoost endpoints."""

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
            serializer=serializer or LibSVMSerializer(),
            deserializer=deserializer or CSVDeserializer(),
            **kwargs,
        )


class XGBoostModel(Model):
    """SageMaker's ``sagemaker.xgboost.XGBoostModel``: its argument names and defaults."""

    image_repository = "sagemaker-xgboost"
    framework = "xgboost"
    default_base_name = "sagemaker-xgboost"
    predictor_class = XGBoostPredictor
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


class XGBoost(FrameworkEstimator):
    """SageMaker's ``sagemaker.xgboost.XGBoost`` (framework mode: your own training script)."""

    default_base_job_name = "sagemaker-xgboost"
    image_repository = "sagemaker-xgboost"
    framework_name = "xgboost"
    model_class = XGBoostModel
    inert_arguments: ClassVar[dict[str, Any]] = {"image_uri_region": None}  # Kiln has no regions

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        """With no ``entry_point``, SageMaker's XGBoost algorithm (algorithm mode): the built-in
        algorithm's estimator for the image of ``framework_version``, with these arguments."""
        if args or kwargs.get("entry_point") is not None:
            return super().__new__(cls)
        kwargs.pop("entry_point", None)
        kwargs.pop("py_version", None)
        version = kwargs.pop("framework_version", None)
        if version is None:
            raise ValidationError("XGBoost needs framework_version, e.g. '1.7-1'")
        image = kwargs.pop("image_uri", None) or retrieve("xgboost", kwargs.pop("region", None), version)
        kwargs.setdefault("predictor_cls", None)
        predictor = kwargs.pop("predictor_cls") or XGBoostPredictor
        estimator = AlgorithmEstimator(image, **kwargs)
        estimator.predictor_class = predictor  # type: ignore[misc]
        return estimator

    def __init__(
        self,
        entry_point: str,
        framework_version: str,
        source_dir: str | None = None,
        hyperparameters: dict[str, Any] | None = None,
        py_version: str = "py3",
        image_uri: str | None = None,
        **kwargs: Any,
    ) -> None:
        if py_version != "py3":
            raise ValidationError(f"Unsupported Python version: {py_version}.")
        super().__init__(
            entry_point,
            framework_version=framework_version,
            py_version=py_version,
            image_uri=image_uri,
            source_dir=source_dir,
            hyperparameters=hyperparameters,
            **kwargs,
        )

    def training_image_uri(self) -> str:
        # SageMaker's XGBoost tags are "<version>-<revision>[-cpu-py3]"; the version leads as for the others.
        return self.image_uri or f"{self.image_repository}:{self.framework_version}-cpu-{self.py_version}"
