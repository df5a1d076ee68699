"""Helpers for the capacity tests: a server with its own config.toml, and job requests built once."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import kiln
from conftest import RunningServer, start_server, wait_until

CPUS = len(os.sched_getaffinity(0))


def capacity_server(home: Path, config: str, extra_env: dict[str, str] | None = None) -> RunningServer:
    """A server whose $KILN_HOME/config.toml is ``config`` (dedented)."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(textwrap.dedent(config))
    return start_server(home, extra_env=extra_env)


class Jobs:
    """CreateTrainingJob requests for one script, uploaded once, differing in name, type and priority."""

    def __init__(self, session: kiln.Session, source: Path, entry_point: str = "train.py") -> None:
        self.session = session
        estimator = kiln.Estimator(entry_point, source_dir=str(source), sagemaker_session=session)
        self._base = estimator._training_request(f"template-{source.parent.name[-30:]}", None)

    def request(
        self, name: str, instance_type: str, *, count: int = 1, priority: int | None = None
    ) -> dict[str, Any]:
        request = json.loads(json.dumps(self._base))
        request["TrainingJobName"] = name
        request["ResourceConfig"].update(InstanceType=instance_type, InstanceCount=count)
        request["HyperParameters"]["sagemaker_job_name"] = json.dumps(name)
        if priority is not None:
            request["Priority"] = priority
        return request

    def create(self, name: str, instance_type: str, **options: Any) -> dict[str, Any]:
        return self.session.client.create_training_job(self.request(name, instance_type, **options))

    def wait(self, name: str, timeout: float = 60) -> dict[str, Any]:
        def ended() -> dict[str, Any] | None:
            described = self.session.describe_training_job(name)
            return described if described["TrainingJobStatus"] in ("Completed", "Failed", "Stopped") else None

        found: dict[str, Any] = wait_until(ended, timeout=timeout, interval=0.1)
        return found

    def messages(self, name: str) -> list[str]:
        return [e["message"] for e in self.session.client.training_job_logs(name, limit=10_000)["Events"]]


def transition(described: dict[str, Any], status: str) -> dict[str, Any]:
    return next(t for t in described["SecondaryStatusTransitions"] if t["Status"] == status)
