"""Batch transform jobs as use-cases: create, describe, list, stop, logs; each job runs in the background.

A job holds capacity like a training job (limited as "transform" in the limits table, billed per
instance-second), starts its instances through the same ``InstanceFleet`` endpoints use, feeds them
its input objects (``TransformRun``) and stops them whatever happens.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiln.artifacts import ArtifactStore
from kiln.config import Settings
from kiln.executors import Executor
from kiln.metadata import Database, hosting
from kiln.metadata import transform_jobs as metadata
from kiln.records import CapacityUse, JobStatus, ReservationState, TransformJob, utcnow
from kiln.services.endpoint_instances import InstanceStartFailed
from kiln.services.instance_fleet import InstanceFleet, RunningProcess
from kiln.services.instance_links import InstanceLink
from kiln.services.status_filter import parse_status
from kiln.services.transform.plan import build_plan, confine_uris, list_inputs
from kiln.services.transform.request import CreateTransformJobRequest
from kiln.services.transform.worker import TransformFailed, TransformRun

__all__ = ["TransformJobService"]


@dataclass
class TransformJobService:
    settings: Settings
    db: Database
    store: ArtifactStore
    executor: Executor
    scheduler: Any = None
    _stops: dict[str, threading.Event] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def fleet(self) -> InstanceFleet:
        return InstanceFleet(self.settings, self.store, self.executor)

    def _folder(self, name: str) -> Path:
        return self.settings.home / "transform-jobs" / name

    def _owner(self, name: str) -> str:
        return f"transform/{name}"

    # -- use-cases ------------------------------------------------------------------------------------

    def create(
        self, request: CreateTransformJobRequest, *, as_submitted: dict[str, Any] | None = None
    ) -> TransformJob:
        """Check the model and the URIs, hold capacity, store the job and start it in the background.
        A door that keeps members Kiln does not act on (the AWS wire, a pipeline step) passes the
        request ``as_submitted``, which is stored instead."""
        name = request.TransformJobName
        hosting.get_model(self.db, request.ModelName)
        confine_uris(request, self.store)
        if metadata.find_transform_job(self.db, name) is not None:
            raise metadata.TRANSFORM_JOBS.already_exists(name)
        resources = request.TransformResources
        if self.scheduler is not None:
            # Refused at once over the account limit; otherwise held, or queued until there is room.
            self.scheduler.reserve(
                CapacityUse.TRANSFORM, self._owner(name), resources.InstanceType, resources.InstanceCount
            )
        spec = dict(as_submitted) if as_submitted is not None else request.spec
        try:
            job = metadata.insert_transform_job(self.db, name, spec, utcnow())
        except Exception:
            if self.scheduler is not None:
                self.scheduler.release(self._owner(name), forget=True)
            raise
        self._start(job)
        return job

    def _start(self, job: TransformJob) -> None:
        """Run the job in the background (its instances are started there, once it holds capacity)."""
        stop = threading.Event()
        with self._lock:
            self._stops[job.name] = stop
        threading.Thread(
            target=self._run, args=(job, stop), name=f"kiln-transform-{job.name}", daemon=True
        ).start()

    def describe(self, name: str) -> TransformJob:
        return metadata.get_transform_job(self.db, name)

    def list_jobs(
        self, status: str | None = None, name_contains: str | None = None, limit: int = 100
    ) -> list[TransformJob]:
        wanted = parse_status(JobStatus, status, "transform job")
        return metadata.list_transform_jobs(self.db, status=wanted, name_contains=name_contains, limit=limit)

    def stop(self, name: str) -> TransformJob:
        job = metadata.get_transform_job(self.db, name)
        if job.status.is_terminal() or job.status is JobStatus.STOPPING:
            return job  # SageMaker: stopping an ended job changes nothing
        job = metadata.update_transform_job(
            self.db, name, utcnow(), status=JobStatus.STOPPING, stop_requested_at=utcnow()
        )
        with self._lock:
            event = self._stops.get(name)
        if event is not None:
            event.set()
        return job

    def logs(self, name: str, tail: int = 1000) -> list[dict[str, Any]]:
        """The job's own log, then each instance's: ``{"Stream", "Lines"}``, CloudWatch's stream names."""
        metadata.get_transform_job(self.db, name)
        folder = self._folder(name)
        streams = [("job.log", f"{name}/job")]
        for path in sorted(folder.glob("instance-*/instance.log")):
            streams.append((str(path.relative_to(folder)), f"{name}/{path.parent.name}"))
        result = []
        for relative, stream in streams:
            try:
                lines = (folder / relative).read_text(errors="replace").splitlines()[-tail:]
            except FileNotFoundError:
                lines = []
            result.append({"Stream": stream, "Lines": lines})
        return result

    def resume_interrupted(self) -> None:
        """At server start: the jobs the previous server was running. Their instances (still serving,
        if it was killed) are stopped; a job asked to stop is Stopped; any other runs again from its
        first input object. Outputs are written whole or not at all, so a second pass over an object
        replaces the first: nothing is lost, nothing is left half-written."""
        for job in metadata.list_transform_jobs(self.db, limit=10_000):
            if job.status.is_terminal():
                continue
            for handle in job.instance_handles:
                self.executor.stop(handle, force=True)
            if job.status is JobStatus.STOPPING or job.stop_requested_at is not None:
                metadata.update_transform_job(
                    self.db,
                    job.name,
                    utcnow(),
                    status=JobStatus.STOPPED,
                    end_time=utcnow(),
                    billable_seconds=job.billable_seconds_at(utcnow()),
                    instance_handles=(),
                )
                if self.scheduler is not None:
                    self.scheduler.release(self._owner(job.name))
                continue
            if self.scheduler is not None and self.scheduler.find(self._owner(job.name)) is None:
                self.scheduler.reserve(  # the previous server died before it stored the reservation
                    CapacityUse.TRANSFORM, self._owner(job.name), job.instance_type, job.instance_count
                )
            job = metadata.update_transform_job(self.db, job.name, utcnow(), instance_handles=(), progress={})
            self._set_aside_instance_folders(job.name)
            self._log(
                job.name,
                "the Kiln server restarted while this job ran: its instances were stopped; "
                "transforming every input object again",
            )
            self._start(job)

    def _set_aside_instance_folders(self, name: str) -> None:
        """The previous run's instance folders, renamed: their logs say the instances were ready,
        and the new instances, started in fresh folders, must say so themselves."""
        for folder in sorted(self._folder(name).glob("instance-*")):
            attempt = 1
            while (aside := folder.with_name(f"interrupted-{attempt}-{folder.name}")).exists():
                attempt += 1
            folder.rename(aside)

    # -- the background run ---------------------------------------------------------------------------

    def _log(self, name: str, line: str) -> None:
        folder = self._folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "job.log").open("a") as log:
            log.write(f"{utcnow().isoformat(timespec='milliseconds')} {line}\n")

    def _wait_for_capacity(self, name: str, stop: threading.Event) -> list[int]:
        """Each instance's CPU count once the reservation is Active (empty: the whole machine)."""
        if self.scheduler is None:
            return []
        while not stop.is_set():
            reservation = self.scheduler.find(self._owner(name))
            if reservation is None:
                raise TransformFailed("InternalServerError: the job's capacity reservation is gone")
            if reservation.state is ReservationState.ACTIVE:
                if reservation.instance_type == "local":
                    return []  # local: the whole machine, shared, as SageMaker local mode
                return [grant.num_cpus for grant in reservation.grants]
            time.sleep(0.1)
        return []

    def _run(self, job: TransformJob, stop: threading.Event) -> None:
        name = job.name
        processes: list[RunningProcess] = []
        status, reason = JobStatus.COMPLETED, None
        started = ended = None
        run: TransformRun | None = None
        try:
            self._log(name, f"transform job {name} created")
            cpus = self._wait_for_capacity(name, stop)
            if stop.is_set():
                raise asyncio.CancelledError()
            objects = list_inputs(self.store, job.spec["TransformInput"]["DataSource"]["S3DataSource"])
            plan = build_plan(job.spec, objects)
            self._log(name, f"{len(objects)} input objects; starting {job.instance_count} instance(s)")
            model = hosting.get_model(self.db, job.spec["ModelName"])
            fleet = self.fleet
            prepared = fleet.prepare(model)
            environment = self._environment(job, plan.max_payload_bytes // (1024 * 1024), plan.concurrency)
            launches = []
            for index in range(job.instance_count):
                launched = fleet.launch(
                    model,
                    prepared,
                    self._folder(name) / f"instance-{index + 1}",
                    environment=environment,
                    threads=cpus[index] if index < len(cpus) else None,
                )
                processes.append(RunningProcess(launched.handle, launched.socket_path))
                launches.append(launched)
                # Stored at once: a server killed from here on leaves handles its successor stops.
                handles = tuple(process.handle for process in processes if process.handle)
                metadata.update_transform_job(self.db, name, utcnow(), instance_handles=handles)
            for launched in launches:
                fleet.wait_ready(launched)
            started = utcnow()
            metadata.update_transform_job(self.db, name, started, start_time=started)
            self._log(name, "instances serving; transforming")
            links = [InstanceLink(f"instance-{i + 1}", one.socket_path) for i, one in enumerate(launches)]
            run = TransformRun(plan, self.store, links, lambda line: self._log(name, line), stop)
            asyncio.run(run.run())
            ended = utcnow()  # the last output is written; stopping the instances is not transforming
        except (asyncio.CancelledError, KeyboardInterrupt):
            status = JobStatus.STOPPED
        except TransformFailed as e:
            status, reason = JobStatus.FAILED, str(e)
        except InstanceStartFailed as e:
            status, reason = JobStatus.FAILED, str(e)
        except Exception as e:  # the boundary: a job's failure never takes the server down
            status, reason = JobStatus.FAILED, f"InternalServerError: {type(e).__name__}: {e}"
        finally:
            self.fleet.stop(processes)
            if stop.is_set() and status is JobStatus.COMPLETED:
                status = JobStatus.STOPPED
            self._finish(job, status, reason, started, ended, run)

    def _environment(self, job: TransformJob, payload_mb: int, concurrency: int) -> dict[str, str]:
        environment = {str(k): str(v) for k, v in (job.spec.get("Environment") or {}).items()}
        strategy = str(job.spec.get("BatchStrategy", "MultiRecord"))
        environment.update(
            {
                "SAGEMAKER_BATCH": "true",
                "SAGEMAKER_MAX_PAYLOAD_IN_MB": str(payload_mb),
                "SAGEMAKER_BATCH_STRATEGY": "SINGLE_RECORD" if strategy == "SingleRecord" else "MULTI_RECORD",
                "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": str(concurrency),
            }
        )
        return environment

    def _finish(
        self,
        job: TransformJob,
        status: JobStatus,
        reason: str | None,
        started: Any,
        ended: Any,
        run: TransformRun | None,
    ) -> None:
        now = utcnow()
        # Billed while the instances ran, their shutdown included, as SageMaker bills instances.
        billable = 0 if started is None else max(1, int((now - started).total_seconds())) * job.instance_count
        changes: dict[str, Any] = {
            "status": status,
            "end_time": ended or now,
            "billable_seconds": billable,
            "failure_reason": reason,
        }
        if run is not None:
            changes["progress"] = run.progress.as_dict()
        metadata.update_transform_job(self.db, job.name, now, **changes)
        self._log(job.name, f"{status.value}" + (f": {reason}" if reason else ""))
        if self.scheduler is not None:
            self.scheduler.release(self._owner(job.name))
        with self._lock:
            self._stops.pop(job.name, None)
