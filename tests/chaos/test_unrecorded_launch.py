"""A kill -9 between starting a job's host and storing its process: the restarted server finds the
host that already runs (or already ended) and adopts it, instead of running the script a second time
(which stored every log line twice). The window is milliseconds wide, so the test reproduces the
state it leaves: the host row without its process."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

import kiln
from conftest import processes_mentioning, start_server, wait_until

pytestmark = pytest.mark.chaos

TICKS = 30
TICKING = f"""
import time
for i in range({TICKS}):
    print(f"tick {{i}}", flush=True)
    time.sleep(0.1)
"""


def _forget_the_host_process(home: Path, job: str) -> None:
    with sqlite3.connect(home / "kiln.db") as db:
        db.execute(
            "UPDATE training_job_hosts SET handle = NULL "
            "WHERE job_id = (SELECT id FROM training_jobs WHERE name = ?)",
            (job,),
        )


def _ticks(session: kiln.Session, job: str) -> list[str]:
    page = session.client.training_job_logs(job, 0, 10_000)["Events"]
    return [e["message"] for e in page if e["message"].startswith("tick ")]


@pytest.mark.parametrize("ends_while_down", [False, True])
def test_a_host_launched_but_not_recorded_is_adopted_not_run_twice(
    tmp_path: Path, write_script: Any, ends_while_down: bool
) -> None:
    home = tmp_path / "home"
    server = start_server(home)
    session = server.session()
    job = "unrecorded-host"
    kiln.Estimator("train.py", source_dir=str(write_script(TICKING)), sagemaker_session=session).fit(
        job_name=job, wait=False
    )
    wait_until(lambda: "tick 3" in _ticks(session, job), timeout=60)
    server.stop(signal.SIGKILL)
    if ends_while_down:
        wait_until(lambda: (home / "jobs" / job / "algo-1" / "result.json").exists(), timeout=60)
    _forget_the_host_process(home, job)

    server = start_server(home)
    try:
        session = server.session()
        wait_until(
            lambda: session.describe_training_job(job)["TrainingJobStatus"] != "InProgress", timeout=60
        )

        assert session.describe_training_job(job)["TrainingJobStatus"] == "Completed"
        # A second run would still be going: wait for every process of the job to end, then count.
        wait_until(lambda: not processes_mentioning(str(home / "jobs" / job)), timeout=30)
        time.sleep(1.0)  # its last batch of lines, if any, arrives within a report interval
        assert _ticks(session, job) == [f"tick {i}" for i in range(TICKS)]  # ran once
        if not ends_while_down:
            assert f"re-adopting host algo-1 of {job}" in (home / "server.log").read_text()
        session.close()
    finally:
        server.stop()
