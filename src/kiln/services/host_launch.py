"""Starting the host processes of a host job attempt (training or processing) through the executor."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kiln import metadata
from kiln.artifacts import ArtifactStore
from kiln.config import Settings
from kiln.executors import Executor, LaunchUnit, Placement, UnitResources
from kiln.metadata import Database
from kiln.records import HostState, InstanceGrant, Reservation, TrainingJob, utcnow
from kiln.runtime.training.spec import HostSpec

__all__ = ["LaunchedBefore", "launch_hosts", "launched_before"]

RUNTIME_LOG = "runtime.log"  # the host runtime's own output (the script's lines go to the job's log)


CREDENTIAL_FILE = "credential"  # beside host.json; the runtime reads it once and deletes it


def _runtime_environment(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["KILN_HOME"] = str(settings.home)
    env.pop("KILN_API_TOKEN", None)  # hosts never hold the operator's token (the server erased it too)
    return env


def _unit_files(spec: HostSpec, credential: str | None) -> dict[str, bytes]:
    """What a host needs in its folder, wherever it runs; the executor writes each file 0600 there.

    The credential is the one way a credential reaches a host: a file the runtime reads and deletes
    at start, never the environment (children inherit it, and /proc/<pid>/environ shows it)."""
    files = {"host.json": spec.dumps().encode()}
    if credential is not None:
        files[CREDENTIAL_FILE] = credential.encode()
    return files


def _resources(
    reservation: Reservation, grant: InstanceGrant, node_resources: Mapping[str, float]
) -> UnitResources:
    """What one host holds where it runs: its grant's share of the instance type, and the type's
    node resources (an operator's label: on a cluster, only nodes that have it take the host)."""
    return UnitResources(
        cpus=float(max(1, reservation.cpus_per_instance or grant.num_cpus)),
        memory_bytes=grant.memory_bytes,
        gpus=reservation.gpus_per_instance,
        custom=dict(node_resources),
    )


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
    node_resources: Mapping[str, float] | None = None,
) -> TrainingJob:
    """Start one ``kiln.runtime.training`` process per host for the job's current attempt, each with
    its grant from ``reservation`` (CPUs, memory cap, GPUs) and its instance type's
    ``node_resources``; the first host logs the job's warnings. Returns the job as it is once every
    host has started."""
    hosts = [h.host for h in job.hosts]
    # Placed first: on a cluster, algo-1's node (the rendezvous) is known only once Ray has room for
    # every host. GroupNotPlaced (no room now) reaches the caller, which tries again later.
    resources = [_resources(reservation, g, node_resources or {}) for g in reservation.grants[: len(hosts)]]
    placement = executor.place_group(resources)
    try:
        units = _host_units(
            settings, store, executor, server_url, job, reservation, credential, placement, resources
        )
    except BaseException:
        executor.release_placement(placement)
        raise
    handles = executor.launch_group(units, placement)  # all hosts at once: one placement group on a cluster
    for host, handle in zip(hosts, handles, strict=True):
        job = metadata.update_host(
            db,
            job.name,
            host,
            state=HostState.RUNNING,
            handle=handle,
            node=executor.node_name(handle),
            exit_code=None,
            failure_reason=None,
            last_batch=0,
            last_heartbeat=utcnow(),
        )
    return job


def _host_units(
    settings: Settings,
    store: ArtifactStore,
    executor: Executor,
    server_url: str,
    job: TrainingJob,
    reservation: Reservation,
    credential: str | None,
    placement: Placement,
    resources: list[UnitResources],
) -> list[LaunchUnit]:
    hosts = [h.host for h in job.hosts]
    master_addr, port = placement.rendezvous
    units: list[LaunchUnit] = []
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
            master_addr=master_addr,
            master_port=port,
            host_addresses=dict(zip(hosts, placement.addresses, strict=True)) if placement.addresses else {},
            environment={"KILN_VENVS_DIR": str(settings.venvs_dir)},
            # CPU and GPU ids are this machine's: on other nodes the executor holds the amounts.
            cpus=[] if executor.remote else list(grant.cpus),
            gpus=None if grant.gpus is None or executor.remote else list(grant.gpus),
            memory_bytes=grant.memory_bytes,
            notices=list(job.capacity_warnings) if index == 0 else [],
            server_record=str(settings.server_record_path),
            kind=job.kind,
        )
        spec_path = folder / "host.json"
        # Kept here too: a restarted server finds what an earlier one launched by it (launched_before).
        spec.save(spec_path)
        (folder / CREDENTIAL_FILE).unlink(missing_ok=True)  # an unread one from an earlier attempt
        unit = _host_unit(settings, job.name, host, spec_path)
        units.append(replace(unit, files=_unit_files(spec, credential), resources=resources[index]))
    return units


def _host_unit(settings: Settings, job_name: str, host: str, spec_path: Path) -> LaunchUnit:
    """What the executor starts for one host: the same for a launch and for finding an earlier one."""
    return LaunchUnit(
        command=[sys.executable, "-m", "kiln.runtime.training", str(spec_path)],
        env=_runtime_environment(settings),
        workdir=spec_path.parent,
        log_name=RUNTIME_LOG,
        labels={"training-job": job_name, "host": host},
    )


@dataclass(frozen=True)
class LaunchedBefore:
    """A host of this attempt that an earlier server started without recording it: it still runs
    (``handle``), or it ran to its end while no server listened (``result``, the result it left)."""

    handle: str | None = None
    result: dict[str, Any] | None = None


def launched_before(
    settings: Settings, executor: Executor, job: TrainingJob, host: str
) -> LaunchedBefore | None:
    """Whether ``host`` of the job's current attempt was launched by a server killed before it
    stored the handle (between ``launch_group`` and ``update_host``); None if it never was.

    Launching it again would run the script twice and store every line twice, so a restarted
    server adopts what runs, and takes the result of what ended, instead.
    """
    spec_path = settings.jobs_dir / job.name / host / "host.json"
    try:
        if HostSpec.load(spec_path).attempt != job.attempt:
            return None
    except (OSError, ValueError, TypeError, KeyError):
        return None  # never written: this attempt never got as far as launching
    unit = _host_unit(settings, job.name, host, spec_path)
    handle = executor.find(unit)
    if handle is not None:
        return LaunchedBefore(handle=handle)
    result = executor.read_unrecorded_result(unit)
    # None: written but never run (or died without a word): launching it is right.
    if result is not None and result.get("attempt") == job.attempt:
        return LaunchedBefore(result=result)
    return None


def _fresh_outputs(root: Path) -> None:
    for name in ("model", "output"):
        shutil.rmtree(root / name, ignore_errors=True)
