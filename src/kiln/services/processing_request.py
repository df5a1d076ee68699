"""CreateProcessingJob as one typed request, parsed once whichever door it came through.

The REST API's body, the AWS wire's CreateProcessingJob and a pipeline's processing step all become a
``CreateProcessingJobRequest``; ``ProcessingJobService.create`` takes nothing else. SageMaker's rules
that the request alone can tell (members, names, paths under /opt/ml/processing/, modes, limits) run
on the request as sent (``processing_validation.check_processing_request``), so every refusal keeps its
words; the instance type and the URIs are checked by the service, which needs the catalog and the
store. Members inside the request that Kiln does not act on are kept (``extra="allow"``) and stored.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic import ValidationError as PydanticValidationError

from kiln.errors import ValidationError
from kiln.services.processing_validation import check_processing_request
from kiln.services.request_members import describe_shape_errors

__all__ = ["CreateProcessingJobRequest", "parse_processing_request"]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow")


class AppSpecificationShape(_Shape):
    ImageUri: str = ""
    ContainerEntrypoint: list[str] | None = None
    ContainerArguments: list[str] | None = None


class S3InputShape(_Shape):
    S3Uri: str = ""
    LocalPath: str
    S3DataType: str
    S3InputMode: str | None = None
    S3DataDistributionType: str | None = None
    S3CompressionType: str | None = None


class ProcessingInputShape(_Shape):
    InputName: str
    S3Input: S3InputShape


class S3OutputShape(_Shape):
    S3Uri: str = ""
    LocalPath: str
    S3UploadMode: str


class ProcessingOutputShape(_Shape):
    OutputName: str
    S3Output: S3OutputShape


class ProcessingOutputConfigShape(_Shape):
    Outputs: list[ProcessingOutputShape] | None = None
    KmsKeyId: str | None = None


class ClusterConfigShape(_Shape):
    InstanceCount: int
    InstanceType: str = ""
    VolumeSizeInGB: int | None = None


class ProcessingResourcesShape(_Shape):
    ClusterConfig: ClusterConfigShape


class StoppingConditionShape(_Shape):
    MaxRuntimeInSeconds: int | None = None


class CreateProcessingJobRequest(BaseModel):
    """SageMaker's CreateProcessingJob request (botocore's members, in the order Describe echoes them)."""

    model_config = ConfigDict(extra="forbid")

    ProcessingInputs: list[ProcessingInputShape] | None = None
    ProcessingOutputConfig: ProcessingOutputConfigShape | None = None
    ProcessingJobName: str
    ProcessingResources: ProcessingResourcesShape
    StoppingCondition: StoppingConditionShape | None = None
    AppSpecification: AppSpecificationShape
    Environment: dict[str, str] | None = None
    NetworkConfig: dict[str, Any] | None = None
    RoleArn: str | None = None
    ExperimentConfig: dict[str, Any] | None = None
    Tags: list[dict[str, Any]] | None = None

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        if isinstance(data, dict):
            check_processing_request(data, cls.model_fields)
        return data

    @property
    def inputs(self) -> list[ProcessingInputShape]:
        return self.ProcessingInputs or []

    @property
    def outputs(self) -> list[ProcessingOutputShape]:
        config = self.ProcessingOutputConfig
        return (config.Outputs or []) if config is not None else []

    @property
    def spec(self) -> dict[str, Any]:
        """The request as stored and described: the members as sent, nothing added."""
        return self.model_dump(exclude_unset=True)


def parse_processing_request(data: Any) -> CreateProcessingJobRequest:
    """The typed request from a JSON-shaped value (an API body, a pipeline step's arguments); a value
    that does not fit the shape is a ValidationError naming the fields."""
    try:
        return CreateProcessingJobRequest.model_validate(data)
    except PydanticValidationError as e:
        raise ValidationError(describe_shape_errors(e.errors())) from None
