"""Endpoint instances as processes: one ``kiln.runtime.serving`` per instance, on the server's machine
or on any node of a cluster.

On the server's machine (the local executor, and a transform job's instances), a model's folder is
prepared once by the server (``kiln.runtime.serving.model_folder``) and shared read-only by its
instances; each answers the server on a private Unix socket (0600) and on an HTTP port (``/ping``).

On a cluster (``launch_instance_anywhere``), the executor places the instance on a node with room;
the instance prepares the model there itself, from the artifact store, with the same code, and
answers the server on a TCP port it picks on its node. Its ready line names that port; the node's
address comes from the placement. Anyone on the network can reach the port, so the link's first
frame must carry the instance's secret: derived from a key only the server holds, handed to the
instance as a 0600 file it reads once and deletes (as a training host's credential).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kiln.artifacts import ArtifactStore
from kiln.config import Settings
from kiln.executors import Executor, GroupNotPlaced, LaunchUnit, UnitResources
from kiln.records import ModelRecord
from kiln.runtime.serving.model_folder import ModelNotServable, prepare_model_folder

__all__ = [
    "InstanceStartFailed",
    "LaunchedInstance",
    "ReadyInstance",
    "launch_instance",
    "launch_instance_anywhere",
    "link_secret",
    "prepare_model",
    "wait_until_ready",
]

READY_LINE = "KILN_SERVING_READY"
FAILED_LINE = "KILN_SERVING_FAILED"
READY_TIMEOUT_SECONDS = 240.0  # SageMaker fails an endpoint whose container does not pass /ping in 4 min
PLACEMENT_RETRY_SECONDS = 1.0  # between asks for room on a cluster that has none yet
LINK_KEY_FILE = "instance-links.key"  # in the server's home, 0600: what every link secret derives from
SECRET_FILE = "ipc-secret"  # in the instance's folder on its node; read and deleted at start
MODEL_FILE = "model.json"  # the model to prepare on the node: its name, PrimaryContainer and store


class InstanceStartFailed(Exception):
    """An instance could not start; the message is the endpoint's FailureReason."""


INSTANCE_LOG = "instance.log"


@dataclass(frozen=True)
class LaunchedInstance:
    handle: str  # the executor's
    socket_path: str  # its Unix socket; "" for an instance on TCP, whose port is known once it is ready
    ipc_host: str | None = None  # TCP: the address of its node, where it listens for the server


@dataclass(frozen=True)
class ReadyInstance:
    """A started instance that serves: its HTTP port, and its link's address (a Unix socket path or
    ``tcp://host:port``) as ``InstanceLink`` takes it."""

    port: int
    address: str


def _socket_dir() -> Path:
    # AF_UNIX paths are limited to ~107 bytes, so sockets live in a short private folder.
    folder = Path(tempfile.gettempdir()) / f"kiln-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _link_key(settings: Settings) -> bytes:
    """The server's key for instance links, made once (0600): secrets survive a server restart, so a
    restarted server reaches the instances an earlier one started, and none is kept per instance."""
    path = settings.home / LINK_KEY_FILE
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()  # another thread made it first
    with os.fdopen(fd, "wb") as out:
        out.write(secrets.token_bytes(32))
    return path.read_bytes()


def link_secret(settings: Settings, instance_id: str) -> bytes:
    """The secret the link to ``instance_id`` presents (hex, so it travels as text in a file)."""
    digest = hmac.new(_link_key(settings), f"instance-link:{instance_id}".encode(), hashlib.sha256)
    return digest.hexdigest().encode()


def prepare_model(settings: Settings, store: ArtifactStore, model: ModelRecord) -> tuple[Path, str]:
    """(the model's folder, the Python to serve it with) on the server's machine, prepared once."""
    try:
        return prepare_model_folder(settings, store, model.name, model.spec.get("PrimaryContainer") or {})
    except ModelNotServable as e:
        raise InstanceStartFailed(str(e)) from e


def _environment(model: ModelRecord, overrides: Mapping[str, str] | None) -> dict[str, str]:
    environment = dict(os.environ)
    environment.update((model.spec.get("PrimaryContainer") or {}).get("Environment") or {})
    environment.update(overrides or {})
    environment["PYTHONUNBUFFERED"] = "1"
    environment.pop("KILN_API_TOKEN", None)  # instances never hold the operator's token
    return environment


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
    """Start one serving process beside the server, on a Unix socket; ``overrides`` go over the
    model's environment (a transform job's own)."""
    folder.mkdir(parents=True, exist_ok=True)
    socket_path = str(_socket_dir() / f"{uuid.uuid4().hex[:16]}.sock")
    environment = _environment(model, overrides)
    environment["SAGEMAKER_SUBMIT_DIRECTORY"] = str(model_dir / "code")  # where the code lives now
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
        on_server_node=True,  # the server reaches it through a Unix socket
    )
    [handle] = executor.launch_group([unit])
    return LaunchedInstance(handle, socket_path)


def launch_instance_anywhere(
    settings: Settings,
    executor: Executor,
    store: ArtifactStore,
    model: ModelRecord,
    folder: Path,
    secret: bytes,
    *,
    cpus: float = 1.0,
    node_resources: Mapping[str, float] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> LaunchedInstance:
    """Start one serving process wherever the executor has room for ``cpus``: it prepares the model on
    its node and answers the server on a TCP port there, behind ``secret``. Waits for room up to the
    ready timeout (a node that just left, its replacement not joined yet). ``node_resources``: the
    instance type's node label, which only some nodes have."""
    resources = UnitResources(cpus=cpus, custom=dict(node_resources or {}))
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while True:
        try:
            placement = executor.place_group([resources])
            break
        except GroupNotPlaced as e:
            if time.monotonic() > deadline:
                raise InstanceStartFailed(
                    f"InsufficientCapacity: no node has room for an instance ({cpus:g} CPU): {e}"
                ) from e
            time.sleep(PLACEMENT_RETRY_SECONDS)
    # The node's address, where the server reaches it; the instance listens there only.
    host = placement.addresses[0] if placement.addresses else "127.0.0.1"
    model_file = {
        "name": model.name,
        "container": model.spec.get("PrimaryContainer") or {},
        "artifact_url": store.root_url,
    }
    unit = LaunchUnit(
        command=[
            sys.executable,
            "-m",
            "kiln.runtime.serving",
            "--prepare-model",
            str(folder / MODEL_FILE),
            "--port",
            "0",  # its HTTP face stays on the node's loopback: only the secret-guarded channel is exposed
            "--ipc-listen",
            f"[{host}]:0" if ":" in host else f"{host}:0",
            "--ipc-secret-file",
            str(folder / SECRET_FILE),
        ],
        env=_environment(model, overrides),
        workdir=folder,
        log_name=INSTANCE_LOG,
        labels={"model": model.name},
        files={SECRET_FILE: secret, MODEL_FILE: json.dumps(model_file).encode()},
        resources=resources,
    )
    try:
        [handle] = executor.launch_group([unit], placement)
    except BaseException:
        executor.release_placement(placement)
        raise
    return LaunchedInstance(handle, "", host)


def _failure_from_log(text: str) -> str | None:
    for line in text.splitlines():
        if line.startswith(FAILED_LINE):
            return line[len(FAILED_LINE) :].strip()
    tail = [line for line in text.splitlines() if line.strip()][-3:]
    return " | ".join(tail) if tail else None


def _ready(instance: LaunchedInstance, line: str) -> ReadyInstance:
    fields = dict(part.split("=", 1) for part in line[len(READY_LINE) :].split() if "=" in part)
    port = int(fields["port"])
    if instance.ipc_host is None:
        return ReadyInstance(port, instance.socket_path)
    host = f"[{instance.ipc_host}]" if ":" in instance.ipc_host else instance.ipc_host
    return ReadyInstance(port, f"tcp://{host}:{int(fields['ipc_port'])}")


def wait_until_ready(
    executor: Executor, instance: LaunchedInstance, timeout: float = READY_TIMEOUT_SECONDS
) -> ReadyInstance:
    """The instance's port and link address once it serves; InstanceStartFailed with its reason
    otherwise. Read from its log through the executor, wherever it runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = executor.read_log(instance.handle)  # a start-up log is short
        for line in text.splitlines():
            if line.startswith(READY_LINE):
                return _ready(instance, line)
        code = executor.poll(instance.handle)
        if code is not None:
            text = executor.read_log(instance.handle)
            reason = _failure_from_log(text) or f"the instance exited with code {code}"
            raise InstanceStartFailed(f"ClientError: the model could not be served: {reason}")
        time.sleep(0.05)
    raise InstanceStartFailed(f"the instance did not answer /ping within {timeout:.0f} s")
