"""A server killed with SIGKILL in the middle of an execution picks it up after a restart: the step
that was running keeps its job (adopted, not created again), the rest run, and every step ran once."""

from __future__ import annotations

import signal
from pathlib import Path

from pipeline_support import (
    create_pipeline,
    definition,
    output_uri,
    pipeline_jobs,
    processing_step,
    start,
    steps,
    unique,
    upload_code,
    wait_for_execution,
)

from conftest import start_server, wait_until

SLOW = """
    import os, time
    time.sleep(3)
    os.makedirs("/opt/ml/processing/output/out", exist_ok=True)
    open("/opt/ml/processing/output/out/done.txt", "w").write("done")
"""


def test_an_execution_survives_a_sigkill_and_runs_each_step_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    server = start_server(home)
    try:
        session = server.session()
        name = unique("restart")
        code = upload_code(session, name, SLOW)
        root = f"{session.bucket_uri()}/{name}"
        pipeline = [
            processing_step("First", code, outputs=["out"], output_root=root),
            processing_step(
                "Second",
                code,
                inputs=[("data", output_uri("First", "out"))],
                outputs=["out"],
                output_root=root,
            ),
            processing_step("Third", code, DependsOn=["Second"]),
        ]
        create_pipeline(session, name, definition(pipeline))
        execution = start(session, name)
        wait_until(
            lambda: steps(session, execution).get("Second", {}).get("StepStatus") == "Executing", timeout=60
        )
        session.close()
        server.stop(signal.SIGKILL)

        server = start_server(home)
        session = server.session()
        described = wait_for_execution(session, execution, timeout=120)
        assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
        listed = steps(session, execution)
        assert list(listed) == ["First", "Second", "Third"]
        jobs = pipeline_jobs(session, execution)
        assert jobs == sorted(s["JobName"] for s in listed.values())  # one job per step, no more
        session.close()
    finally:
        server.stop()
