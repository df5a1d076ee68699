"""``TrainingInput``: one channel of a training job (SageMaker's ``sagemaker.inputs.TrainingInput``)."""

from __future__ import annotations

from typing import Any

from kiln.errors import ValidationError

__all__ = ["TensorBoardOutputConfig", "TrainingInput", "channels_from_inputs"]


class TrainingInput:
    def __init__(
        self,
        s3_data: str,
        distribution: str | None = None,
        compression: str | None = None,
        content_type: str | None = None,
        record_wrapping: str | None = None,
        s3_data_type: str = "S3Prefix",
        input_mode: str | None = None,
        **_ignored: Any,
    ) -> None:
        self.config: dict[str, Any] = {
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": s3_data_type,
                    "S3Uri": s3_data,
                    "S3DataDistributionType": distribution or "FullyReplicated",
                }
            }
        }
        if compression:
            self.config["CompressionType"] = compression
        if content_type:
            self.config["ContentType"] = content_type
        if record_wrapping:
            self.config["RecordWrapperType"] = record_wrapping
        if input_mode:
            self.config["InputMode"] = input_mode


class TensorBoardOutputConfig:
    """Where a job's TensorBoard event files go (SageMaker's ``sagemaker.debugger`` class)."""

    def __init__(self, s3_output_path: str, container_local_output_path: str | None = None) -> None:
        self.s3_output_path = s3_output_path
        self.container_local_output_path = container_local_output_path

    def to_request(self) -> dict[str, str]:
        config = {"S3OutputPath": self.s3_output_path}
        if self.container_local_output_path:
            config["LocalPath"] = self.container_local_output_path
        return config


def _channel(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, TrainingInput):
        return {"ChannelName": name, **value.config}
    if isinstance(value, str) or hasattr(value, "expr"):  # a URI, or a pipeline's reference to one
        return {"ChannelName": name, **TrainingInput(value).config}
    raise ValidationError(
        f"input for channel {name!r} must be a URI string or a TrainingInput, not {type(value).__name__}"
    )


def channels_from_inputs(inputs: Any) -> list[dict[str, Any]]:
    """SageMaker's rules: a string or TrainingInput is channel ``training``; a dict maps names to inputs."""
    if inputs is None:
        return []
    if isinstance(inputs, (str, TrainingInput)):
        return [_channel("training", inputs)]
    if isinstance(inputs, dict):
        return [_channel(str(name), value) for name, value in inputs.items()]
    raise ValidationError(
        f"fit(inputs=…) takes a URI, a TrainingInput or a dict of them, not {type(inputs).__name__}"
    )
