"""Processing jobs: they are host jobs (``training.TrainingJob`` with kind "processing"); their ARN."""

from __future__ import annotations

__all__ = [
    "processing_job_arn",
]


def processing_job_arn(name: str) -> str:
    """Kiln's ARN of a processing job (the AWS wire rewrites it into the caller's region and account)."""
    return f"arn:kiln:sagemaker:local:000000000000:processing-job/{name}"
