"""SM_NUM_CPUS / SM_NUM_GPUS report the instance type, the same on every host; local mode's hosts each
see the whole machine (SageMaker local mode runs every container on it), while their threads keep to
their share."""

from __future__ import annotations

import json
import os

import pytest

import kiln

REPORT = """
import json, os
print("SEEN " + json.dumps({
    "host": os.environ["SM_CURRENT_HOST"],
    "sm": [int(os.environ["SM_NUM_CPUS"]), int(os.environ["SM_NUM_GPUS"])],
    "env": [json.loads(os.environ["SM_TRAINING_ENV"])[k] for k in ("num_cpus", "num_gpus")],
    "threads": int(os.environ["OMP_NUM_THREADS"]),
}), flush=True)
"""
CPUS = len(os.sched_getaffinity(0))


def _seen(session: kiln.Session, estimator: kiln.Estimator) -> dict[str, dict]:  # type: ignore[type-arg]
    name = estimator.latest_training_job.name  # type: ignore[union-attr]
    messages = [e["message"] for e in session.client.training_job_logs(name, limit=1000)["Events"]]
    seen = [json.loads(m[len("SEEN ") :]) for m in messages if m.startswith("SEEN ")]
    return {s["host"]: s for s in seen}


def test_local_hosts_each_see_the_whole_machine(session: kiln.Session, write_script) -> None:
    source = write_script(REPORT)
    estimator = kiln.Estimator(
        "train.py", source_dir=str(source), instance_count=2, instance_type="local", sagemaker_session=session
    )
    estimator.fit(logs=False)
    seen = _seen(session, estimator)
    assert set(seen) == {"algo-1", "algo-2"}
    for host in seen.values():
        assert host["sm"][0] == CPUS
        assert host["env"][0] == CPUS
        assert host["threads"] == max(1, CPUS // 2)  # the threads keep to the host's share


@pytest.mark.skipif(CPUS < 2, reason="needs two CPUs for a whole ml.m5.large")
def test_a_scheduled_type_reports_its_vcpus_on_every_host(session: kiln.Session, write_script) -> None:
    source = write_script(REPORT)
    estimator = kiln.Estimator(
        "train.py",
        source_dir=str(source),
        instance_count=2,
        instance_type="ml.m5.large",  # 2 vCPUs each; scaled to the machine, the same on both hosts
        sagemaker_session=session,
    )
    estimator.fit(logs=False)
    seen = _seen(session, estimator)
    reported = {host: s["sm"][0] for host, s in seen.items()}
    assert len(set(reported.values())) == 1, reported
    assert next(iter(reported.values())) == max(1, min(2, CPUS // 2))
    assert all(s["sm"][1] == 0 for s in seen.values())
