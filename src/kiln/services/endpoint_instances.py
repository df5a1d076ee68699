"""Endpoint instances as processes: a model prepared once on disk, one ``kiln.runtime.serving`` per instance.

A model's folder is prepared once (model.tar.gz unpacked, its inference code laid into ``code/``, a
``code/requirements.txt`` installed into a cached environment) and shared read-only by its instances.
Each instance answers the server on a private Unix socket and on an HTTP port of its own (``/ping``).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kiln.artifacts import ArtifactStore
from kiln.artifacts.archives import ArchiveLimits, unpack_archive
from kiln.config import Settings
from kiln.errors import ValidationError
from kiln.executors import Executor, LaunchUnit
from kiln.records import ModelRecord
from kiln.runtime.serving.model_archive import unpack_model_archive
from kiln.runtime.training.frameworks import FrameworkUnavailable, framework_for_image, resolve_framework
from kiln.runtime.training.library_check import check_torch_libraries
from kiln.runtime.training.user_code import UserCodeError, python_for_requirements

__all__ = ["InstanceStartFailed", "LaunchedInstance", "launch_instance", "prepare_model", "wait_until_ready"]

READY_LINE = "KILN_SERVING_READY"
FAILED_LINE = "KILN_SERVING_FAILED"
READY_TIMEOUT_SECONDS = 240.0  # SageMaker fails an endpoint whose container does not pass /ping in 4 min
_prepare_locks: dict[str, threading.Lock] = {}
_prepare_locks_guard = threading.Lock()


class InstanceStartFailed(Exception):
    """An instance could not start; the message is the endpoint's FailureReason."""


INSTANCE_LOG = "instance.log"


@dataclass(frozen=True)
class LaunchedInstance:
    handle: str  # the executor's
    socket_path: str


def _socket_dir() -> Path:
    # AF_UNIX paths are limited to ~107 bytes, so sockets live in a short private folder.
    folder = Path(tempfile.gettempdir()) / f"kiln-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _lock_for(key: str) -> threading.Lock:
    with _prepare_locks_guard:
        return _prepare_locks.setdefault(key, threading.Lock())


def prepare_model(settings: Settings, store: ArtifactStore, model: ModelRecord) -> tuple[Path, str]:
    """(the model's folder, the Python to serve it with), prepared once per model."""
    container = model.spec.get("PrimaryContainer") or {}
    environment = container.get("Environment") or {}
    folder = settings.home / "models" / model.name
    with _lock_for(model.name):
        ready = folder / ".kiln-ready"
        if not ready.exists():
            shutil.rmtree(folder, ignore_errors=True)
            model_dir = folder / "model"
            model_dir.mkdir(parents=True)
            data_url = container.get("ModelDataUrl")
            if data_url:
                archive = store.get_file(str(data_url), folder / "model.tar.gz")
                try:
                    unpack_model_archive(archive, model_dir, ArchiveLimits.from_settings(settings))
                except Exception as e:
                    raise InstanceStartFailed(
                        f"ClientError: cannot unpack ModelDataUrl {data_url}: {e}"
                    ) from e
                archive.unlink()
            submit = environment.get("SAGEMAKER_SUBMIT_DIRECTORY", "")
            if submit and "://" in submit:  # inference code uploaded beside the model, not repacked into it
                code = store.get_file(submit, folder / "sourcedir.tar.gz")
                try:
                    unpack_archive(
                        code,
                        model_dir / "code",
                        what=f"SAGEMAKER_SUBMIT_DIRECTORY {submit}",
                        folder="the model's code folder",
                        limits=ArchiveLimits.from_settings(settings),
                    )
                except ValidationError as e:
                    raise InstanceStartFailed(f"ClientError: {e.message}") from e
                finally:
                    code.unlink(missing_ok=True)
            ready.touch()
        log: list[str] = []
        try:
            # The framework version the model was trained with serves it (a pickle from scikit-learn
            # 1.2 does not load in 1.9): the same cached environment the training job ran in.
            framework = framework_for_image(container.get("Image"))
            pin = resolve_framework(framework).requirement if framework is not None else None
            python = python_for_requirements(folder / "model" / "code", settings.venvs_dir, log, pin)
            check_torch_libraries(python)  # a torchvision for another torch: refused here, with the fix
        except (UserCodeError, FrameworkUnavailable) as e:
            raise InstanceStartFailed(str(e)) from e
    return folder / "model", python


def launch_instance(
    settings: Settings,
    executor: Executor,
    model: ModelRecord,
    model_dir: Path,
    python: str,
    folder: Path,
    *,
    overrides: Mapping[str, str] | None = None,
) -> LaunchedInstance:
    """Start one serving process; ``overrides`` go over the model's (a transform job's own)."""
    folder.mkdir(parents=True, exist_ok=True)
    socket_path = str(_socket_dir() / f"{uuid.uuid4().hex[:16]}.sock")
    environment = dict(os.environ)
    environment.update((model.spec.get("PrimaryContainer") or {}).get("Environment") or {})
    environment.update(overrides or {})
    environment["SAGEMAKER_SUBMIT_DIRECTORY"] = str(model_dir / "code")  # where the code lives now
    environment["PYTHONUNBUFFERED"] = "1"
    environment.pop("KILN_API_TOKEN", None)
    unit = LaunchUnit(
        command=[
            python if Path(python).exists() else sys.executable,
            "-m",
            "kiln.runtime.serving",
            "--model-dir",
            str(model_dir),
            "--port",
            "0",
            "--ipc-socket",
            socket_path,
        ],
        env=environment,
        workdir=folder,
        log_name=INSTANCE_LOG,
        labels={"model": model.name},
    )
    [handle] = executor.launch_group([unit])
    return LaunchedInstance(handle, socket_path)


def _failure_from_log(text: str) -> str | None:
    for line in text.splitlines():
        if line.startswith(FAILED_LINE):
            return line[len(FAILED_LINE) :].strip()
    tail = [line for line in text.splitlines() if line.strip()][-3:]
    return " | ".join(tail) if tail else None


def wait_until_ready(
    executor: Executor, instance: LaunchedInstance, timeout: float = READY_TIMEOUT_SECONDS
) -> int:
    """The instance's HTTP port once it serves; InstanceStartFailed with its reason otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = executor.read_log(instance.handle)  # a start-up log is short
        for line in text.splitlines():
            if line.startswith(READY_LINE):
                return int(line.split("port=", 1)[1].split()[0])
        code = executor.poll(instance.handle)
        if code is not None:
            text = executor.read_log(instance.handle)
            reason = _failure_from_log(text) or f"the instance exited with code {code}"
            raise InstanceStartFailed(f"ClientError: the model could not be served: {reason}")
        time.sleep(0.05)
    raise InstanceStartFailed(f"the instance did not answer /ping within {timeout:.0f} s")
