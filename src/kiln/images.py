"""SageMaker's framework image URIs, read as what Kiln should run (Kiln itself runs no containers).

``sagemaker.image_uris.retrieve`` gives URIs such as
``763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1-cpu-py310`` or
``683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3``. The repository
names the framework and whether the image trains or serves; the tag carries the framework version,
the processor and the Python version. Kiln maps each repository to one of its runtimes (the Python
environment it runs user code in) and refuses any other image, naming the ones it understands.

This module imports nothing of Kiln's server, so the SDK and the runtimes use it too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from kiln.errors import ValidationError

__all__ = ["KNOWN_REPOSITORIES", "FrameworkImage", "parse_image_uri", "runtime_for_image"]

JobKind = Literal["training", "inference", "any"]

# repository → (framework, runtime, the jobs its images run). The runtime is the Kiln runtime that
# runs such a job; whether it is installed is the runtime's business, not this table's.
KNOWN_REPOSITORIES: dict[str, tuple[str, str, JobKind]] = {
    "pytorch-training": ("pytorch", "pytorch", "training"),
    "pytorch-inference": ("pytorch", "pytorch", "inference"),
    "sagemaker-pytorch": ("pytorch", "pytorch", "any"),  # the images of SDK v1 and PyTorch < 1.2
    "tensorflow-training": ("tensorflow", "tensorflow", "training"),
    "tensorflow-inference": ("tensorflow", "tensorflow", "inference"),
    "sagemaker-tensorflow-scriptmode": ("tensorflow", "tensorflow", "training"),
    "sagemaker-tensorflow-serving": ("tensorflow", "tensorflow", "inference"),
    "sagemaker-scikit-learn": ("sklearn", "sklearn", "any"),
    "sagemaker-xgboost": ("xgboost", "xgboost", "any"),
    "xgboost": ("xgboost", "xgboost", "any"),  # the built-in algorithm's older repository
    # SageMaker's first-party built-in algorithms (kiln.algorithms), which Kiln runs on scikit-learn:
    "linear-learner": ("linear-learner", "sklearn", "any"),
    "kmeans": ("kmeans", "sklearn", "any"),
    "pca": ("pca", "sklearn", "any"),
}

# <account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>[:<tag>|@<digest>]; also a bare
# repository[:tag], as a Dockerfile or an offline config might name it.
_URI = re.compile(
    r"^(?:(?P<registry>[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?)/)?"
    r"(?P<repository>[a-z0-9][a-z0-9._/-]*?)(?::(?P<tag>[A-Za-z0-9._-]+))?(?:@(?P<digest>sha256:[0-9a-f]+))?$"
)
_PROCESSORS = ("cpu", "gpu", "inf", "neuron", "trn")
_PYTHON_TAG = re.compile(r"^py[0-9]+$")


@dataclass(frozen=True)
class FrameworkImage:
    uri: str
    repository: str
    framework: str  # pytorch, tensorflow, sklearn, xgboost; or a built-in algorithm: linear-learner, …
    runtime: str  # the Kiln runtime that runs it
    job_kind: JobKind  # training, inference, or any (one image does both, as scikit-learn's)
    version: str | None  # the framework version of the tag: 2.1, 1.2-1, 1.7-1
    processor: str | None  # cpu or gpu (None when the tag does not say)
    python: str | None  # py310, py3, …


def _known() -> str:
    return ", ".join(sorted(KNOWN_REPOSITORIES))


def _read_tag(tag: str) -> tuple[str | None, str | None, str | None]:
    """(version, processor, python) of a tag like ``2.1-cpu-py310`` or ``1.2-1-cpu-py3`` or ``1.7-1``."""
    parts = tag.split("-")
    version_parts: list[str] = []
    processor = python = None
    for part in parts:
        if part in _PROCESSORS:
            processor = part
        elif _PYTHON_TAG.match(part):
            python = part
        elif processor is None and python is None:
            version_parts.append(part)  # 1.2-1: scikit-learn's and XGBoost's versions hold a hyphen
    version = "-".join(version_parts) or None
    if version in ("latest",):
        version = None
    return version, processor, python


def parse_image_uri(uri: str) -> FrameworkImage:
    """Read a SageMaker framework image URI; ValidationError for an image Kiln cannot run."""
    match = _URI.match(uri.strip())
    repository = match.group("repository").rsplit("/", 1)[-1] if match else ""
    if not match or repository not in KNOWN_REPOSITORIES:
        raise ValidationError(
            f"Kiln runs no containers, and image {uri!r} is not a SageMaker framework image it knows: "
            f"use an image from sagemaker.image_uris.retrieve for pytorch, tensorflow, sklearn or xgboost, "
            f"or a built-in algorithm's (xgboost, linear-learner, kmeans, pca) "
            f"(repositories {_known()}), e.g. "
            "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1-cpu-py310"
        )
    framework, runtime, kind = KNOWN_REPOSITORIES[repository]
    version, processor, python = _read_tag(match.group("tag") or "")
    return FrameworkImage(uri, repository, framework, runtime, kind, version, processor, python)


def runtime_for_image(uri: str) -> str:
    """The Kiln runtime that runs jobs of this image (ValidationError for an image Kiln cannot run)."""
    return parse_image_uri(uri).runtime
