"""A training job's ContainerEntrypoint (what SageMaker SDK v3's ModelTrainer sends) runs verbatim in
the host's private /opt/ml, with the image's runtime first on PATH; where this machine gives no
private /opt/ml, it is refused up front, and nothing is stored."""

from __future__ import annotations

import io
import json
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, WaiterError
from wire_support import FAST, client, training_job_request, upload_code_and_data, use_kiln

from conftest import RunningServer, start_server
from kiln.runtime.training.opt_ml_view import private_view_missing

# Each line checks one part of the contract; `set -e` fails the job at the first that does not hold.
COMMAND = """set -e
cp /opt/ml/input/data/training/data.json /opt/ml/model/copied.json
python3 -c 'import sys, torch; print("PYTHON", sys.prefix)'
pip3 --version
echo "HOST $SM_CURRENT_HOST $TRAINING_JOB_NAME $SM_HP_FACTOR"
"""
FAILING = """echo "the input has no rows" > /opt/ml/output/failure
exit 3
"""


def entrypoint_request(uploaded: dict[str, str], name: str, command: str) -> dict[str, Any]:
    """CreateTrainingJob as ModelTrainer sends it: no sagemaker_program, a command of its own."""
    request = training_job_request(name, uploaded["source"], uploaded["data"], uploaded["output"])
    request["HyperParameters"] = {"factor": "3"}
    request["AlgorithmSpecification"]["ContainerEntrypoint"] = ["/bin/sh", "-c"]
    request["AlgorithmSpecification"]["ContainerArguments"] = [command]
    return request


@pytest.fixture(scope="module")
def uploaded(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return upload_code_and_data(server, tmp_path_factory.mktemp("wire-entrypoint"))


@pytest.fixture
def sm(server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    use_kiln(monkeypatch, server.url)
    return client("sagemaker")


def log_text(name: str) -> str:
    logs = client("logs")
    group = "/aws/sagemaker/TrainingJobs"
    [stream] = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=name)["logStreams"]
    events = logs.get_log_events(
        logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True
    )
    return "\n".join(event["message"] for event in events["events"])


@pytest.mark.skipif(
    private_view_missing() is not None, reason=f"no private /opt/ml: {private_view_missing()}"
)
def test_the_command_runs_verbatim_in_opt_ml_with_its_own_python(sm: Any, uploaded: dict[str, str]) -> None:
    name = "wire-entrypoint-runs"
    sm.create_training_job(**entrypoint_request(uploaded, name, COMMAND))
    sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=name, WaiterConfig=FAST)
    described = sm.describe_training_job(TrainingJobName=name)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["AlgorithmSpecification"]["ContainerEntrypoint"] == ["/bin/sh", "-c"]  # echoed
    text = log_text(name)
    assert f"HOST algo-1 {name} 3" in text  # SageMaker's variables, the hyperparameter among them
    python = next(line.split()[1] for line in text.splitlines() if line.startswith("PYTHON "))
    # python3 is an environment of the job's own (what it pip-installs goes away with it), not Kiln's.
    assert python != sys.prefix
    assert Path(python).name == "python"
    assert name in python  # in the job's own folder
    assert "pip " in text  # pip3 is there, as in the image
    bucket, key = described["ModelArtifacts"]["S3ModelArtifacts"].removeprefix("s3://").split("/", 1)
    archive = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        member = tar.extractfile("copied.json")
        assert member is not None
        assert json.loads(member.read()) == {"scale": 2.0}  # /opt/ml/model became model.tar.gz


@pytest.mark.skipif(
    private_view_missing() is not None, reason=f"no private /opt/ml: {private_view_missing()}"
)
def test_a_failing_command_fails_the_job_with_its_failure_file(sm: Any, uploaded: dict[str, str]) -> None:
    name = "wire-entrypoint-fails"
    sm.create_training_job(**entrypoint_request(uploaded, name, FAILING))
    with pytest.raises(WaiterError):  # boto3's waiter stops at Failed, as on SageMaker
        sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=name, WaiterConfig=FAST)
    described = sm.describe_training_job(TrainingJobName=name)
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"] == "the input has no rows"


@pytest.fixture(scope="module")
def no_view(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("no-view"), extra_env={"KILN_PRIVATE_OPT_ML": "0"})
    yield running
    running.stop()


def test_without_a_private_opt_ml_the_command_is_refused_before_anything_is_stored(
    no_view: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uploaded = upload_code_and_data(no_view, tmp_path)
    use_kiln(monkeypatch, no_view.url)
    sm = client("sagemaker")
    with pytest.raises(ClientError) as raised:
        sm.create_training_job(**entrypoint_request(uploaded, "wire-entrypoint-refused", COMMAND))
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "ContainerEntrypoint is not supported on this Kiln server" in error["Message"]
    assert "KILN_PRIVATE_OPT_ML=0" in error["Message"]  # why, in the machine's own terms
    assert "sagemaker_program" in error["Message"]  # and what to do instead
    assert sm.list_training_jobs()["TrainingJobSummaries"] == []
