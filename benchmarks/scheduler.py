"""The scheduler under a burst: 200 short jobs submitted at once to a fresh local server.

Prints jobs admitted per second (accepted by CreateTrainingJob: started or queued), queue wait p50/p99
(creation to leaving Pending), the control plane's own CPU time per job (the server process's user +
system CPU from the first submission to the last job's end: requests, host reports, supervision; not
the jobs' processes), and DescribeTrainingJob requests per second. Targets: ≥ 20 jobs/s admitted,
≤ 50 ms of control-plane CPU per job.

    .venv/bin/python benchmarks/scheduler.py [--jobs 200] [--clients 50] [--describe-seconds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

import kiln

TARGET_ADMITTED_PER_SECOND = 20.0
TARGET_CPU_MS_PER_JOB = 50.0
CONFIG = """
[instance_types."bench.one"]  # one CPU per job: as many run at once as this machine has CPUs
vcpus = 1
price_per_hour = 0.01

[limits.training]
"bench.one" = 100000
"""


def start_server(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
    env["KILN_HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(textwrap.dedent(CONFIG))
    log = (home / "server.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "kiln.server"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        record = home / "server.json"
        if record.exists():
            url = json.loads(record.read_text())["url"]
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                    return process, url
            except httpx.HTTPError:
                pass
        time.sleep(0.05)
    process.kill()
    raise SystemExit(f"the server did not start; see {home / 'server.log'}")


def base_request(session: kiln.Session, folder: Path) -> dict[str, Any]:
    (folder / "train.py").write_text('print("done")\n')
    estimator = kiln.Estimator("train.py", source_dir=str(folder), sagemaker_session=session)
    request: dict[str, Any] = estimator._training_request("bench-template", None)
    request["ResourceConfig"]["InstanceType"] = "bench.one"
    return request


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def submit_all(url: str, requests: list[dict[str, Any]], clients: int) -> tuple[float, list[str]]:
    local = threading.local()

    def submit(request: dict[str, Any]) -> str:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=url, timeout=120)
        answer = local.client.post("/api/v1/training-jobs", json=request)
        answer.raise_for_status()
        return str(answer.json()["SecondaryStatus"])

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        statuses = list(pool.map(submit, requests))
    return time.perf_counter() - started, statuses


def wait_for_all(client: httpx.Client) -> None:
    """Until no job is in progress; one small query a second, so the waiting costs the server little."""
    while client.get("/api/v1/training-jobs", params={"status": "InProgress", "limit": 1}).json()[
        "TrainingJobSummaries"
    ]:
        time.sleep(1.0)
    jobs = client.get("/api/v1/training-jobs", params={"limit": 1000}).json()["TrainingJobSummaries"]
    failed = [j["TrainingJobName"] for j in jobs if j["TrainingJobStatus"] != "Completed"]
    if failed:
        print(f"warning: {len(failed)} jobs did not complete, e.g. {failed[:3]}", file=sys.stderr)


def queue_waits(client: httpx.Client, names: list[str]) -> list[float]:
    waits = []
    for name in names:
        described = client.get(f"/api/v1/training-jobs/{name}").json()
        created = datetime.fromisoformat(described["CreationTime"])
        left = next(t for t in described["SecondaryStatusTransitions"] if t["Status"] != "Pending")
        waits.append((datetime.fromisoformat(left["StartTime"]) - created).total_seconds())
    return waits


def describe_rate(url: str, name: str, seconds: float, clients: int) -> float:
    stop_at = time.perf_counter() + seconds
    counts = [0] * clients

    def hammer(index: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            while time.perf_counter() < stop_at:
                client.get(f"/api/v1/training-jobs/{name}").raise_for_status()
                counts[index] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--clients", type=int, default=50, help="concurrent submitting connections")
    parser.add_argument("--describe-seconds", type=float, default=5.0)
    parser.add_argument("--describe-clients", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kiln-bench-scheduler-") as tmp:
        root = Path(tmp)
        server, url = start_server(root / "home")
        try:
            session = kiln.Session(url)
            template = base_request(session, root)
            requests = []
            for i in range(args.jobs):
                request = json.loads(json.dumps(template))
                request["TrainingJobName"] = f"bench-{i:04d}"
                requests.append(request)
            process = psutil.Process(server.pid)
            cpu_before = cpu_seconds(process)
            elapsed, statuses = submit_all(url, requests, args.clients)
            with httpx.Client(base_url=url, timeout=120) as client:
                wait_for_all(client)
                cpu_per_job_ms = (cpu_seconds(process) - cpu_before) / args.jobs * 1000
                waits = queue_waits(client, [r["TrainingJobName"] for r in requests])
            rate = describe_rate(
                url, requests[0]["TrainingJobName"], args.describe_seconds, args.describe_clients
            )
            session.close()
        finally:
            server.terminate()
            server.wait(timeout=30)

    admitted = args.jobs / elapsed
    pending = sum(s == "Pending" for s in statuses)
    cpus = len(os.sched_getaffinity(0))
    print(f"machine: {cpus} CPUs; {args.jobs} jobs of 1 vCPU, {args.clients} concurrent clients")
    print(
        f"jobs admitted per second:      {admitted:8.1f}   (target ≥ {TARGET_ADMITTED_PER_SECOND:g}; "
        f"{args.jobs - pending} started at once, {pending} queued)"
    )
    print(
        f"queue wait p50 / p99:          {statistics.median(waits):8.2f} s / {percentile(waits, 0.99):.2f} s"
    )
    print(f"control-plane CPU per job:     {cpu_per_job_ms:8.1f} ms (target ≤ {TARGET_CPU_MS_PER_JOB:g})")
    print(f"describe-job requests/second:  {rate:8.1f}   ({args.describe_clients} clients)")
    ok = admitted >= TARGET_ADMITTED_PER_SECOND and cpu_per_job_ms <= TARGET_CPU_MS_PER_JOB
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
