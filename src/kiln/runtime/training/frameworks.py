"""Which framework a training job asks for, and the Python environment that has it.

SageMaker picks a framework by the job's training image (``…/tensorflow-training:2.21-cpu-py311``,
``…/sagemaker-scikit-learn:1.4-2-cpu-py3``, ``…/sagemaker-xgboost:1.7-1``); Kiln reads the same image
name and runs the job in an environment holding that framework at that version:

* the server's own environment, when its installed version matches (``2.21`` matches 2.21.0);
* else a cached virtual environment with the version installed (``<pkg>==<version>.*``, layered on
  Kiln's environment, the same cache that ``requirements.txt`` uses), unless installing is off
  (``KILN_FRAMEWORK_INSTALL=0``): then the job fails at once with a reason naming the version.

A job that names no image runs in the server's environment, as before. The job log says which
framework version ran and from where.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FRAMEWORKS",
    "Framework",
    "FrameworkRequest",
    "installed_version",
    "requested_framework",
    "resolve_framework",
    "version_matches",
]


@dataclass(frozen=True)
class Framework:
    """One framework Kiln runs: how it is imported, installed, and named to people."""

    name: str  # Kiln's and the SDK's name: "tensorflow", "sklearn", …
    title: str  # for messages: "TensorFlow"
    distributions: tuple[str, ...]  # pip distributions that provide it, preferred first
    extra: str | None  # kiln[<extra>] installs it; None: part of Kiln's own dependencies


FRAMEWORKS: dict[str, Framework] = {
    f.name: f
    for f in (
        Framework("tensorflow", "TensorFlow", ("tensorflow-cpu", "tensorflow"), "tensorflow"),
        Framework("pytorch", "PyTorch", ("torch",), "torch"),
        Framework("sklearn", "scikit-learn", ("scikit-learn",), None),
        Framework("xgboost", "XGBoost", ("xgboost",), "xgboost"),
    )
}

# SageMaker's image repositories for its framework containers (training and inference).
_IMAGE_REPOSITORIES = {
    "tensorflow-training": "tensorflow",
    "tensorflow-inference": "tensorflow",
    "pytorch-training": "pytorch",
    "pytorch-inference": "pytorch",
    "sagemaker-scikit-learn": "sklearn",
    "sagemaker-xgboost": "xgboost",
}
_IMAGE = re.compile(r"(?:^|/)(?P<repository>[a-z0-9._-]+):(?P<tag>[A-Za-z0-9._-]+)$")


@dataclass(frozen=True)
class FrameworkRequest:
    """The framework a job asks for; ``version`` None: whatever the server has."""

    framework: Framework
    version: str | None


def requested_framework(job: dict[str, Any]) -> FrameworkRequest | None:
    """The framework named by the job's ``AlgorithmSpecification.TrainingImage``, if any.

    The tag's first ``-``-separated part is the version (``2.21.0-cpu-py311`` → 2.21.0,
    ``1.2-1`` → 1.2: scikit-learn's and XGBoost's images add a container revision after it).
    """
    image = (job.get("AlgorithmSpecification") or {}).get("TrainingImage") or ""
    match = _IMAGE.search(image)
    if match is None:
        return None
    name = _IMAGE_REPOSITORIES.get(match["repository"])
    if name is None:
        return None
    version = match["tag"].split("-")[0]
    return FrameworkRequest(FRAMEWORKS[name], None if version in ("", "latest") else version)


def installed_version(framework: Framework) -> str | None:
    """The framework's version in Kiln's own environment, or None when it is not installed."""
    for distribution in framework.distributions:
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def version_matches(requested: str, installed: str) -> bool:
    """``requested`` names ``installed`` or a prefix of it by whole parts: 2.21 matches 2.21.0."""
    want = requested.split(".")
    have = re.split(r"[.+]", installed)
    return have[: len(want)] == want


@dataclass(frozen=True)
class FrameworkEnvironment:
    """Where the job's framework comes from: nothing extra, or a pin for a cached environment."""

    requirement: str | None  # a pip requirement to install, None: the server's environment has it
    note: str  # the job log's line about the version that runs


class FrameworkUnavailable(Exception):
    """The job's framework cannot be provided; the message is the job's FailureReason."""


def resolve_framework(request: FrameworkRequest) -> FrameworkEnvironment:
    """The environment for ``request``, or ``FrameworkUnavailable`` saying what to do."""
    framework = request.framework
    have = installed_version(framework)
    if request.version is None or (have is not None and version_matches(request.version, have)):
        if have is None:
            install = f"pip install 'kiln[{framework.extra}]'" if framework.extra else "reinstall kiln"
            raise FrameworkUnavailable(
                f"ClientError: the job runs {framework.title}, which Kiln's environment does not have; "
                f"{install} on the server, or name a framework_version to install it per job"
            )
        return FrameworkEnvironment(None, f"Kiln: {framework.title} {have} (the server's environment)")
    if os.environ.get("KILN_FRAMEWORK_INSTALL", "1") == "0":
        if have:
            todo = f"use framework_version={have!r} (the server's) or install {request.version} there"
        else:
            todo = f"install {framework.title} {request.version} on the server"
        raise FrameworkUnavailable(
            f"ClientError: framework_version {request.version} of {framework.title} is not in Kiln's "
            f"environment ({f'it has {have}' if have else 'it has none'}) and this server does not "
            f"install frameworks per job (KILN_FRAMEWORK_INSTALL=0); {todo}"
        )
    pin = f"{framework.distributions[0]}=={request.version}.*"
    return FrameworkEnvironment(
        pin, f"Kiln: {framework.title} {request.version} (a cached environment with {pin})"
    )
