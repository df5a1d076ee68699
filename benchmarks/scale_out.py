"""Scaling out on Ray: the same burst of one-CPU jobs on a 1-node and a 2-node Ray cluster and on the
local executor, side by side.

Each setup gets a fresh server (its own KILN_HOME, an instance type of 1 vCPU, no limit on it); the Ray
clusters are Ray's own multi-node test cluster on this machine (a head of 0 CPUs, and nodes of 1 CPU
each, so a node runs one job at a time). For each setup it measures:

* **throughput**: ``--jobs`` jobs, each sleeping ``--seconds``, submitted at once; completed jobs per
  minute from the first submission to the last job's end. The 2-node cluster should manage ≥ 1.8×
  the 1-node one.
* **latency**: submission → the script's first line (its log line's timestamp), one job at a time on
  the idle setup, ``--latency-rounds`` times; Ray should add at most 1.0 s to the local executor's.

The local executor runs as many jobs at once as this machine has CPUs, so its throughput is a
reference, not a target.

    .venv/bin/python benchmarks/scale_out.py                       # 40 jobs of 10 s (about 15 minutes)
    .venv/bin/python benchmarks/scale_out.py --jobs 6 --seconds 2  # a quick run
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
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

import kiln

TARGET_SPEEDUP = 1.8  # 2 nodes over 1 node, in jobs per minute
TARGET_EXTRA_LATENCY_SECONDS = 1.0  # Ray's submission → first line over the local executor's
SERVER_START_TIMEOUT_SECONDS = 90.0
JOB_TIMEOUT_SECONDS = 600.0  # one job of the latency rounds, or the whole burst beyond its ideal time
LINGER_SECONDS = 5.0  # a unit's actor leaves soon after its job: the burst's actors do not pile up
FIRST_LINE = "scale-out: started"
CONFIG = """
[instance_types."bench.one"]  # one CPU per job: a Ray node of 1 CPU runs one at a time
vcpus = 1
price_per_hour = 0.01

[limits.training]
"bench.one" = 100000
"""
SCRIPT = f"""
import sys, time
print("{FIRST_LINE}", flush=True)
time.sleep(float(sys.argv[sys.argv.index("--seconds") + 1]))
"""


@dataclass(frozen=True)
class Outcome:
    setup: str
    jobs_per_minute: float
    burst_seconds: float
    latencies: list[float]
    failed: int


# -- the setups -------------------------------------------------------------------------------------------


@contextmanager
def ray_cluster(nodes: int) -> Iterator[str]:
    """A Ray cluster on this machine: a head of 0 CPUs and ``nodes`` nodes of 1 CPU; its address."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    try:
        for _ in range(nodes):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        yield str(cluster.address)
    finally:
        cluster.shutdown()


@contextmanager
def kiln_server(home: Path, extra_env: dict[str, str]) -> Iterator[str]:
    """A fresh server in ``home`` with the benchmark's instance type; its URL."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(textwrap.dedent(CONFIG))
    env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
    env.update(KILN_HOME=str(home), **extra_env)
    with (home / "server.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "kiln.server"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield _wait_for_server(home, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_server(home: Path, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
    record = home / "server.json"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited; see {home / 'server.log'}")
        if record.exists():
            url = str(json.loads(record.read_text())["url"])
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    raise SystemExit(
        f"the server did not start in {SERVER_START_TIMEOUT_SECONDS:g} s; see {home / 'server.log'}"
    )


# -- the measurements -------------------------------------------------------------------------------------


def template(session: kiln.Session, folder: Path, seconds: float) -> Callable[[str], dict[str, Any]]:
    """A CreateTrainingJob request for the sleeping script, uploaded once, by job name."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.py").write_text(textwrap.dedent(SCRIPT))
    estimator = kiln.Estimator(
        "train.py",
        source_dir=str(folder),
        instance_type="bench.one",
        hyperparameters={"seconds": seconds},
        sagemaker_session=session,
    )
    base: dict[str, Any] = estimator._training_request("scale-out-template", None)

    def request(name: str) -> dict[str, Any]:
        made: dict[str, Any] = json.loads(json.dumps(base))
        made["TrainingJobName"] = name
        made["HyperParameters"]["sagemaker_job_name"] = json.dumps(name)
        return made

    return request


def wait_for_end(session: kiln.Session, names: list[str], timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    ended: dict[str, dict[str, Any]] = {}
    while len(ended) < len(names):
        if time.monotonic() > deadline:
            raise SystemExit(f"{len(names) - len(ended)} jobs did not end in {timeout:g} s")
        for name in names:
            if name not in ended:
                described = session.describe_training_job(name)
                if described["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
                    ended[name] = described
        time.sleep(0.25)
    return [ended[name] for name in names]


def first_line_at(session: kiln.Session, name: str) -> float | None:
    for event in session.client.training_job_logs(name, limit=1000)["Events"]:
        if event["message"].startswith(FIRST_LINE):
            return datetime.fromisoformat(event["timestamp"]).timestamp()
    return None


def latency_rounds(
    session: kiln.Session, request: Callable[[str], dict[str, Any]], rounds: int, prefix: str = "latency"
) -> list[float]:
    """Submission → first script line, one job at a time on the idle setup."""
    latencies = []
    for index in range(rounds):
        name = f"{prefix}-{index:03d}"
        submitted = time.time()
        session.client.create_training_job(request(name))
        [described] = wait_for_end(session, [name], JOB_TIMEOUT_SECONDS)
        first = first_line_at(session, name)
        if described["TrainingJobStatus"] != "Completed" or first is None:
            raise SystemExit(
                f"latency job {name} ended {described['TrainingJobStatus']} without its first line"
            )
        latencies.append(first - submitted)
    return latencies


def burst(
    session: kiln.Session, request: Callable[[str], dict[str, Any]], jobs: int, seconds: float
) -> tuple[float, int]:
    """(seconds from the first submission to the last job's end, jobs that did not complete)."""
    names = [f"burst-{index:03d}" for index in range(jobs)]
    started = time.time()
    for name in names:
        session.client.create_training_job(request(name))
    ended = wait_for_end(session, names, JOB_TIMEOUT_SECONDS + jobs * seconds)
    last = max(
        datetime.fromisoformat(d["TrainingEndTime"]).timestamp() for d in ended if d.get("TrainingEndTime")
    )
    failed = [d for d in ended if d["TrainingJobStatus"] != "Completed"]
    for described in failed[:3]:
        print(
            f"  {described['TrainingJobName']} ended {described['TrainingJobStatus']}: "
            f"{described.get('FailureReason', '')}",
            file=sys.stderr,
        )
    return last - started, len(failed)


def measure(setup: str, url: str, root: Path, args: argparse.Namespace) -> Outcome:
    session = kiln.Session(url)
    try:
        # One job first, not measured: the first job of a server (and of a Ray cluster) warms caches.
        latency_rounds(session, template(session, root / "warm", 0.0), 1, prefix="warm")
        latencies = latency_rounds(session, template(session, root / "latency", 0.0), args.latency_rounds)
        elapsed, failed = burst(
            session, template(session, root / "burst", args.seconds), args.jobs, args.seconds
        )
    finally:
        session.close()
    # Completed jobs only: a job that failed to start is no throughput.
    outcome = Outcome(setup, (args.jobs - failed) / elapsed * 60, elapsed, latencies, failed)
    print(
        f"{setup:>10}: {outcome.jobs_per_minute:6.1f} jobs/minute ({args.jobs} jobs in {elapsed:.1f} s"
        f"{f', {failed} not completed' if failed else ''}); first line {_spread(latencies)}",
        flush=True,
    )
    return outcome


def _spread(values: list[float]) -> str:
    deviation = statistics.stdev(values) if len(values) > 1 else 0.0
    return (
        f"median {statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f}, "
        f"stdev {deviation:.2f}, n={len(values)})"
    )


def run_setup(setup: str, ray_nodes: int, root: Path, args: argparse.Namespace) -> Outcome:
    home = root / setup / "home"
    if not ray_nodes:
        with kiln_server(home, {}) as url:
            return measure(setup, url, root / setup, args)
    with ray_cluster(ray_nodes) as address:
        extra = {
            "KILN_EXECUTOR": "ray",
            "KILN_RAY_ADDRESS": address,
            "KILN_RAY_LINGER_SECONDS": str(LINGER_SECONDS),
        }
        with kiln_server(home, extra) as url:
            return measure(setup, url, root / setup, args)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=40, help="jobs in each setup's burst")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long each burst job sleeps")
    parser.add_argument("--latency-rounds", type=int, default=5, help="single jobs timed on each idle setup")
    args = parser.parse_args()

    print(
        f"machine: {len(os.sched_getaffinity(0))} CPUs; {args.jobs} jobs of 1 vCPU sleeping "
        f"{args.seconds:g} s; Ray nodes of 1 CPU each, head of 0 CPUs",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="kiln-bench-scale-out-") as tmp:
        root = Path(tmp)
        one = run_setup("ray-1-node", 1, root, args)
        two = run_setup("ray-2-nodes", 2, root, args)
        local = run_setup("local", 0, root, args)

    speedup = two.jobs_per_minute / one.jobs_per_minute
    extra = statistics.median(one.latencies + two.latencies) - statistics.median(local.latencies)
    failed = one.failed + two.failed + local.failed
    print(f"2 nodes / 1 node: {speedup:.2f}× jobs/minute (target ≥ {TARGET_SPEEDUP:g}×)")
    print(
        f"submission → first line, Ray over local: {extra:+.2f} s (median of both Ray setups' rounds against "
        f"local's; target ≤ +{TARGET_EXTRA_LATENCY_SECONDS:g} s)"
    )
    if failed:
        print(f"NOT MET: {failed} burst jobs did not complete; the ratio compares completed jobs only")
    ok = speedup >= TARGET_SPEEDUP and extra <= TARGET_EXTRA_LATENCY_SECONDS and not failed
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
