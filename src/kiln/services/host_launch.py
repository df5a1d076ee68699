"""Starting the host processes of a host job attempt (training or processing) through the executor."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiln import metadata
from kiln.artifacts import ArtifactStore
from kiln.config import Settings
from kiln.executors import Executor, ProcessHandle
from kiln.metadata import Database
from kiln.records import HostState, Reservation, TrainingJob, utcnow
from kiln.runtime.training.spec import HostSpec

__all__ = ["LaunchedBefore", "free_port", "launch_hosts", "launched_before"]


def free_port() -> int:
    """A TCP port free on loopback now: the job's torch.distributed rendezvous port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


CREDENTIAL_FILE = "credential"  # beside host.json; the runtime reads it once and deletes it


def _runtime_environment(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["KILN_HOME"] = str(settings.home)
    env.pop("KILN_API_TOKEN", None)  # hosts never hold the operator's token (the server erased it too)
    return env


def _hand_credential(folder: Path, credential: str | None) -> None:
    """The one way a credential reaches a host: a 0600 file the runtime reads and deletes at start,
    never the environment (children inherit it, and /proc/<pid>/environ shows it)."""
    path = folder / CREDENTIAL_FILE
    path.unlink(missing_ok=True)
    if credential is None:
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(credential)


def launch_hosts(
    settings: Settings,
    db: Database,
    store: ArtifactStore,
    executor: Executor,
    server_url: str,
    job: TrainingJob,
    reservation: Reservation,
    *,
    credential: str | None = None,
) -> TrainingJob:
    """Start one ``kiln.runtime.training`` process per host for the job's current attempt, each with
    its grant from ``reservation`` (CPUs, memory cap, GPUs); the first host logs the job's warnings.
    Returns the job as it is once every host has started."""
    hosts = [h.host for h in job.hosts]
    port = free_port()
    for index, host in enumerate(hosts):
        grant = reservation.grants[index]
        folder = settings.jobs_dir / job.name / host
        folder.mkdir(parents=True, exist_ok=True)
        if job.attempt > 1:
            _fresh_outputs(folder / "opt" / "ml")  # a restart starts clean, as on a new instance
        spec = HostSpec(
            job_name=job.name,
            host=host,
            hosts=hosts,
            attempt=job.attempt,
            server_url=server_url,
            artifact_url=store.root_url,
            base_dir=str(folder / "opt" / "ml"),
            job=job.spec,
            stop_grace_seconds=settings.stop_grace_seconds,
            # SM_NUM_CPUS / SM_NUM_GPUS: what the instance type has here, the same on every host (for
            # ``local``, the whole machine, as SageMaker local mode shows it); the grant below is
            # what the host's threads and affinity actually get.
            num_cpus=reservation.cpus_per_instance or grant.num_cpus,
            num_gpus=reservation.gpus_per_instance,
            master_port=port,
            environment={"KILN_VENVS_DIR": str(settings.venvs_dir)},
            cpus=list(grant.cpus),
            gpus=None if grant.gpus is None else list(grant.gpus),
            memory_bytes=grant.memory_bytes,
            notices=list(job.capacity_warnings) if index == 0 else [],
            server_record=str(settings.server_record_path),
            kind=job.kind,
        )
        spec_path = folder / "host.json"
        spec.save(spec_path)
        (folder / "result.json").unlink(missing_ok=True)
        _hand_credential(folder, credential)
        handle = executor.launch(
            _host_command(spec_path),
            env=_runtime_environment(settings),
            cwd=folder,
            log_path=folder / "runtime.log",
        )
        job = metadata.update_host(
            db,
            job.name,
            host,
            state=HostState.RUNNING,
            pid=handle.pid,
            pid_started_at=handle.started_at,
            exit_code=None,
            failure_reason=None,
            last_batch=0,
            last_heartbeat=utcnow(),
        )
    return job


def _host_command(spec_path: Path) -> list[str]:
    return [sys.executable, "-m", "kiln.runtime.training", str(spec_path)]


@dataclass(frozen=True)
class LaunchedBefore:
    """A host of this attempt that an earlier server started without recording it: it still runs
    (``handle``), or it ran to its end while no server listened (``result``, from its result.json)."""

    handle: ProcessHandle | None = None
    result: dict[str, Any] | None = None


def launched_before(
    settings: Settings, executor: Executor, job: TrainingJob, host: str
) -> LaunchedBefore | None:
    """Whether ``host`` of the job's current attempt was launched by a server killed before it
    stored the process (between ``executor.launch`` and ``update_host``); None if it never was.

    Launching it again would run the script twice and store every line twice, so a restarted
    server adopts what runs, and takes the result of what ended, instead.
    """
    spec_path = settings.jobs_dir / job.name / host / "host.json"
    try:
        if HostSpec.load(spec_path).attempt != job.attempt:
            return None
    except (OSError, ValueError, TypeError, KeyError):
        return None  # never written: this attempt never got as far as launching
    handle = executor.find(_host_command(spec_path))
    if handle is not None:
        return LaunchedBefore(handle=handle)
    try:
        result = json.loads((spec_path.parent / "result.json").read_text())
    except (OSError, ValueError):
        return None  # written but never run (or died without a word): launching it is right
    if isinstance(result, dict) and result.get("attempt") == job.attempt:
        return LaunchedBefore(result=result)
    return None


def _fresh_outputs(root: Path) -> None:
    for name in ("model", "output"):
        shutil.rmtree(root / name, ignore_errors=True)
