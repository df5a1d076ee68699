"""The queue through the real server: jobs that do not fit wait Pending with the reason, start by
themselves in order (priority first) as soon as capacity frees up, and can be stopped while waiting."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from capacity_support import CPUS, Jobs, capacity_server, transition

from conftest import ON_EVERY_BACKEND, RunningServer

pytestmark = ON_EVERY_BACKEND  # PostgreSQL + S3 as well as SQLite + a folder (conftest.py)

CONFIG = f"""
[instance_types."kiln.whole"]  # this machine's every CPU: one job at a time
vcpus = {CPUS}
memory_gib = 1
price_per_hour = 3.6
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = capacity_server(tmp_path_factory.mktemp("queue-home"), CONFIG)
    yield running
    running.stop()


@pytest.fixture
def jobs(server: RunningServer, write_script) -> Iterator[Jobs]:
    source = write_script(
        """
        import os, time
        print("started", os.environ["TRAINING_JOB_NAME"], flush=True)
        time.sleep(float(os.environ.get("SLEEP", "1")))
        """
    )
    session = server.session()
    yield Jobs(session, source)
    session.close()


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_waiting_jobs_start_by_themselves_in_order_with_priority_first(jobs: Jobs) -> None:
    first = jobs.create("queue-first", "kiln.whole")
    assert first["SecondaryStatus"] in ("Starting", "Downloading", "Training")
    waiting = [jobs.create(name, "kiln.whole") for name in ("queue-second", "queue-third")]
    urgent = jobs.create("queue-urgent", "kiln.whole", priority=10)

    for described in [*waiting, urgent]:
        assert described["TrainingJobStatus"] == "InProgress"
        assert described["SecondaryStatus"] == "Pending"
        message = described["SecondaryStatusTransitions"][0]["StatusMessage"]
        assert message.startswith(f"waiting for capacity: needs {CPUS} CPU")
        assert ", 0 free" in message
    assert waiting[1]["SecondaryStatusTransitions"][0]["StatusMessage"].endswith("; 1 ahead in the queue")
    assert urgent["Priority"] == 10

    order = ["queue-first", "queue-urgent", "queue-second", "queue-third"]
    ended = {name: jobs.wait(name) for name in order}
    assert all(d["TrainingJobStatus"] == "Completed" for d in ended.values())
    starts = [_time(transition(ended[name], "Starting")["StartTime"]) for name in order]
    assert starts == sorted(starts)
    for before, after in itertools.pairwise(order):
        freed = _time(transition(ended[before], "Completed")["StartTime"])
        started = _time(transition(ended[after], "Starting")["StartTime"])
        assert 0 <= (started - freed).total_seconds() < 1.0, (before, after)  # admitted at once
        # Never two at once: each started after the one before it had ended.
        assert started >= _time(ended[before]["TrainingEndTime"])
    pending = transition(ended["queue-third"], "Pending")
    assert pending["EndTime"] is not None
    assert [t["Status"] for t in ended["queue-third"]["SecondaryStatusTransitions"]][:3] == [
        "Pending",
        "Starting",
        "Downloading",
    ]
    # Waiting is not billed: billable seconds count training only.
    assert ended["queue-third"]["BillableTimeInSeconds"] <= ended["queue-third"]["TrainingTimeInSeconds"] + 1


def test_a_job_stopped_while_waiting_ends_at_once_and_is_not_billed(
    jobs: Jobs, server: RunningServer
) -> None:
    holder = jobs.request("stop-holder", "kiln.whole")
    holder["Environment"] = {"SLEEP": "3"}
    jobs.session.client.create_training_job(holder)
    waiting = jobs.create("stop-waiting", "kiln.whole")
    assert waiting["SecondaryStatus"] == "Pending"

    stopped = jobs.session.stop_training_job("stop-waiting")

    assert stopped["TrainingJobStatus"] == "Stopped"
    assert stopped["SecondaryStatus"] == "Stopped"
    assert stopped["SecondaryStatusTransitions"][-1]["StatusMessage"] == "Stopped while waiting for capacity"
    assert stopped["BillableTimeInSeconds"] == 0
    assert stopped["EstimatedCost"] == 0
    assert all(h["State"] == "Launching" for h in stopped["Hosts"])  # no host process ever started
    assert not (Path(server.home) / "jobs" / "stop-waiting").exists()
    assert jobs.wait("stop-holder")["TrainingJobStatus"] == "Completed"
