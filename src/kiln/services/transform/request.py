"""CreateTransformJob as one typed request, parsed once whichever door it came through.

The REST API's body, the AWS wire's CreateTransformJob and a pipeline's transform step all become a
``CreateTransformJobRequest``; ``TransformJobService.create`` takes nothing else. Its shape holds
SageMaker's choices and ranges; its validator the rules across members (concurrency × payload) and the
JSONPath filters. The model and the URIs are checked by the service, which needs the database and
the store.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kiln.errors import ValidationError
from kiln.services.job_validation import validate_job_name
from kiln.services.transform.filters import compile_filter

__all__ = ["DEFAULT_MAX_PAYLOAD_MB", "MAX_PAYLOAD_MB", "CreateTransformJobRequest"]

DEFAULT_MAX_PAYLOAD_MB = 6
MAX_PAYLOAD_MB = 100


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class S3DataSourceShape(_Shape):
    S3DataType: Literal["S3Prefix", "ManifestFile"] = "S3Prefix"
    S3Uri: str = Field(min_length=1)


class DataSourceShape(_Shape):
    S3DataSource: S3DataSourceShape


class TransformInputShape(_Shape):
    DataSource: DataSourceShape
    ContentType: str | None = None
    CompressionType: Literal["None", "Gzip"] | None = None
    SplitType: Literal["None", "Line", "RecordIO"] | None = None


class TransformOutputShape(_Shape):
    S3OutputPath: str = Field(min_length=1)
    Accept: str | None = None
    AssembleWith: Literal["None", "Line"] | None = None
    KmsKeyId: str | None = None


class TransformResourcesShape(_Shape):
    InstanceType: str = "local"
    InstanceCount: int = Field(default=1, ge=1, le=64)
    VolumeKmsKeyId: str | None = None


class DataProcessingShape(_Shape):
    InputFilter: str | None = None
    OutputFilter: str | None = None
    JoinSource: Literal["None", "Input"] | None = None


class ModelClientConfigShape(_Shape):
    InvocationsTimeoutInSeconds: int | None = Field(default=None, ge=1, le=3600)
    InvocationsMaxRetries: int | None = Field(default=None, ge=0, le=3)


class CreateTransformJobRequest(_Shape):
    """SageMaker's CreateTransformJob request, checked as far as the request alone allows."""

    TransformJobName: str
    ModelName: str
    TransformInput: TransformInputShape
    TransformOutput: TransformOutputShape
    TransformResources: TransformResourcesShape = TransformResourcesShape()
    MaxConcurrentTransforms: int | None = Field(default=None, ge=0)
    MaxPayloadInMB: int | None = Field(default=None, ge=0, le=MAX_PAYLOAD_MB)
    BatchStrategy: Literal["SingleRecord", "MultiRecord"] | None = None
    Environment: dict[str, str] | None = None
    DataProcessing: DataProcessingShape | None = None
    ModelClientConfig: ModelClientConfigShape | None = None
    Tags: list[dict[str, str]] = []

    @model_validator(mode="after")
    def _check(self) -> CreateTransformJobRequest:
        validate_job_name(self.TransformJobName, "TransformJobName")
        concurrency = self.MaxConcurrentTransforms if self.MaxConcurrentTransforms is not None else 1
        payload = self.MaxPayloadInMB if self.MaxPayloadInMB is not None else DEFAULT_MAX_PAYLOAD_MB
        if max(concurrency, 1) * max(payload, 1) > MAX_PAYLOAD_MB:
            raise ValidationError(
                f"MaxConcurrentTransforms × MaxPayloadInMB is {concurrency * payload}, over SageMaker's "
                f"{MAX_PAYLOAD_MB}; lower one of them"
            )
        processing = self.DataProcessing or DataProcessingShape()
        compile_filter(processing.InputFilter, "InputFilter")
        compile_filter(processing.OutputFilter, "OutputFilter")
        return self

    @property
    def spec(self) -> dict[str, Any]:
        """The request as stored and described: SageMaker's fields, unset optional ones left out."""
        return self.model_dump(exclude_none=True)
