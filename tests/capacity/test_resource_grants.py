"""What a host's instance type grants is what its script sees: CPU affinity, thread variables, SM_NUM_CPUS
and SM_NUM_GPUS, GPU visibility and a memory cap; a type larger than the machine is scaled down with a
warning in the log and in describe, and strict mode refuses it at submission, saying why."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from capacity_support import CPUS, Jobs, capacity_server

from conftest import ON_EVERY_BACKEND, RunningServer
from kiln.errors import ValidationError

pytestmark = ON_EVERY_BACKEND  # PostgreSQL + S3 as well as SQLite + a folder (conftest.py)

GIB = 1024**3
CONFIG = """
[instance_types."kiln.one"]
vcpus = 1
memory_gib = 1
price_per_hour = 0.01

[instance_types."kiln.huge"]
vcpus = 4096
memory_gib = 0.5
gpus = 2
"""

REPORTING_SCRIPT = """
import json, os, resource
def cgroup_memory():
    try:
        group = open("/proc/self/cgroup").read().split("0::", 1)[1].split()[0]
        mount = next(l.split()[4] for l in open("/proc/self/mountinfo") if " - cgroup2 " in l)
        return open(mount + group + "/memory.max").read().strip()
    except Exception:
        return None
seen = {
    "affinity": sorted(os.sched_getaffinity(0)),
    "threads": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")},
    "sm": [os.environ["SM_NUM_CPUS"], os.environ["SM_NUM_GPUS"]],
    "training_env": [json.loads(os.environ["SM_TRAINING_ENV"])[k] for k in ("num_cpus", "num_gpus")],
    "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
    "rlimit_as": resource.getrlimit(resource.RLIMIT_AS)[0],
    "cgroup_max": cgroup_memory(),
}
print("SEEN " + json.dumps(seen), flush=True)
try:
    hog = bytearray(3 * 1024 ** 3)
    print("allocated 3 GiB", flush=True)
except MemoryError:
    print("3 GiB refused: MemoryError", flush=True)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = capacity_server(tmp_path_factory.mktemp("grants-home"), CONFIG)
    yield running
    running.stop()


@pytest.fixture
def jobs(server: RunningServer, write_script) -> Iterator[Jobs]:
    session = server.session()
    yield Jobs(session, write_script(REPORTING_SCRIPT))
    session.close()


def _seen(jobs: Jobs, name: str) -> dict:  # type: ignore[type-arg]
    line = next(m for m in jobs.messages(name) if m.startswith("SEEN "))
    return json.loads(line[len("SEEN ") :])  # type: ignore[no-any-return]


def test_the_script_runs_within_its_grant(jobs: Jobs) -> None:
    names = ["grant-a", "grant-b"] if CPUS >= 2 else ["grant-a"]
    for name in names:
        jobs.create(name, "kiln.one")
    described = {name: jobs.wait(name) for name in names}

    seen = {name: _seen(jobs, name) for name in names}
    for name in names:
        assert described[name]["TrainingJobStatus"] == "Completed", described[name].get("FailureReason")
        assert len(seen[name]["affinity"]) == 1
        assert seen[name]["threads"] == dict.fromkeys(
            ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"), "1"
        )
        assert seen[name]["sm"] == ["1", "0"]
        assert seen[name]["training_env"] == [1, 0]
        assert seen[name]["cuda"] == ""  # a CPU type sees no GPU
        capped = seen[name]["rlimit_as"] == GIB or seen[name]["cgroup_max"] == str(GIB)
        assert capped, seen[name]
        messages = jobs.messages(name)
        assert sum(m.startswith("SEEN ") for m in messages) == 1  # started once, however it was admitted
        assert "3 GiB refused: MemoryError" in messages or described[name]["TrainingJobStatus"] == "Failed"
        cpu = seen[name]["affinity"][0]
        grant_line = next(m for m in messages if m.startswith("Kiln: algo-1 runs on CPUs"))
        assert grant_line.startswith(f"Kiln: algo-1 runs on CPUs {cpu} (1 thread), memory capped at 1 GiB (")
        assert grant_line.endswith(", no GPU")
        assert described[name]["Warnings"] == []
    if len(names) == 2:  # both ran at once, each on a CPU of its own
        assert seen["grant-a"]["affinity"] != seen["grant-b"]["affinity"]


def test_a_type_larger_than_the_machine_is_scaled_down_with_a_warning(jobs: Jobs) -> None:
    jobs.create("scaled-down", "kiln.huge")
    described = jobs.wait("scaled-down")

    expected = (
        f"Kiln: kiln.huge asks for 4096 vCPUs; this machine has {CPUS}; running on {CPUS} (scaled down)"
    )
    assert described["Warnings"][0] == expected
    assert any("asks for 2 GPUs" in w and "(scaled down)" in w for w in described["Warnings"])
    messages = jobs.messages("scaled-down")
    assert expected in messages
    seen = _seen(jobs, "scaled-down")
    assert len(seen["affinity"]) == CPUS
    assert seen["sm"][0] == str(CPUS)
    assert seen["threads"]["OMP_NUM_THREADS"] == str(CPUS)


def test_strict_mode_refuses_a_type_larger_than_the_machine_saying_why(
    tmp_path_factory: pytest.TempPathFactory, write_script
) -> None:
    strict = capacity_server(
        tmp_path_factory.mktemp("strict-home"), CONFIG, extra_env={"KILN_STRICT_INSTANCE_TYPES": "1"}
    )
    try:
        session = strict.session()
        jobs = Jobs(session, write_script('print("fits")'))
        with pytest.raises(ValidationError) as refused:
            jobs.create("too-big", "kiln.huge")
        message = str(refused.value)
        assert (
            f"'kiln.huge' (InstanceCount 1) asks for 4096 vCPUs per instance; this machine has {CPUS}"
            in message
        )
        assert "strict_instance_types is on" in message
        assert session.client.list_training_jobs() == []
        jobs.create("fits", "kiln.one")
        assert jobs.wait("fits")["TrainingJobStatus"] == "Completed"
        listed = session.client.call("GET", "/instance-types")["InstanceTypes"]
        huge = next(t for t in listed if t["InstanceType"] == "kiln.huge")
        assert "strict_instance_types is on" in huge["Refused"]
        session.close()
    finally:
        strict.stop()
