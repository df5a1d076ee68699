"""Estimators of the built-in algorithms: SageMaker's ``Estimator(image_uri=…)`` with no entry point.

The image names the algorithm (``kiln.image_uris.retrieve``); there is no source to upload, the
hyperparameters go as plain strings (SageMaker's ``Estimator`` and Amazon estimators send them so, not
JSON-encoded as Framework estimators do), and the job's metric definitions are the algorithm's own,
which the server adds. The model serves with Kiln's default handlers for the algorithm's artifact.
"""

from __future__ import annotations

from typing import Any, ClassVar

from kiln.algorithms import algorithm_for_image
from kiln.errors import ValidationError
from kiln.sdk.estimator import Estimator
from kiln.sdk.model import Model
from kiln.sdk.predictor import Predictor
from kiln.sdk.session import Session

__all__ = ["AlgorithmEstimator"]


class AlgorithmEstimator(Estimator):
    """A built-in algorithm's training job, chosen by ``image_uri``."""

    needs_entry_point: ClassVar[bool] = False  # the image is the code: no script, no source upload
    default_base_job_name: ClassVar[str] = "kiln-algorithm"
    predictor_class: ClassVar[type[Predictor]] = Predictor

    def __init__(
        self,
        image_uri: str,
        role: str | None = None,
        instance_count: int = 1,
        instance_type: str = "local",
        hyperparameters: dict[str, Any] | None = None,
        entry_point: str | None = None,
        **kwargs: Any,
    ) -> None:
        algorithm = algorithm_for_image(image_uri)
        if algorithm is None:
            raise ValidationError(
                f"image_uri {image_uri!r} is not a built-in algorithm's image; use "
                "kiln.image_uris.retrieve('xgboost' | 'linear-learner' | 'kmeans' | 'pca', ...) or give an "
                "entry_point to run your own script"
            )
        self.algorithm = algorithm
        self.image_uri = image_uri
        kwargs.setdefault("base_job_name", None)
        super().__init__(
            entry_point or "",
            hyperparameters=hyperparameters,
            instance_count=instance_count,
            instance_type=instance_type,
            role=role,
            **kwargs,
        )

    @classmethod
    def from_description(cls, description: dict[str, Any], session: Session) -> Estimator:
        """As ``Estimator.from_description``, with the algorithm's image (``attach``, a tuner's best)."""
        estimator = super().from_description(description, session)
        assert isinstance(estimator, AlgorithmEstimator)
        image = str(description.get("AlgorithmSpecification", {}).get("TrainingImage") or "")
        algorithm = algorithm_for_image(image)
        if algorithm is None:
            raise ValidationError(
                f"training job {description.get('TrainingJobName')!r} ran image {image!r}, which is not a "
                "built-in algorithm's; attach it with Estimator.attach instead"
            )
        estimator.algorithm = algorithm
        estimator.image_uri = image
        for name, default in (("data_location", None), ("feature_dim", None), ("mini_batch_size", None)):
            setattr(estimator, name, default)
        return estimator

    def _base_name(self) -> str:
        return self.base_job_name or self.image_uri.rsplit("/", 1)[-1].split(":")[0]

    def hyperparameters(self) -> dict[str, str]:
        """Plain strings, as SageMaker's ``Estimator`` sends them (True → "True")."""
        return {str(k): str(v) for k, v in self._hyperparameters.items() if v is not None}

    def training_image_uri(self) -> str:
        return self.image_uri

    def _training_request(self, job_name: str, inputs: Any) -> dict[str, Any]:
        request = super()._training_request(job_name, inputs)
        request["AlgorithmSpecification"]["TrainingImage"] = self.image_uri
        return request

    def create_model(
        self,
        entry_point: str | None = None,
        source_dir: str | None = None,
        dependencies: list[str] | None = None,
        role: str | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> Model:
        """The trained model with the algorithm's image; it serves with Kiln's default handlers."""
        kwargs.setdefault("predictor_cls", self.predictor_class)
        return Model(
            model_data=self.model_data,
            image_uri=self.image_uri,
            entry_point=entry_point,
            source_dir=source_dir,
            dependencies=dependencies,
            role=role or self.role,
            name=self._model_name(name),
            sagemaker_session=self.sagemaker_session,
            **kwargs,
        )


Estimator.algorithm_class = AlgorithmEstimator  # Estimator(image_uri=…) with no entry point builds one
