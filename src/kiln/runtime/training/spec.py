"""What the control plane tells one training host: written as JSON beside the host's tree."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["HostSpec"]


@dataclass(frozen=True)
class HostSpec:
    job_name: str
    host: str
    hosts: list[str]
    attempt: int
    server_url: str
    artifact_url: str
    base_dir: str  # this host's stand-in for /opt/ml
    job: dict[str, Any]  # the CreateTrainingJob (or CreateProcessingJob) request as stored
    stop_grace_seconds: float = 120.0
    num_cpus: int = 1
    num_gpus: int = 0
    master_port: int = 7777  # chosen free per job by the executor; SageMaker's toolkit uses 7777
    master_addr: str = "127.0.0.1"  # the executor's rendezvous host, where host names do not resolve
    # Each host's node address, where hosts run on several machines (a Ray cluster); {}: loopback.
    host_addresses: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    # The host's grant from the scheduler (SM_NUM_CPUS / SM_NUM_GPUS above report it):
    cpus: list[int] = field(default_factory=list)  # CPU ids for its affinity; []: not confined
    gpus: list[int] | None = None  # GPU ids for CUDA_VISIBLE_DEVICES; None: not managed (local mode)
    memory_bytes: int | None = None  # its memory cap (cgroup v2 memory.max, else RLIMIT_AS); None: none
    notices: list[str] = field(default_factory=list)  # lines for the job's log before anything runs
    server_record: str = ""  # $KILN_HOME/server.json: where the server is if it restarts elsewhere
    kind: str = "training"  # or "processing": ``job`` is then a CreateProcessingJob request

    @property
    def hyperparameters(self) -> dict[str, str]:
        return dict(self.job.get("HyperParameters") or {})

    @property
    def is_master(self) -> bool:
        return self.host == self.hosts[0]

    def dumps(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    def save(self, path: Path) -> None:
        path.write_text(self.dumps())

    @classmethod
    def load(cls, path: Path) -> HostSpec:
        return cls(**json.loads(path.read_text()))
