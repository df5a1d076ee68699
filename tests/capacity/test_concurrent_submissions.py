"""Many clients at once: 50 jobs from 10 processes, plus one name everyone tries. Every request is
accepted under a unique name or refused with a clear reason; none is lost or duplicated, and the
account limit holds exactly however the requests interleave."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from capacity_support import Jobs, capacity_server

from conftest import ON_EVERY_BACKEND, wait_until

pytestmark = ON_EVERY_BACKEND  # PostgreSQL + S3 as well as SQLite + a folder (conftest.py)

PROCESSES = 10
JOBS_PER_PROCESS = 5
LIMIT = 45

CONFIG = f"""
[instance_types."kiln.one"]
vcpus = 1

[limits.training]
"kiln.one" = {LIMIT}
"""

CLIENT = """
import json, sys, time
from concurrent.futures import ThreadPoolExecutor
from kiln.sdk.client import KilnClient
from kiln.errors import KilnError

url, requests_file, start_at, out = sys.argv[1:]
requests = json.load(open(requests_file))
client = KilnClient(url)

def submit(request):
    try:
        answer = client.create_training_job(request)
        return {"name": request["TrainingJobName"], "accepted": answer["TrainingJobName"]}
    except KilnError as e:
        return {"name": request["TrainingJobName"], "refused": type(e).__name__, "message": e.message}

time.sleep(max(0.0, float(start_at) - time.time()))  # every process fires at the same moment
with ThreadPoolExecutor(len(requests)) as pool:
    results = list(pool.map(submit, requests))
json.dump(results, open(out, "w"))
"""


def test_fifty_jobs_from_ten_processes_are_all_accounted_for(tmp_path: Path, write_script) -> None:
    server = capacity_server(tmp_path / "home", CONFIG)
    try:
        session = server.session()
        jobs = Jobs(session, write_script("import time; time.sleep(30)"))
        client_script = tmp_path / "client.py"
        client_script.write_text(textwrap.dedent(CLIENT))
        start_at = time.time() + 3.0
        clients = []
        for p in range(PROCESSES):
            requests = [jobs.request(f"many-p{p}-j{j}", "kiln.one") for j in range(JOBS_PER_PROCESS)]
            requests.append(jobs.request("many-shared-name", "kiln.one"))
            (tmp_path / f"requests-{p}.json").write_text(json.dumps(requests))
            clients.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        str(client_script),
                        server.url,
                        str(tmp_path / f"requests-{p}.json"),
                        str(start_at),
                        str(tmp_path / f"results-{p}.json"),
                    ],
                    env=server.env(),
                )
            )
        assert [c.wait(timeout=120) for c in clients] == [0] * PROCESSES
        results = [
            r for p in range(PROCESSES) for r in json.loads((tmp_path / f"results-{p}.json").read_text())
        ]

        assert len(results) == PROCESSES * (JOBS_PER_PROCESS + 1)
        accepted = [r["accepted"] for r in results if "accepted" in r]
        refused = [r for r in results if "refused" in r]
        assert len(accepted) == len(set(accepted)) == LIMIT  # 51 distinct names, room for 45
        assert accepted.count("many-shared-name") <= 1
        for refusal in refused:
            if refusal["refused"] == "Conflict":
                assert refusal["name"] == "many-shared-name"
                assert (
                    refusal["message"]
                    == "Training job 'many-shared-name' already exists; choose another TrainingJobName."
                )
            else:
                assert refusal["refused"] == "ResourceLimitExceeded", refusal
                assert refusal["message"].startswith(
                    f"The account-level service limit 'kiln.one for training job usage' is {LIMIT} Instances, "
                    f"with current utilization of {LIMIT} Instances and a request delta of 1 Instances."
                )
        listed = [j["TrainingJobName"] for j in session.client.list_training_jobs(limit=1000)]
        assert sorted(listed) == sorted(accepted)
        statuses = {j["SecondaryStatus"] for j in session.client.list_training_jobs(limit=1000)}
        assert statuses <= {"Pending", "Starting", "Downloading", "Training"}
        limits = session.client.call("GET", "/limits")
        one = next(e for e in limits["Limits"] if e["Name"] == "kiln.one for training job usage")
        assert one == {
            "Name": "kiln.one for training job usage",
            "InstanceType": "kiln.one",
            "Use": "training",
            "Limit": LIMIT,
            "CurrentUtilization": LIMIT,
        }
        capacity = limits["Capacity"]
        assert capacity["ActiveReservations"] + capacity["PendingReservations"] == LIMIT
        assert capacity["ActiveReservations"] == capacity["CpuSlots"]

        for name in accepted:
            session.stop_training_job(name)
        wait_until(
            lambda: all(
                j["TrainingJobStatus"] == "Stopped" for j in session.client.list_training_jobs(limit=1000)
            ),
            timeout=60,
        )
        wait_until(lambda: session.client.call("GET", "/limits")["Capacity"]["ActiveReservations"] == 0)
        session.close()
    finally:
        server.stop()
