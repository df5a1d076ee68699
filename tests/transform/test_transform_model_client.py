"""ModelClientConfig and Environment: a model error (5xx) is retried; the job's variables reach the model."""

from __future__ import annotations

from pathlib import Path

from tests.hosting.hosting_fixtures import pack
from tests.transform.transform_support import job_request, wait_for_job

import kiln

INFERENCE = """
import os

def model_fn(model_dir):
    return os.path.join(model_dir, "calls")

def input_fn(body, content_type):
    return body.decode().splitlines()

def predict_fn(lines, calls):
    # Fails the first FAILURES requests (counted in a file of the instance's model folder).
    count = int(open(calls).read()) if os.path.exists(calls) else 0
    with open(calls, "w") as f:
        f.write(str(count + 1))
    if count < int(os.environ["FAILURES"]):
        raise RuntimeError(f"failure {count + 1}")
    return [f"{line},{os.environ['GREETING']},{os.environ['SAGEMAKER_BATCH']}" for line in lines]

def output_fn(prediction, accept):
    return "\\n".join(prediction)
"""


def _model(session: kiln.Session, folder: Path, failures: int) -> str:
    archive = pack(folder, {"code/inference.py": INFERENCE})
    uri = session.upload_data(archive, key_prefix=f"transform-tests/{folder.name}")
    name = f"flaky-{folder.name}"
    session.client.create_model(
        {
            "ModelName": name,
            "PrimaryContainer": {"ModelDataUrl": uri, "Environment": {"FAILURES": str(failures)}},
        }
    )
    return name


def test_model_errors_are_retried_then_fail_the_job_and_environment_reaches_the_model(
    session: kiln.Session, tmp_path: Path
) -> None:
    client = session.client
    data = f"s3://{session.default_bucket()}/retries"  # on S3 too: the store's own bucket
    client.upload(b"a\nb\n", f"{data}/in/x.txt")
    extra = {
        "TransformInput": {"ContentType": "text/plain"},
        "TransformOutput": {"Accept": "text/plain"},
        "Environment": {"GREETING": "hello"},
        "ModelClientConfig": {"InvocationsTimeoutInSeconds": 30, "InvocationsMaxRetries": 2},
    }
    client.create_transform_job(
        job_request("retried", _model(session, tmp_path / "twice", 2), f"{data}/in", f"{data}/out", **extra)
    )
    job = wait_for_job(client, "retried")
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert client.download(f"{data}/out/x.txt.out") == b"a,hello,true\nb,hello,true\n"

    client.create_transform_job(
        job_request(
            "gave-up",
            _model(session, tmp_path / "thrice", 3),
            f"{data}/in",
            f"{data}/gone",
            **extra,
        )
    )
    job = wait_for_job(client, "gave-up")
    assert job["TransformJobStatus"] == "Failed"
    assert "failed 3 times (InvocationsMaxRetries 2)" in job["FailureReason"]
    assert "RuntimeError: failure 3" in job["FailureReason"]
