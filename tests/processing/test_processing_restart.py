"""Processing jobs share the host-job lifecycle: they queue behind each other for capacity, and a
kill -9 of the server leaves them running; the restarted server re-adopts them and runs the queue on."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from processing_support import processing_request, unique, upload_code, wait_for_end
from tests.capacity.capacity_support import CPUS, capacity_server

from conftest import processes_mentioning, start_server, wait_until

CONFIG = f"""
[instance_types."kiln.whole"]
vcpus = {CPUS}
"""

TICKING = """
import time
for i in range(30):
    print(f"tick {i}", flush=True)
    time.sleep(0.1)
"""


def test_queued_and_running_processing_jobs_survive_a_kill_9_of_the_server(tmp_path: Path) -> None:
    home = tmp_path / "home"
    server = capacity_server(home, CONFIG)
    session = server.session()
    first, second = unique("restart-proc-a"), unique("restart-proc-b")
    for name in (first, second):
        request = processing_request(name, upload_code(session, name, TICKING))
        request["ProcessingResources"]["ClusterConfig"]["InstanceType"] = "kiln.whole"
        created = session.client.create_processing_job(request)
    assert created["SecondaryStatus"] == "Pending"  # the second waits for the first's CPUs

    def ticks(name: str) -> list[str]:
        events = session.client.processing_job_logs(name, limit=10_000)["Events"]
        return [e["message"] for e in events if e["message"].startswith("tick")]

    wait_until(lambda: "tick 5" in ticks(first), timeout=30)
    session.close()
    server.stop(signal.SIGKILL)
    time.sleep(1.0)  # the job goes on while no server listens
    assert processes_mentioning(str(home / "jobs" / first))

    server = start_server(home)
    try:
        session = server.session()
        done_first = wait_for_end(session, first, timeout=60)
        done_second = wait_for_end(session, second, timeout=60)
        assert done_first["ProcessingJobStatus"] == "Completed", done_first.get("FailureReason")
        assert done_second["ProcessingJobStatus"] == "Completed", done_second.get("FailureReason")
        assert ticks(first) == [f"tick {i}" for i in range(30)]  # none lost, none twice
        assert done_second["ProcessingStartTime"] >= done_first["ProcessingEndTime"]
        assert done_first["BillableTimeInSeconds"] >= 3
        assert session.client.call("GET", "/limits")["Capacity"]["ActiveReservations"] == 0
        session.close()
    finally:
        server.stop()
