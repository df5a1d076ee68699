"""SageMaker's own SDK v2 (its SKLearnProcessor, unmodified) runs a processing job on Kiln through the
AWS wire: only the environment and a default bucket differ from running on AWS."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from tests.wire.wire_support import RUN_TIMEOUT, run_sdk_program, sagemaker_v2  # noqa: F401  (the fixture)

from conftest import RunningServer

PREPROCESS = """
import argparse, os
parser = argparse.ArgumentParser()
parser.add_argument("--train-test-split-ratio", type=float)
args = parser.parse_args()
rows = open("/opt/ml/processing/input/data.csv").read().splitlines()
cut = int(len(rows) * (1 - args.train_test_split_ratio))
open("/opt/ml/processing/train/train.csv", "w").write("\\n".join(rows[:cut]))
print(f"kept {cut} of {len(rows)} rows", flush=True)
"""

NOTEBOOK = """
import sys
import boto3
import sagemaker
from sagemaker.processing import ProcessingInput, ProcessingOutput
from sagemaker.sklearn.processing import SKLearnProcessor

code, data = sys.argv[1], sys.argv[2]
session = sagemaker.Session(default_bucket="sdk-v2-processing")
processor = SKLearnProcessor(
    framework_version="1.2-1",
    role="arn:aws:iam::000000000000:role/SageMakerRole",
    instance_type="ml.m5.large",
    instance_count=1,
    sagemaker_session=session,
)
processor.run(
    code=code,
    inputs=[ProcessingInput(source=data, destination="/opt/ml/processing/input")],
    outputs=[ProcessingOutput(output_name="train", source="/opt/ml/processing/train")],
    arguments=["--train-test-split-ratio", "0.2"],
)
job = processor.latest_job
print("STATUS", job.describe()["ProcessingJobStatus"], flush=True)
destination = job.outputs[0].destination
print("OUTPUT", destination, flush=True)
bucket, _, key = destination[len("s3://"):].partition("/")
body = boto3.client("s3").get_object(Bucket=bucket, Key=key + "/train.csv")["Body"].read()
print("TRAIN", body.decode().replace(chr(10), ","), flush=True)
"""


@pytest.mark.slow
def test_sagemakers_sklearn_processor_runs_on_kiln(
    server: RunningServer,
    sagemaker_v2: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    (tmp_path / "preprocess.py").write_text(textwrap.dedent(PREPROCESS))
    (tmp_path / "data.csv").write_text("\n".join(str(i) for i in range(10)))
    config = tmp_path / "sagemaker-config.yaml"
    config.write_text(
        "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n"
    )
    script = tmp_path / "notebook.py"
    script.write_text(textwrap.dedent(NOTEBOOK))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AWS_ENDPOINT_URL": server.url,
        "AWS_ACCESS_KEY_ID": "AKIAKILNSDKTESTS0000",
        "AWS_SECRET_ACCESS_KEY": "any",
        "AWS_DEFAULT_REGION": "us-east-1",
        "SAGEMAKER_USER_CONFIG_OVERRIDE": str(config),
        "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
    }
    args = [str(tmp_path / "preprocess.py"), str(tmp_path / "data.csv")]
    ran = run_sdk_program(sagemaker_v2, script, args, env, tmp_path)
    output = ran.stdout + ran.stderr
    assert "kept 8 of 10 rows" in output  # run(logs=True) streamed the job's lines through CloudWatch Logs
    assert "STATUS Completed" in ran.stdout
    assert "OUTPUT s3://sdk-v2-processing/" in ran.stdout
    assert "TRAIN 0,1,2,3,4,5,6,7" in ran.stdout
