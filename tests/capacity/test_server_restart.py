"""kill -9 of the server while jobs run and wait: they keep running, and the restarted server (on another
port) re-adopts them: every log line arrives once, in order, status and metrics continue, the queue
goes on in order, and a job whose processes died meanwhile fails with a reason that says so."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import psutil
from capacity_support import CPUS, Jobs, capacity_server, transition

from conftest import ON_EVERY_BACKEND, processes_mentioning, start_server, wait_until

pytestmark = ON_EVERY_BACKEND  # PostgreSQL + S3 as well as SQLite + a folder (conftest.py)

CONFIG = f"""
[instance_types."kiln.whole"]
vcpus = {CPUS}
"""

TICKING = """
import os, time
for i in range(int(os.environ.get("TICKS", "40"))):
    print(f"tick {i} loss={1.0 / (i + 1):.4f}", flush=True)
    time.sleep(0.1)
"""


def _wait_for_line(jobs: Jobs, name: str, line: str) -> None:
    wait_until(lambda: any(m.startswith(line) for m in jobs.messages(name)), timeout=30)


def test_jobs_survive_a_kill_9_of_the_server_and_finish_with_complete_logs(
    tmp_path: Path, write_script
) -> None:
    home = tmp_path / "home"
    server = capacity_server(home, CONFIG)
    session = server.session()
    jobs = Jobs(session, write_script(TICKING))
    running = jobs.request("restart-running", "kiln.whole")
    running["AlgorithmSpecification"]["MetricDefinitions"] = [{"Name": "loss", "Regex": r"loss=([0-9.]+)"}]
    session.client.create_training_job(running)
    queued = jobs.create("restart-queued", "kiln.whole")
    assert queued["SecondaryStatus"] == "Pending"
    _wait_for_line(jobs, "restart-running", "tick 5")
    session.close()

    server.stop(signal.SIGKILL)
    time.sleep(1.0)  # the job goes on printing while no server listens
    assert processes_mentioning(str(home / "jobs" / "restart-running"))  # it kept running

    server = start_server(home)
    try:
        session = server.session()
        jobs.session = session
        first = jobs.wait("restart-running", timeout=60)
        second = jobs.wait("restart-queued", timeout=60)

        assert first["TrainingJobStatus"] == "Completed", first.get("FailureReason")
        ticks = [m for m in jobs.messages("restart-running") if m.startswith("tick")]
        assert ticks == [f"tick {i} loss={1.0 / (i + 1):.4f}" for i in range(40)]  # none lost, none twice
        metrics = session.client.training_job_metrics("restart-running")
        assert [m["Value"] for m in metrics] == [round(1.0 / (i + 1), 4) for i in range(40)]
        assert [t["Status"] for t in first["SecondaryStatusTransitions"]] == [
            "Starting",
            "Downloading",
            "Training",
            "Uploading",
            "Completed",
        ]
        assert first["ModelArtifacts"]["S3ModelArtifacts"].endswith("/restart-running/output/model.tar.gz")
        # The queued job waited for the first, then started by itself under the new server.
        assert second["TrainingJobStatus"] == "Completed", second.get("FailureReason")
        assert transition(second, "Starting")["StartTime"] >= first["TrainingEndTime"]
        assert len([m for m in jobs.messages("restart-queued") if m.startswith("tick")]) == 40
        assert session.client.call("GET", "/limits")["Capacity"]["ActiveReservations"] == 0
        session.close()
    finally:
        server.stop()


def test_a_job_whose_processes_died_while_the_server_was_down_fails_saying_so(
    tmp_path: Path, write_script
) -> None:
    home = tmp_path / "home"
    server = capacity_server(home, CONFIG)
    session = server.session()
    jobs = Jobs(session, write_script("import time\nprint('up', flush=True)\ntime.sleep(60)"))
    jobs.create("restart-orphan", "kiln.whole")
    waiting = jobs.create("restart-after-orphan", "kiln.whole")
    assert waiting["SecondaryStatus"] == "Pending"
    _wait_for_line(jobs, "restart-orphan", "up")
    session.close()

    server.stop(signal.SIGKILL)
    for process in processes_mentioning(str(home / "jobs" / "restart-orphan")):
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    wait_until(lambda: processes_mentioning(str(home / "jobs" / "restart-orphan")) == [])

    server = start_server(home)
    try:
        session = server.session()
        jobs.session = session
        failed = jobs.wait("restart-orphan", timeout=30)
        assert failed["TrainingJobStatus"] == "Failed"
        assert "died while the Kiln server was down" in failed["FailureReason"], failed["FailureReason"]
        assert failed["FailureReason"].startswith("InternalServerError: the process of host algo-1")
        # Its capacity went back: the waiting job starts by itself.
        wait_until(
            lambda: session.describe_training_job("restart-after-orphan")["SecondaryStatus"] != "Pending",
            timeout=30,
        )
        session.stop_training_job("restart-after-orphan")
        jobs.wait("restart-after-orphan", timeout=30)
        session.close()
    finally:
        server.stop()
