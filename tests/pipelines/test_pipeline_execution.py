"""Executions: caching reuses a step's earlier job (no new job) and a changed parameter re-runs exactly
the steps that depend on it; a failing step fails the execution naming it; stop stops running steps;
four independent trainings run at the same time."""

from __future__ import annotations

from datetime import datetime

from pipeline_support import (
    create_pipeline,
    definition,
    describe,
    join,
    output_uri,
    pipeline_jobs,
    processing_step,
    start,
    steps,
    unique,
    upload_code,
    wait_for_execution,
)

import kiln
from conftest import wait_until

COPY = """
    import os, shutil
    source = "/opt/ml/processing/input/data"
    os.makedirs("/opt/ml/processing/output/out", exist_ok=True)
    for name in os.listdir(source) if os.path.isdir(source) else []:
        shutil.copy(os.path.join(source, name), "/opt/ml/processing/output/out")
    with open("/opt/ml/processing/output/out/stamp.txt", "w") as out:
        out.write(os.environ.get("LABEL", "none"))
"""


def test_cached_steps_are_reused_and_a_changed_parameter_reruns_its_dependents(session: kiln.Session) -> None:
    name = unique("cached")
    code = upload_code(session, name, COPY)
    root = f"{session.bucket_uri()}/{name}"
    seed = session.upload_bytes(b"seed\n", f"{root}/seed/seed.txt")
    label = {"LABEL": join({"Get": "Parameters.Label"}, on="")}
    pipeline = [
        processing_step("A", code, inputs=[("data", seed)], outputs=["out"], output_root=root, cache=True),
        processing_step(
            "B",
            code,
            inputs=[("data", output_uri("A", "out"))],
            outputs=["out"],
            output_root=root,
            cache=True,
        ),
        processing_step("C", code, outputs=["out"], output_root=root, environment=label, cache=True),
        processing_step(
            "D",
            code,
            inputs=[("data", output_uri("C", "out"))],
            outputs=["out"],
            output_root=root,
            cache=True,
        ),
    ]
    create_pipeline(
        session, name, definition(pipeline, [{"Name": "Label", "Type": "String", "DefaultValue": "one"}])
    )

    first = start(session, name)
    assert wait_for_execution(session, first)["PipelineExecutionStatus"] == "Succeeded"
    ran = steps(session, first)
    assert len(pipeline_jobs(session, first)) == 4
    assert not any("CacheHitResult" in s for s in ran.values())

    second = start(session, name)
    assert wait_for_execution(session, second)["PipelineExecutionStatus"] == "Succeeded"
    reused = steps(session, second)
    assert pipeline_jobs(session, second) == []  # no new job at all
    for step in "ABCD":
        assert reused[step]["StepStatus"] == "Succeeded"
        assert reused[step]["JobName"] == ran[step]["JobName"]
        assert reused[step]["CacheHitResult"]["SourcePipelineExecutionArn"].endswith(f"/execution/{first}")

    third = start(session, name, Label="two")
    assert wait_for_execution(session, third)["PipelineExecutionStatus"] == "Succeeded"
    rerun = steps(session, third)
    assert {s for s, v in rerun.items() if "CacheHitResult" not in v} == {"C", "D"}
    assert len(pipeline_jobs(session, third)) == 2
    stamp = session.read_artifact(f"{root}/{third}/D/out/stamp.txt")
    assert stamp == b"none"  # D itself has no label; it copied C's output …
    assert session.read_artifact(f"{root}/{third}/C/out/stamp.txt") == b"two"


def test_a_failing_step_fails_the_execution_naming_it(session: kiln.Session) -> None:
    name = unique("failing")
    good = upload_code(session, name, COPY)
    bad = upload_code(session, name, "import sys\nsys.exit('the data is bad')\n", name="bad.py")
    root = f"{session.bucket_uri()}/{name}"
    pipeline = [
        processing_step("Prepare", good, outputs=["out"], output_root=root),
        processing_step("Boom", bad, inputs=[("data", output_uri("Prepare", "out"))]),
        processing_step("After", good, DependsOn=["Boom"]),
    ]
    create_pipeline(session, name, definition(pipeline))
    execution = start(session, name)
    described = wait_for_execution(session, execution)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert described["FailureReason"].startswith("Step 'Boom' failed: ")
    listed = steps(session, execution)
    assert listed["Boom"]["StepStatus"] == "Failed"
    job = session.client.describe_processing_job(listed["Boom"]["JobName"])
    assert listed["Boom"]["FailureReason"] == job["FailureReason"]
    assert "After" not in listed


def test_stop_stops_the_running_step(session: kiln.Session) -> None:
    name = unique("stopped")
    slow = upload_code(session, name, "import time\ntime.sleep(60)\n")
    create_pipeline(
        session,
        name,
        definition([processing_step("Slow", slow), processing_step("Next", slow, DependsOn=["Slow"])]),
    )
    execution = start(session, name)
    wait_until(lambda: steps(session, execution).get("Slow", {}).get("StepStatus") == "Executing", timeout=30)
    session.client.call("POST", f"/pipeline-executions/{execution}/stop")
    assert describe(session, execution)["PipelineExecutionStatus"] in ("Stopping", "Stopped")
    assert wait_for_execution(session, execution, timeout=60)["PipelineExecutionStatus"] == "Stopped"
    listed = steps(session, execution)
    assert listed["Slow"]["StepStatus"] == "Stopped"
    assert (
        session.client.describe_processing_job(listed["Slow"]["JobName"])["ProcessingJobStatus"] == "Stopped"
    )
    assert "Next" not in listed


SLEEP_TRAIN = """
    import time
    time.sleep(2)
"""


def test_four_independent_trainings_overlap(session: kiln.Session, write_script) -> None:  # type: ignore[no-untyped-def]
    name = unique("fanout")
    estimator = kiln.Estimator(
        "train.py", source_dir=str(write_script(SLEEP_TRAIN)), sagemaker_session=session
    )
    arguments = estimator.build_training_request()
    arguments.pop("TrainingJobName")
    trainings = [{"Name": f"Train{i}", "Type": "Training", "Arguments": arguments} for i in range(4)]
    create_pipeline(session, name, definition(trainings))
    execution = start(session, name)
    assert wait_for_execution(session, execution)["PipelineExecutionStatus"] == "Succeeded"
    jobs = [session.client.describe_training_job(s["JobName"]) for s in steps(session, execution).values()]
    assert len({j["TrainingJobName"] for j in jobs}) == 4
    starts = [datetime.fromisoformat(j["TrainingStartTime"]) for j in jobs]
    ends = [datetime.fromisoformat(j["TrainingEndTime"]) for j in jobs]
    assert max(starts) < min(ends), "the four trainings did not all run at the same time"
