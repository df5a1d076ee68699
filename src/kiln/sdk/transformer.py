"""``Transformer``: batch transform with a registered model (SageMaker v2's ``sagemaker.transformer``).

The names and defaults are the SageMaker SDK's: ``Transformer(model_name, instance_count,
instance_type, strategy, assemble_with, output_path, accept, max_concurrent_transforms, max_payload,
env, …).transform(data, data_type, content_type, compression_type, split_type, input_filter,
output_filter, join_source, job_name, wait, logs)``; ``latest_transform_job`` names the last job.
A ``data`` that is a local path is uploaded first (the SDK wants an S3 URI; Kiln saves the step).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from kiln.errors import UnexpectedStatusException, ValidationError
from kiln.sdk.naming import base_from_name, name_from_base
from kiln.sdk.session import Session
from kiln.sdk.source_code import is_uri
from kiln.sdk.waiters import WAITERS

__all__ = ["TransformJobHandle", "Transformer"]

_ENDED = ("Completed", "Failed", "Stopped")


class TransformJobHandle:
    """``transformer.latest_transform_job``: a started transform job, by name."""

    def __init__(self, session: Session, name: str) -> None:
        self.sagemaker_session = session
        self.name = name
        self.job_name = name  # the SDK's attribute name

    def describe(self) -> dict[str, Any]:
        return self.sagemaker_session.client.describe_transform_job(self.name)

    def wait(self, logs: bool = True) -> dict[str, Any]:
        """The description once the job ended; UnexpectedStatusException if it failed."""
        client = self.sagemaker_session.client
        printed: dict[str, int] = {}

        def show(description: dict[str, Any]) -> None:
            if not logs:
                return
            for stream in client.transform_job_logs(self.name):
                lines = stream["Lines"]
                for line in lines[printed.get(stream["Stream"], 0) :]:
                    print(f"[{stream['Stream']}] {line}", file=sys.stdout, flush=True)
                printed[stream["Stream"]] = len(lines)

        waiter = WAITERS["TransformJobEnded"]
        description = waiter.wait(client, self.name, on_poll=show if logs else None)
        if logs:
            show(description)
        if description["TransformJobStatus"] == "Failed":
            raise UnexpectedStatusException(
                f"Error for Transform job {self.name}: Failed. Reason: {description.get('FailureReason')}",
                allowed_statuses=("Completed", "Stopped"),
                actual_status="Failed",
            )
        return description

    def stop(self) -> None:
        self.sagemaker_session.client.stop_transform_job(self.name)


class Transformer:
    def __init__(
        self,
        model_name: str,
        instance_count: int,
        instance_type: str,
        strategy: str | None = None,
        assemble_with: str | None = None,
        output_path: str | None = None,
        output_kms_key: str | None = None,
        accept: str | None = None,
        max_concurrent_transforms: int | None = None,
        max_payload: int | None = None,
        tags: list[dict[str, str]] | None = None,
        env: dict[str, str] | None = None,
        base_transform_job_name: str | None = None,
        sagemaker_session: Session | None = None,
        volume_kms_key: str | None = None,
    ) -> None:
        if strategy not in (None, "SingleRecord", "MultiRecord"):
            raise ValidationError(f"strategy {strategy!r} must be 'SingleRecord' or 'MultiRecord'")
        if assemble_with not in (None, "Line", "None"):
            raise ValidationError(f"assemble_with {assemble_with!r} must be 'Line' or 'None'")
        self.model_name = model_name
        self.instance_count = instance_count
        self.instance_type = instance_type
        self.strategy = strategy
        self.assemble_with = assemble_with
        self.output_path = output_path
        self.output_kms_key = output_kms_key
        self.accept = accept
        self.max_concurrent_transforms = max_concurrent_transforms
        self.max_payload = max_payload
        self.tags = list(tags or [])
        self.env = dict(env or {})
        self.base_transform_job_name = base_transform_job_name
        self.sagemaker_session = sagemaker_session or Session()
        self.volume_kms_key = volume_kms_key
        self.latest_transform_job: TransformJobHandle | None = None
        self._current_job_name: str | None = None

    def _input_uri(self, data: str) -> str:
        if is_uri(data):
            return data
        path = Path(data)
        if not path.exists():
            raise ValidationError(f"data {data!r} is neither an S3 URI nor a local file or folder")
        return self.sagemaker_session.upload_data(path, key_prefix="transform-input")

    def transform(
        self,
        data: str,
        data_type: str = "S3Prefix",
        content_type: str | None = None,
        compression_type: str | None = None,
        split_type: str | None = None,
        job_name: str | None = None,
        input_filter: str | None = None,
        output_filter: str | None = None,
        join_source: str | None = None,
        experiment_config: dict[str, str] | None = None,
        model_client_config: dict[str, int] | None = None,
        batch_data_capture_config: Any = None,
        wait: bool = True,
        logs: bool = True,
    ) -> None:
        """Start a transform job over ``data`` (an S3 prefix, a manifest, or a local path to upload)."""
        if batch_data_capture_config is not None:
            raise ValidationError("batch_data_capture_config is not supported by Kiln; leave it out")
        del experiment_config  # accepted for the SDK's signature; Kiln has no experiments
        request = self.build_transform_request(
            data,
            data_type,
            content_type,
            compression_type,
            split_type,
            job_name,
            input_filter,
            output_filter,
            join_source,
            model_client_config,
        )
        name = str(request["TransformJobName"])
        self.sagemaker_session.client.create_transform_job(request)
        self._current_job_name = name
        self.latest_transform_job = TransformJobHandle(self.sagemaker_session, name)
        if wait:
            self.latest_transform_job.wait(logs=logs)

    def build_transform_request(
        self,
        data: Any,
        data_type: str = "S3Prefix",
        content_type: str | None = None,
        compression_type: str | None = None,
        split_type: str | None = None,
        job_name: str | None = None,
        input_filter: str | None = None,
        output_filter: str | None = None,
        join_source: str | None = None,
        model_client_config: dict[str, int] | None = None,
    ) -> dict[str, Any]:
        """The CreateTransformJob request ``transform`` sends, without sending it (local data is
        uploaded): what a pipeline's TransformStep carries."""
        name = job_name or name_from_base(self.base_transform_job_name or base_from_name(self.model_name))
        output_path = self.output_path or f"{self.sagemaker_session.bucket_uri()}/{name}"
        self.output_path = output_path
        source: dict[str, Any] = {
            "S3DataSource": {
                "S3DataType": data_type,
                "S3Uri": data if hasattr(data, "expr") else self._input_uri(data),
            }
        }
        transform_input: dict[str, Any] = {"DataSource": source}
        for key, value in (
            ("ContentType", content_type),
            ("CompressionType", compression_type),
            ("SplitType", split_type),
        ):
            if value is not None:
                transform_input[key] = value
        output: dict[str, Any] = {"S3OutputPath": output_path}
        for key, value in (("Accept", self.accept), ("AssembleWith", self.assemble_with)):
            if value is not None:
                output[key] = value
        request: dict[str, Any] = {
            "TransformJobName": name,
            "ModelName": self.model_name,
            "TransformInput": transform_input,
            "TransformOutput": output,
            "TransformResources": {"InstanceType": self.instance_type, "InstanceCount": self.instance_count},
        }
        optional = {
            "BatchStrategy": self.strategy,
            "MaxConcurrentTransforms": self.max_concurrent_transforms,
            "MaxPayloadInMB": self.max_payload,
            "Environment": self.env or None,
            "ModelClientConfig": model_client_config,
            "Tags": self.tags or None,
        }
        request.update({k: v for k, v in optional.items() if v is not None})
        processing = {
            "InputFilter": input_filter,
            "OutputFilter": output_filter,
            "JoinSource": join_source,
        }
        if any(v is not None for v in processing.values()):
            request["DataProcessing"] = {k: v for k, v in processing.items() if v is not None}
        return request

    def _require_job(self) -> TransformJobHandle:
        if self.latest_transform_job is None:
            raise ValidationError("No transform job started yet; call transform() first")
        return self.latest_transform_job

    def wait(self, logs: bool = True) -> None:
        self._require_job().wait(logs=logs)

    def stop_transform_job(self, wait: bool = True) -> None:
        job = self._require_job()
        job.stop()
        if wait:
            while job.describe()["TransformJobStatus"] not in _ENDED:
                time.sleep(0.2)

    def describe(self) -> dict[str, Any]:
        return self._require_job().describe()

    @classmethod
    def attach(cls, transform_job_name: str, sagemaker_session: Session | None = None) -> Transformer:
        """A Transformer for an existing job, its settings read back from DescribeTransformJob."""
        session = sagemaker_session or Session()
        job = session.client.describe_transform_job(transform_job_name)
        output = job.get("TransformOutput") or {}
        resources = job.get("TransformResources") or {}
        transformer = cls(
            model_name=job["ModelName"],
            instance_count=int(resources.get("InstanceCount", 1)),
            instance_type=str(resources.get("InstanceType", "local")),
            strategy=job.get("BatchStrategy"),
            assemble_with=output.get("AssembleWith"),
            output_path=output.get("S3OutputPath"),
            accept=output.get("Accept"),
            max_concurrent_transforms=job.get("MaxConcurrentTransforms"),
            max_payload=job.get("MaxPayloadInMB"),
            env=job.get("Environment"),
            base_transform_job_name=base_from_name(transform_job_name),
            sagemaker_session=session,
        )
        transformer.latest_transform_job = TransformJobHandle(session, transform_job_name)
        transformer._current_job_name = transform_job_name
        return transformer
