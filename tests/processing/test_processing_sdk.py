"""kiln.processing as SageMaker v2's SDK is used: SKLearnProcessor / ScriptProcessor with a local
script, FrameworkProcessor (PyTorch) with a source_dir, inputs uploaded, outputs defaulted, jobs kept."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import kiln
from kiln.errors import UnexpectedStatusException, ValidationError
from kiln.processing import (
    FrameworkProcessor,
    ProcessingInput,
    ProcessingJob,
    ProcessingOutput,
    ScriptProcessor,
    SKLearnProcessor,
)

PREPROCESS = """
import argparse, os
parser = argparse.ArgumentParser()
parser.add_argument("--train-test-split-ratio", type=float)
args = parser.parse_args()
rows = open("/opt/ml/processing/input/raw/data.csv").read().splitlines()
cut = int(len(rows) * (1 - args.train_test_split_ratio))
os.makedirs("/opt/ml/processing/train", exist_ok=True)
os.makedirs("/opt/ml/processing/test", exist_ok=True)
open("/opt/ml/processing/train/train.csv", "w").write("\\n".join(rows[:cut]))
open("/opt/ml/processing/test/test.csv", "w").write("\\n".join(rows[cut:]))
print(f"split {len(rows)} rows at {cut}")
"""


def test_sklearn_processor_runs_a_local_script_as_sagemakers_sdk_does(
    session: kiln.Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "preprocess.py").write_text(PREPROCESS)
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "data.csv").write_text("\n".join(str(i) for i in range(10)))
    processor = SKLearnProcessor(
        framework_version="1.2-1",
        role="arn:aws:iam::000000000000:role/SageMakerRole",
        instance_type="local",
        instance_count=1,
        sagemaker_session=session,
    )
    processor.run(
        code=str(tmp_path / "preprocess.py"),
        inputs=[ProcessingInput(source=str(raw), destination="/opt/ml/processing/input/raw")],
        outputs=[
            ProcessingOutput(output_name="train", source="/opt/ml/processing/train"),
            ProcessingOutput(output_name="test", source="/opt/ml/processing/test"),
        ],
        arguments=["--train-test-split-ratio", 0.2],
    )
    assert "split 10 rows at 8" in capsys.readouterr().out  # logs=True printed the job's lines
    job = processor.latest_job
    assert job is not None
    assert processor.jobs == [job]
    assert job.job_name.startswith("sagemaker-scikit-learn-")
    described = job.describe()
    assert described["ProcessingJobStatus"] == "Completed"
    app = described["AppSpecification"]
    assert app["ImageUri"].endswith("/sagemaker-scikit-learn:1.2-1-cpu-py3")
    assert app["ContainerEntrypoint"] == ["python3", "/opt/ml/processing/input/code/preprocess.py"]
    assert app["ContainerArguments"] == ["--train-test-split-ratio", "0.2"]
    bucket = session.bucket_uri()
    inputs = {i["InputName"]: i["S3Input"] for i in described["ProcessingInputs"]}
    assert inputs["code"]["S3Uri"] == f"{bucket}/{job.job_name}/input/code/preprocess.py"
    assert inputs["code"]["LocalPath"] == "/opt/ml/processing/input/code"
    assert inputs["input-1"]["S3Uri"] == f"{bucket}/{job.job_name}/input/input-1"
    outputs = {o.output_name: o.destination for o in job.outputs}
    assert outputs["train"] == f"{bucket}/{job.job_name}/output/train"
    assert session.read_artifact(f"{outputs['train']}/train.csv").decode().splitlines() == [
        str(i) for i in range(8)
    ]
    assert session.read_artifact(f"{outputs['test']}/test.csv") == b"8\n9"

    again = ProcessingJob.from_processing_name(session, job.job_name)
    assert [o.output_name for o in again.outputs] == ["train", "test"]


def test_framework_processor_runs_code_from_a_source_dir_with_pytorchs_image(
    session: kiln.Session, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "helpers.py").write_text("def double(x):\n    return 2 * x\n")
    (source / "evaluate.py").write_text(
        "import json, os, sys\nfrom helpers import double\n"
        "os.makedirs('/opt/ml/processing/evaluation', exist_ok=True)\n"
        "json.dump({'accuracy': double(float(sys.argv[2]))},"
        " open('/opt/ml/processing/evaluation/evaluation.json', 'w'))\n"
    )
    processor = FrameworkProcessor(
        estimator_cls=kiln.PyTorch,
        framework_version="2.1",
        py_version="py310",
        role="arn:aws:iam::000000000000:role/SageMakerRole",
        instance_type="local",
        instance_count=1,
        sagemaker_session=session,
    )
    processor.run(
        code="evaluate.py",
        source_dir=str(source),
        outputs=[ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation")],
        arguments=["--half", "0.49"],
        logs=False,
    )
    job = processor.latest_job
    assert job is not None
    assert job.job_name.startswith("pytorch-")
    described = job.describe()
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["AppSpecification"]["ImageUri"].endswith("/pytorch-training:2.1-cpu-py310")
    assert described["AppSpecification"]["ContainerEntrypoint"] == [
        "/bin/bash",
        "/opt/ml/processing/input/entrypoint/runproc.sh",
    ]
    names = [i["InputName"] for i in described["ProcessingInputs"]]
    assert names == ["code", "entrypoint"]
    bucket = session.bucket_uri()
    assert (
        described["ProcessingInputs"][0]["S3Input"]["S3Uri"]
        == f"{bucket}/{job.job_name}/source/sourcedir.tar.gz"
    )
    evaluation = session.read_artifact(f"{job.outputs[0].destination}/evaluation.json")
    assert evaluation == b'{"accuracy": 0.98}'


def test_a_failed_job_raises_and_wrong_arguments_are_refused(session: kiln.Session, tmp_path: Path) -> None:
    (tmp_path / "fail.py").write_text("import sys\nsys.exit('no data given')\n")
    processor = ScriptProcessor(
        image_uri="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
        command=["python3"],
        role="arn:aws:iam::000000000000:role/SageMakerRole",
        instance_count=1,
        instance_type="local",
        sagemaker_session=session,
    )
    out = io.StringIO()
    with pytest.raises(
        UnexpectedStatusException, match=r"(?s)Error for Processing job .*: Failed\. Reason: .*no data given"
    ):
        processor.run(code=str(tmp_path / "fail.py"), logs=False)
    assert processor.latest_job is not None
    assert session.wait_for_processing_job(processor.latest_job.job_name)["ProcessingJobStatus"] == "Failed"
    processor.latest_job.logs(out=out)
    assert "no data given" in out.getvalue()
    with pytest.raises(ValidationError, match="a folder is not accepted"):
        processor.run(code=str(tmp_path), logs=False)
    with pytest.raises(ValidationError, match="Logs can only be shown if wait is set to True"):
        processor.run(code=str(tmp_path / "fail.py"), wait=False)
