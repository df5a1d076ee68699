"""CreateTrainingJob as one typed request, parsed once whichever door it came through.

The REST API's body, the AWS wire's CreateTrainingJob and a tuning job's trials all become a
``CreateTrainingJobRequest``; ``TrainingJobService.create`` takes nothing else. What the request alone
can tell (its shape, names, hyperparameters, channels, limits) is checked here, once; what needs the
artifact store or the instance-type catalog is checked by the service (``job_validation``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError

from kiln.errors import ValidationError
from kiln.services.job_validation import check_training_request
from kiln.services.request_members import describe_shape_errors

__all__ = [
    "AlgorithmSpecificationShape",
    "ChannelShape",
    "CheckpointConfigShape",
    "CreateTrainingJobRequest",
    "MetricDefinitionShape",
    "OutputDataConfigShape",
    "ResourceConfigShape",
    "RetryStrategyShape",
    "StoppingConditionShape",
    "TensorBoardOutputConfigShape",
    "TrainingJobSettingsShape",
    "describe_shape_errors",
    "parse_training_request",
]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetricDefinitionShape(_Shape):
    Name: str = Field(min_length=1, max_length=255)
    Regex: str = Field(min_length=1, max_length=500)


class AlgorithmSpecificationShape(_Shape):
    TrainingInputMode: Literal["File"] = "File"
    TrainingImage: str | None = None
    MetricDefinitions: list[MetricDefinitionShape] = []
    EnableSageMakerMetricsTimeSeries: bool | None = None
    # Run verbatim in the host's private /opt/ml instead of the toolkit's script (SageMaker SDK v3's
    # ModelTrainer runs its sm_train.sh this way); SageMaker's limits: 100 items of 256 characters.
    ContainerEntrypoint: list[str] | None = Field(default=None, min_length=1, max_length=100)
    ContainerArguments: list[str] | None = Field(default=None, min_length=1, max_length=100)


class S3DataSourceShape(_Shape):
    S3Uri: str = Field(min_length=1)
    S3DataType: Literal["S3Prefix"] = "S3Prefix"
    S3DataDistributionType: str = "FullyReplicated"


class DataSourceShape(_Shape):
    S3DataSource: S3DataSourceShape


class ChannelShape(_Shape):
    ChannelName: str = Field(min_length=1, max_length=64)
    DataSource: DataSourceShape
    ContentType: str | None = None
    CompressionType: Literal["None"] | None = None
    InputMode: Literal["File"] | None = None
    RecordWrapperType: str | None = None


class OutputDataConfigShape(_Shape):
    S3OutputPath: str = Field(min_length=1)
    KmsKeyId: str | None = None


class ResourceConfigShape(_Shape):
    InstanceType: str
    InstanceCount: int = Field(default=1, ge=1, le=64)
    VolumeSizeInGB: int = 30


class StoppingConditionShape(_Shape):
    MaxRuntimeInSeconds: int = Field(default=86400, ge=1)


class CheckpointConfigShape(_Shape):
    S3Uri: str
    LocalPath: str | None = None


class RetryStrategyShape(_Shape):
    MaximumRetryAttempts: int = Field(ge=0, le=30)


class TensorBoardOutputConfigShape(_Shape):
    S3OutputPath: str
    LocalPath: str | None = None


class TrainingJobSettingsShape(_Shape):
    """The members a CreateTrainingJob request shares with a tuning job's TrainingJobDefinition
    (SageMaker's HyperParameterTrainingJobDefinition), written once for both: a trial's training job
    takes them over as they are."""

    AlgorithmSpecification: AlgorithmSpecificationShape = AlgorithmSpecificationShape()
    RoleArn: str | None = None  # accepted for compatibility; Kiln has no IAM
    InputDataConfig: list[ChannelShape] = []
    OutputDataConfig: OutputDataConfigShape
    ResourceConfig: ResourceConfigShape
    StoppingCondition: StoppingConditionShape = StoppingConditionShape()
    CheckpointConfig: CheckpointConfigShape | None = None
    Environment: dict[str, str] = {}
    RetryStrategy: RetryStrategyShape | None = None


class CreateTrainingJobRequest(TrainingJobSettingsShape):
    """SageMaker's CreateTrainingJob request, checked as far as the request alone allows.

    Kiln's own checks run as validators and raise ``kiln.errors.ValidationError``, which pydantic lets
    through unchanged: the first problem found is reported in the check's own words (the field, the
    value, what to do), whichever door the request came through.
    """

    TrainingJobName: str
    # Any values here, so that the check below names the hyperparameter whose value is not a string.
    HyperParameters: dict[str, Any] = {}
    TensorBoardOutputConfig: TensorBoardOutputConfigShape | None = None
    Tags: list[dict[str, str]] = []
    # Kiln's: order among jobs waiting for capacity, higher first (then first come, first served).
    Priority: int | None = Field(default=None, ge=-1000, le=1000)
    # Kiln's: SageMaker SDK arguments Kiln accepted but has no counterpart for; stored and echoed.
    SdkArguments: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _check(self) -> CreateTrainingJobRequest:
        check_training_request(self)
        return self

    @property
    def spec(self) -> dict[str, Any]:
        """The request as stored and described: SageMaker's fields, unset optional ones left out."""
        return self.model_dump(exclude_none=True)


def parse_training_request(data: Any) -> CreateTrainingJobRequest:
    """The typed request from a JSON-shaped value (an API body, a tuning job's trial); a value that
    does not fit the shape is a ValidationError naming the fields."""
    try:
        return CreateTrainingJobRequest.model_validate(data)
    except PydanticValidationError as e:
        raise ValidationError(describe_shape_errors(e.errors())) from None
