"""Compiled libraries that must match torch: a mismatched torchvision fails the job at once, saying why.

torchvision's C++ operators are built against one torch release and variant (CPU or a CUDA version).
A ``requirements.txt`` (or the server's environment) that brings a torchvision for another torch makes
``import torchvision`` fail deep inside the user's script ("operator torchvision::nms does not
exist"). Before the script runs, the job's interpreter is asked which torch / torchvision it has (from
package metadata, which costs milliseconds); only where torchvision is installed is it imported, and a
failure becomes the job's FailureReason naming both versions and how to install a matching pair.
"""

from __future__ import annotations

import json
import re
import subprocess

from kiln.runtime.training.user_code import UserCodeError

__all__ = ["check_torch_libraries", "matching_torchvision"]

PROBE_TIMEOUT_SECONDS = 180  # importing torch on a busy machine takes seconds, not minutes
_VERSIONS = """
import importlib.metadata as metadata, json
found = {}
for name in ("torch", "torchvision"):
    try:
        found[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        pass
print(json.dumps(found))
"""
_IMPORT = "import torchvision"
SUPPORTED_WAY = (
    "Kiln runs jobs on the torch of its own environment: leave torch and torchvision out of "
    "requirements.txt and install a matching pair into Kiln's environment instead (docs/libraries.md)"
)


def matching_torchvision(torch_version: str) -> str | None:
    """The torchvision release series built for ``torch_version`` (torch 2.Y pairs with 0.(Y+15))."""
    match = re.match(r"2\.(\d+)", torch_version)
    return f"0.{int(match.group(1)) + 15}" if match else None


def _install_hint(torch_version: str) -> str:
    base, _, variant = torch_version.partition("+")
    series = matching_torchvision(torch_version)
    pair = f"torch=={base} torchvision=={series}.*" if series else f"torch=={base} and its torchvision"
    if variant:  # a local build tag (cpu, cu128, …): the pair comes from PyTorch's index for it
        return f"pip install {pair} --index-url https://download.pytorch.org/whl/{variant}"
    return f"pip install {pair}"  # PyPI's default builds match each other


def check_torch_libraries(python: str) -> list[str]:
    """Lines for the job's log about torch / torchvision in ``python``'s environment; raises
    ``UserCodeError`` (the job's FailureReason) when torchvision cannot load beside torch."""
    probe = subprocess.run(
        [python, "-c", _VERSIONS], capture_output=True, text=True, timeout=PROBE_TIMEOUT_SECONDS
    )
    if probe.returncode != 0:
        return []  # not a Python that can tell; the script will say what it lacks
    versions: dict[str, str] = json.loads(probe.stdout.strip().splitlines()[-1])
    torch_version, vision_version = versions.get("torch"), versions.get("torchvision")
    if torch_version is None or vision_version is None:
        return []
    loaded = subprocess.run(
        [python, "-c", _IMPORT], capture_output=True, text=True, timeout=PROBE_TIMEOUT_SECONDS
    )
    if loaded.returncode == 0:
        return [f"Kiln: torch {torch_version} with torchvision {vision_version}"]
    error = next((line for line in reversed(loaded.stderr.splitlines()) if line.strip()), "import failed")
    series = matching_torchvision(torch_version)
    expected = f"torch {torch_version} needs torchvision {series}.x of the same build" if series else ""
    raise UserCodeError(
        f"ClientError: torchvision {vision_version} does not match torch {torch_version}: "
        f"import torchvision failed with {error!r}. {expected}; install a matching pair, e.g. "
        f"{_install_hint(torch_version)}. {SUPPORTED_WAY}."
    )
