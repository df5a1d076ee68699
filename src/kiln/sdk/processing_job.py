"""A processing job's inputs and outputs (``ProcessingInput``, ``ProcessingOutput``) in SageMaker v2's
SDK shape, and ``ProcessingJob``: a started job to describe, wait for, read the logs of, or stop."""

from __future__ import annotations

import sys
import warnings
from typing import Any, TextIO

from kiln.errors import UnexpectedStatusException, ValidationError
from kiln.sdk.session import Session
from kiln.sdk.waiters import WAITERS

__all__ = ["ProcessingInput", "ProcessingJob", "ProcessingOutput"]


class ProcessingInput:
    """An input of a processing job: ``source`` (a URI or a local path) copied to ``destination``."""

    def __init__(
        self,
        source: str | None = None,
        destination: str | None = None,
        input_name: str | None = None,
        s3_data_type: str = "S3Prefix",
        s3_input_mode: str = "File",
        s3_data_distribution_type: str = "FullyReplicated",
        s3_compression_type: str = "None",
        s3_input: Any = None,
        dataset_definition: Any = None,
        app_managed: bool = False,
    ) -> None:
        if dataset_definition is not None:
            raise ValidationError(
                "ProcessingInput(dataset_definition=...) (Athena, Redshift) is not supported by Kiln: "
                "export the data and give its URI as source"
            )
        self.source = source
        self.destination = destination
        self.input_name = input_name
        self.s3_data_type = s3_data_type
        self.s3_input_mode = s3_input_mode
        self.s3_data_distribution_type = s3_data_distribution_type
        self.s3_compression_type = s3_compression_type
        self.s3_input = s3_input
        self.dataset_definition = dataset_definition
        self.app_managed = app_managed

    def _to_request_dict(self) -> dict[str, Any]:
        return {
            "InputName": self.input_name,
            "AppManaged": self.app_managed,
            "S3Input": {
                "S3Uri": self.source,
                "LocalPath": self.destination,
                "S3DataType": self.s3_data_type,
                "S3InputMode": self.s3_input_mode,
                "S3DataDistributionType": self.s3_data_distribution_type,
                "S3CompressionType": self.s3_compression_type,
            },
        }


class ProcessingOutput:
    """An output of a processing job: the folder ``source`` uploaded to ``destination``."""

    def __init__(
        self,
        source: str | None = None,
        destination: str | None = None,
        output_name: str | None = None,
        s3_upload_mode: str = "EndOfJob",
        app_managed: bool = False,
        feature_store_output: Any = None,
    ) -> None:
        if feature_store_output is not None:
            raise ValidationError("ProcessingOutput(feature_store_output=...) is not supported by Kiln")
        self.source = source
        self.destination = destination
        self.output_name = output_name
        self.s3_upload_mode = s3_upload_mode
        self.app_managed = app_managed
        self.feature_store_output = feature_store_output

    def _to_request_dict(self) -> dict[str, Any]:
        return {
            "OutputName": self.output_name,
            "AppManaged": self.app_managed,
            "S3Output": {
                "S3Uri": self.destination,
                "LocalPath": self.source,
                "S3UploadMode": self.s3_upload_mode,
            },
        }


class ProcessingJob:
    """A processing job that was started: describe it, wait for it, read its logs, stop it."""

    def __init__(
        self,
        sagemaker_session: Session,
        job_name: str,
        inputs: list[ProcessingInput],
        outputs: list[ProcessingOutput],
        output_kms_key: str | None = None,
    ) -> None:
        self.sagemaker_session = sagemaker_session
        self.job_name = self.name = job_name
        self.inputs = inputs
        self.outputs = outputs
        self.output_kms_key = output_kms_key

    @classmethod
    def from_processing_name(cls, sagemaker_session: Session, processing_job_name: str) -> ProcessingJob:
        described = sagemaker_session.client.describe_processing_job(processing_job_name)
        inputs = [
            ProcessingInput(
                source=i["S3Input"]["S3Uri"],
                destination=i["S3Input"].get("LocalPath"),
                input_name=i["InputName"],
                s3_data_type=i["S3Input"].get("S3DataType", "S3Prefix"),
                s3_input_mode=i["S3Input"].get("S3InputMode", "File"),
                s3_data_distribution_type=i["S3Input"].get("S3DataDistributionType", "FullyReplicated"),
            )
            for i in described.get("ProcessingInputs") or []
            if "S3Input" in i
        ]
        outputs = [
            ProcessingOutput(
                source=o["S3Output"].get("LocalPath"),
                destination=o["S3Output"]["S3Uri"],
                output_name=o["OutputName"],
                s3_upload_mode=o["S3Output"].get("S3UploadMode", "EndOfJob"),
            )
            for o in (described.get("ProcessingOutputConfig") or {}).get("Outputs", [])
            if "S3Output" in o
        ]
        return cls(sagemaker_session, processing_job_name, inputs, outputs)

    def describe(self) -> dict[str, Any]:
        return self.sagemaker_session.client.describe_processing_job(self.job_name)

    def stop(self) -> None:
        self.sagemaker_session.client.stop_processing_job(self.job_name)

    def logs(self, wait: bool = False, out: TextIO | None = None) -> None:
        """Print the job's log lines so far (``wait``: follow them until the job ends)."""
        stream = out or sys.stdout
        client = self.sagemaker_session.client
        multi_host = len(self.describe().get("Hosts") or []) > 1
        if wait:
            for event in client.follow_processing_job(self.job_name):
                if event["type"] == "end":
                    break
                if event["type"] == "log":
                    prefix = f"[{event['host']}] " if multi_host else ""
                    print(f"{prefix}{event['message']}", file=stream, flush=True)
            return
        after = 0
        while True:
            page = client.processing_job_logs(self.job_name, after)
            for event in page["Events"]:
                prefix = f"[{event['host']}] " if multi_host else ""
                print(f"{prefix}{event['message']}", file=stream, flush=True)
            if not page["Events"]:
                return
            after = page["NextSeq"]

    def wait(self, logs: bool = True) -> None:
        """Until the job ends (printing its logs with ``logs``). Failed raises
        ``UnexpectedStatusException``; Stopped only warns, as SageMaker's SDK does."""
        if logs:
            self.logs(wait=True)
        described = WAITERS["ProcessingJobEnded"].wait(self.sagemaker_session.client, self.job_name)
        status = described["ProcessingJobStatus"]
        if status == "Stopped":
            warnings.warn(f"Processing job {self.job_name} was stopped.", stacklevel=2)
        elif status != "Completed":
            raise UnexpectedStatusException(
                f"Error for Processing job {self.job_name}: {status}. "
                f"Reason: {described.get('FailureReason')}",
                allowed_statuses=("Completed", "Stopped"),
                actual_status=status,
            )
