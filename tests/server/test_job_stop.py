"""Stopping a job: SIGTERM to the whole process tree, SIGKILL after the grace; nothing is left behind."""

from __future__ import annotations

import pytest

import kiln
from conftest import ON_EVERY_BACKEND, RunningServer, processes_mentioning, wait_until
from kiln.errors import Conflict

pytestmark = ON_EVERY_BACKEND  # PostgreSQL + S3 as well as SQLite + a folder (conftest.py)


def test_stopping_a_job_leaves_no_process_behind(
    server: RunningServer, session: kiln.Session, write_script
) -> None:
    source = write_script(
        """
        import subprocess, sys, time
        # A child that ignores SIGTERM and a grandchild in its own session: both must still go.
        subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
        print("children started", flush=True)
        while True:
            time.sleep(0.1)
        """
    )
    estimator = kiln.Estimator("train.py", source_dir=str(source), sagemaker_session=session)
    estimator.fit(wait=False)
    name = estimator.latest_training_job.name  # type: ignore[union-attr]
    wait_until(
        lambda: (
            "children started" in [e["message"] for e in session.client.training_job_logs(name)["Events"]]
        ),
        timeout=30,
    )
    job_dir = str(server.home / "jobs" / name)
    assert len(processes_mentioning(job_dir)) >= 2  # the runtime and the script, at least

    stopping = session.stop_training_job(name)
    assert stopping["TrainingJobStatus"] == "Stopping"
    final = wait_until(
        lambda: (d := session.describe_training_job(name))["TrainingJobStatus"] == "Stopped" and d, timeout=60
    )
    assert final["SecondaryStatus"] == "Stopped"
    assert [t["Status"] for t in final["SecondaryStatusTransitions"]][-2:] == ["Stopping", "Stopped"]
    wait_until(lambda: processes_mentioning(job_dir) == [], timeout=10)
    # The script's children were started without the job folder on their command line: find them by
    # their unusual sleep and make sure none survived.
    leftovers = [p for p in processes_mentioning("time.sleep(600)")]
    assert leftovers == []

    with pytest.raises(Conflict, match="already ended"):
        session.stop_training_job(name)
