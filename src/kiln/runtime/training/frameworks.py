"""Which framework a training job asks for, and the Python environment that has it.

SageMaker picks a framework by the job's training image (``…/tensorflow-training:2.21-cpu-py311``,
``…/sagemaker-scikit-learn:1.4-2-cpu-py3``, ``…/sagemaker-xgboost:1.7-1``); Kiln reads the same image
name and runs the job in an environment holding that framework at that version:

* the server's own environment, when its installed version matches (``2.21`` matches 2.21.0);
* else a cached virtual environment with the version installed (``<pkg>==<version>.*``, layered on
  Kiln's environment, the same cache that ``requirements.txt`` uses), unless installing is off
  (``KILN_FRAMEWORK_INSTALL=0``): then the job fails at once with a reason naming the version.

PyTorch is the exception: a job always runs on the server's torch (its builds are gigabytes and must
match torchvision and the GPU driver), and the log says so when the versions differ. A job that names
no image runs in the server's environment, as before. The job log says which framework version ran
and from where.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
from dataclasses import dataclass
from typing import Any

from kiln.errors import ValidationError
from kiln.images import parse_image_uri

__all__ = [
    "FRAMEWORKS",
    "Framework",
    "FrameworkEnvironment",
    "FrameworkRequest",
    "framework_for_image",
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
    # Whether another version is installed per job. torch is not: its builds are gigabytes and must
    # match torchvision and the GPU driver, so jobs run on the server's (see library_check).
    installs_per_job: bool = True
    # The first release built for numpy 2 (Kiln's numpy): an older one gets numpy 1 (and a pandas
    # built for it) in its cached environment, or it fails to import ("numpy.dtype size changed").
    numpy2_since: tuple[int, ...] | None = None

    def companions(self, version: str) -> tuple[str, ...]:
        """What must be installed beside ``version`` of this framework for it to import."""
        if self.numpy2_since is None:
            return ()
        parts = tuple(int(p) for p in re.findall(r"\d+", version)[: len(self.numpy2_since)])
        # "1.4" installs the newest 1.4.x: compare only the parts the version names.
        return ("numpy<2", "pandas<3") if parts < self.numpy2_since[: len(parts)] else ()


FRAMEWORKS: dict[str, Framework] = {
    f.name: f
    for f in (
        Framework(
            "tensorflow", "TensorFlow", ("tensorflow-cpu", "tensorflow"), "tensorflow", numpy2_since=(2, 18)
        ),
        Framework("pytorch", "PyTorch", ("torch",), "torch", installs_per_job=False),
        Framework("sklearn", "scikit-learn", ("scikit-learn",), None, numpy2_since=(1, 4, 2)),
        Framework("xgboost", "XGBoost", ("xgboost",), "xgboost", numpy2_since=(2, 1)),
    )
}


@dataclass(frozen=True)
class FrameworkRequest:
    """The framework a job asks for; ``version`` None: whatever the server has."""

    framework: Framework
    version: str | None


def requested_framework(job: dict[str, Any]) -> FrameworkRequest | None:
    """The framework named by the job's ``AlgorithmSpecification.TrainingImage``, if any."""
    return framework_for_image((job.get("AlgorithmSpecification") or {}).get("TrainingImage"))


def framework_for_image(image: object) -> FrameworkRequest | None:
    """The framework a training or inference image names, if any.

    ``kiln.images`` reads the image; the version is the tag's framework version without the container
    revision that scikit-learn's and XGBoost's images add (``1.2-1`` → 1.2). An image Kiln does not
    know runs as a job without one did (the AWS wire refuses such images before they get here).
    """
    if not image:
        return None
    try:
        parsed = parse_image_uri(str(image))
    except ValidationError:
        return None
    framework = FRAMEWORKS.get(parsed.framework)
    if framework is None:
        return None
    version = parsed.version.split("-")[0] if parsed.version else None
    return FrameworkRequest(framework, version or None)


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
    if have is None and (request.version is None or not framework.installs_per_job):
        install = (
            f"pip install 'kiln[{framework.extra}]'"
            if framework.extra
            else f"pip install {framework.distributions[0]}"
        )
        per_job = ", or name a framework_version to install it per job" if framework.installs_per_job else ""
        raise FrameworkUnavailable(
            f"ClientError: the job runs {framework.title}, which Kiln's environment does not have; "
            f"{install} on the server{per_job}"
        )
    if have is not None and (request.version is None or version_matches(request.version, have)):
        return FrameworkEnvironment(None, f"Kiln: {framework.title} {have} (the server's environment)")
    if not framework.installs_per_job:
        return FrameworkEnvironment(
            None,
            f"Kiln: the job asks for {framework.title} {request.version}; it runs on the server's "
            f"{framework.title} {have} (Kiln does not install {framework.title} per job)",
        )
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
    version = request.version or ""  # None returned above: the server's own version serves it
    pins = (f"{framework.distributions[0]}=={version}.*", *framework.companions(version))
    return FrameworkEnvironment(
        "\n".join(pins),
        f"Kiln: {framework.title} {version} (a cached environment with {', '.join(pins)})",
    )
