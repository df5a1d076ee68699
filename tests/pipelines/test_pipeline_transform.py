"""A Transform step runs an ordinary batch transform job; a processing step after it reads the
transform's output through ``Steps.<step>.TransformOutput.S3OutputPath``."""

from __future__ import annotations

from pathlib import Path

from pipeline_support import (
    create_pipeline,
    definition,
    processing_step,
    start,
    steps,
    unique,
    upload_code,
    wait_for_execution,
)
from tests.transform.transform_support import create_linear_model, job_request

import kiln
from kiln.workflow.steps import TransformStep

CHECK = """
    import os
    lines = open("/opt/ml/processing/input/scored/rows.csv.out").read().split()
    os.makedirs("/opt/ml/processing/output/out", exist_ok=True)
    open("/opt/ml/processing/output/out/count.txt", "w").write(str(len(lines)))
"""


def test_a_transform_step_and_a_step_reading_its_output(session: kiln.Session, tmp_path: Path) -> None:
    name = unique("transform")
    root = f"{session.bucket_uri()}/{name}"
    model = create_linear_model(session, tmp_path / "model")
    session.upload_bytes(b"1,0,0\n0,1,0\n0,0,1\n", f"{root}/input/rows.csv")
    arguments = job_request("unused", model, f"{root}/input", f"{root}/scored")
    arguments.pop("TransformJobName")
    transformer = kiln.Transformer(
        model,
        1,
        "local",
        assemble_with="Line",
        output_path=f"{root}/scored",
        accept="text/csv",
        sagemaker_session=session,
    )
    step = TransformStep(
        "Score",
        transformer=transformer,
        inputs={"data": f"{root}/input", "content_type": "text/csv", "split_type": "Line"},
    )
    batch = step.to_request()
    for member in ("ModelName", "TransformInput", "TransformOutput", "TransformResources"):
        assert batch["Arguments"][member] == arguments[member]  # the SDK builds what the API takes
    check = processing_step(
        "Count",
        upload_code(session, name, CHECK),
        inputs=[("scored", {"Get": "Steps.Score.TransformOutput.S3OutputPath"})],
        outputs=["out"],
        output_root=root,
    )
    create_pipeline(session, name, definition([batch, check]))
    execution = start(session, name)
    described = wait_for_execution(session, execution, timeout=180)
    assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
    listed = steps(session, execution)
    assert listed["Score"]["Metadata"]["TransformJob"]["Arn"].endswith(f"/{listed['Score']['JobName']}")
    assert listed["Score"]["JobName"].startswith(f"pipelines-{execution}-Score-")
    assert session.read_artifact(f"{root}/{execution}/Count/out/count.txt") == b"3"
