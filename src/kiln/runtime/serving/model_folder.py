"""A model's folder on this node: its archive unpacked, its code laid in, its requirements installed.

SageMaker unpacks ``ModelDataUrl`` into ``/opt/ml/model`` on each instance before the container
starts. Kiln does it once per model and node, wherever the instances run: the server does it for the
instances on its own machine (they share the folder read-only), and an instance on another node of a
cluster does it there, at start, from the artifact store (``python -m kiln.runtime.serving
--prepare-model``). One function for both, so a model is unpacked by the same safe code everywhere.

Two processes of one node may prepare the same model at once (two instances starting there, or an
instance beside the server): a lock file beside the folder lets one prepare it and the other use it.
"""

from __future__ import annotations

import fcntl
import shutil
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kiln.artifacts import ArtifactStore
from kiln.artifacts.archives import ArchiveLimits, unpack_archive
from kiln.config import Settings
from kiln.errors import ValidationError
from kiln.runtime.serving.model_archive import unpack_model_archive
from kiln.runtime.training.frameworks import FrameworkUnavailable, framework_for_image, resolve_framework
from kiln.runtime.training.library_check import check_torch_libraries
from kiln.runtime.training.user_code import UserCodeError, python_for_requirements

__all__ = ["ModelNotServable", "prepare_model_folder"]

READY_MARK = ".kiln-ready"  # written last: a folder without it is half made, and made again

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


class ModelNotServable(Exception):
    """The model cannot be prepared; the message is the endpoint's FailureReason."""


@contextmanager
def _held(folder: Path) -> Iterator[None]:
    """This model's folder to ourselves: against other threads here and other processes of the node
    (``flock`` on a file beside the folder; the kernel drops it if the holder dies)."""
    with _locks_guard:
        lock = _locks.setdefault(str(folder), threading.Lock())
    folder.parent.mkdir(parents=True, exist_ok=True)
    with lock, open(folder.parent / f".{folder.name}.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prepare_model_folder(
    settings: Settings,
    store: ArtifactStore,
    name: str,
    container: Mapping[str, Any],
    log: list[str] | None = None,
) -> tuple[Path, str]:
    """(the model's folder, the Python to serve it with), prepared once per model on this node.

    ``container`` is the model's PrimaryContainer (ModelDataUrl, Environment, Image); ``log`` gets a
    line for each environment installed or reused."""
    environment = container.get("Environment") or {}
    folder = settings.home / "models" / name
    with _held(folder):
        ready = folder / READY_MARK
        if not ready.exists():
            shutil.rmtree(folder, ignore_errors=True)
            model_dir = folder / "model"
            model_dir.mkdir(parents=True)
            data_url = container.get("ModelDataUrl")
            limits = ArchiveLimits.from_settings(settings)
            if data_url:
                archive = store.get_file(str(data_url), folder / "model.tar.gz")
                try:
                    unpack_model_archive(archive, model_dir, limits)
                except Exception as e:
                    raise ModelNotServable(f"ClientError: cannot unpack ModelDataUrl {data_url}: {e}") from e
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
                        limits=limits,
                    )
                except ValidationError as e:
                    raise ModelNotServable(f"ClientError: {e.message}") from e
                finally:
                    code.unlink(missing_ok=True)
            ready.touch()
        try:
            # The framework version the model was trained with serves it (a pickle from scikit-learn
            # 1.2 does not load in 1.9): the same cached environment the training job ran in.
            framework = framework_for_image(container.get("Image"))
            pin = resolve_framework(framework).requirement if framework is not None else None
            python = python_for_requirements(
                folder / "model" / "code", settings.venvs_dir, log if log is not None else [], pin
            )
            check_torch_libraries(python)  # a torchvision for another torch: refused here, with the fix
        except (UserCodeError, FrameworkUnavailable) as e:
            raise ModelNotServable(str(e)) from e
    return folder / "model", python
