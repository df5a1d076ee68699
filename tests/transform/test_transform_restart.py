"""A transform job outlives a kill -9 of its server: the restarted server stops the instances the dead
one left serving and runs the job again from its first object, to the same outputs."""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
from tests.transform.transform_support import create_linear_model, job_request, predict, wait_for_job

from conftest import processes_mentioning, start_server, wait_until

ROWS = 20_000  # one request each (SingleRecord): seconds of work, so the kill lands mid-job


def _instances(home: Path) -> set[int]:
    return {
        p.pid
        for p in processes_mentioning(str(home))
        if "kiln.runtime.serving" in " ".join(p.info.get("cmdline") or [])
    }


def test_a_transform_job_runs_again_after_its_server_is_killed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    server = start_server(home)
    session = server.session()
    bucket = session.default_bucket()
    model = create_linear_model(session, tmp_path / "linear")
    rows = np.arange(ROWS * 3, dtype=float).reshape(ROWS, 3) % 97
    text = "".join(",".join(f"{v:g}" for v in row) + "\n" for row in rows)
    session.client.upload(text.encode(), f"s3://{bucket}/restart-in/data.csv")
    request = job_request(
        "outlives-kill",
        model,
        f"s3://{bucket}/restart-in",
        f"s3://{bucket}/restart-out",
        BatchStrategy="SingleRecord",
    )
    session.client.create_transform_job(request)
    wait_until(
        lambda: session.client.describe_transform_job("outlives-kill").get("TransformStartTime"),
        timeout=60,
    )
    session.close()
    left_serving = _instances(home)
    assert left_serving  # the instance the job started

    server.stop(signal.SIGKILL)
    server = start_server(home)
    try:
        session = server.session()
        job = wait_for_job(session.client, "outlives-kill", timeout=180)
        assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
        out = session.client.download(f"s3://{bucket}/restart-out/data.csv.out").decode().splitlines()
        assert len(out) == ROWS
        np.testing.assert_allclose([float(line) for line in out], predict(rows))
        logs = session.client.transform_job_logs("outlives-kill")
        job_log = next(stream["Lines"] for stream in logs if stream["Stream"].endswith("/job"))
        assert any("the Kiln server restarted while this job ran" in line for line in job_log)
        # What the killed server left serving was stopped, not orphaned.
        assert not left_serving & _instances(home)
        session.close()
    finally:
        server.stop()
