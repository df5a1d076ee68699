"""What the TensorFlow, scikit-learn and XGBoost estimators share: SageMaker's version rule and image.

SageMaker's framework estimators require ``framework_version`` and ``py_version``, or an
``image_uri`` (``fw_utils.validate_version_or_image_args``), and run the job in the framework's image.
Kiln names the same image in ``AlgorithmSpecification.TrainingImage``
(``<repository>:<version>-cpu-<py_version>``, or the ``image_uri`` given); the training runtime reads
the framework and version from it (``kiln.runtime.training.frameworks``). As in SageMaker, the model
built from such an estimator serves with the training entry point as its inference code.
"""

from __future__ import annotations

from typing import Any, ClassVar

from kiln.errors import ValidationError
from kiln.sdk.estimator import Estimator
from kiln.sdk.model import Model

__all__ = ["FrameworkEstimator", "validate_version_or_image_args"]


def validate_version_or_image_args(
    framework_version: str | None, py_version: str | None, image_uri: str | None
) -> None:
    if (framework_version is None or py_version is None) and image_uri is None:
        raise ValidationError(
            "framework_version or py_version was None, yet image_uri was also None. "
            "Either specify both framework_version and py_version, or specify image_uri."
        )


class FrameworkEstimator(Estimator):
    """A script-mode estimator that runs in its framework's environment and builds ``model_class``."""

    image_repository: ClassVar[str]
    model_class: ClassVar[type[Model]]
    serves_training_script: ClassVar[bool] = True  # SageMaker's create_model reuses the entry point

    def __init__(
        self,
        entry_point: str,
        framework_version: str | None = None,
        py_version: str | None = None,
        image_uri: str | None = None,
        **kwargs: Any,
    ) -> None:
        validate_version_or_image_args(framework_version, py_version, image_uri)
        self.image_uri = image_uri
        super().__init__(entry_point, framework_version=framework_version, py_version=py_version, **kwargs)

    def training_image_uri(self) -> str:
        if self.image_uri:
            return self.image_uri
        return f"{self.image_repository}:{self.framework_version}-cpu-{self.py_version}"

    def _training_request(self, job_name: str, inputs: Any) -> dict[str, Any]:
        request = super()._training_request(job_name, inputs)
        request["AlgorithmSpecification"]["TrainingImage"] = self.training_image_uri()
        return request

    def create_model(
        self, entry_point: str | None = None, source_dir: str | None = None, **kwargs: Any
    ) -> Any:
        """The trained model as this framework's ``Model``, with the training script as its
        inference code unless another ``entry_point`` is given (SageMaker's rule)."""
        if entry_point is None and self.serves_training_script:
            entry_point, source_dir = self.entry_point, source_dir or self.source_dir
            kwargs.setdefault("dependencies", self.dependencies)
        return self.model_class(
            model_data=self.model_data,
            entry_point=entry_point,
            source_dir=source_dir,
            role=self.role,
            framework_version=self.framework_version,
            py_version=self.py_version,
            sagemaker_session=self.sagemaker_session,
            **kwargs,
        )
