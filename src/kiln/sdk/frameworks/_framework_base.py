"""What the TensorFlow, scikit-learn and XGBoost estimators share: SageMaker's version rule and image.

SageMaker's framework estimators require ``framework_version`` and ``py_version``, or an
``image_uri`` (``fw_utils.validate_version_or_image_args``), and run the job in the framework's image.
Kiln names the same image in ``AlgorithmSpecification.TrainingImage``
(``<repository>:<version>-cpu-<py_version>``, or the ``image_uri`` given); the training runtime reads
the framework and version from it (``kiln.runtime.training.frameworks``). ``Framework`` supplies
SageMaker's rule that the training entry point is also the inference code.
"""

from __future__ import annotations

from typing import Any, ClassVar

from kiln.errors import ValidationError
from kiln.sdk.framework import Framework

__all__ = ["FrameworkEstimator", "validate_version_or_image_args"]


def validate_version_or_image_args(
    framework_version: str | None, py_version: str | None, image_uri: str | None
) -> None:
    if (framework_version is None or py_version is None) and image_uri is None:
        raise ValidationError(
            "framework_version or py_version was None, yet image_uri was also None. "
            "Either specify both framework_version and py_version, or specify image_uri."
        )


class FrameworkEstimator(Framework):
    """A ``Framework`` estimator that names its framework's image, so the job runs in that framework."""

    image_repository: ClassVar[str]

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
