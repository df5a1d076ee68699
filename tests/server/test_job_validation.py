"""Bad requests get a clear error naming the field and value, and change nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import kiln
from kiln.errors import Conflict, ValidationError


def _job_count(session: kiln.Session) -> int:
    return len(session.client.list_training_jobs(limit=1000))


@pytest.fixture
def valid_request(session: kiln.Session, write_script, tmp_path: Path) -> dict[str, Any]:
    source = write_script('print("ok")')
    data = session.upload_data(source / "train.py", key_prefix=f"validation/{tmp_path.name}")
    estimator = kiln.Estimator("train.py", source_dir=str(source), sagemaker_session=session)
    return estimator._training_request(f"valid-{tmp_path.name[-20:].replace('_', '-')}", data)


def _refused(session: kiln.Session, request: dict[str, Any], error: type[Exception], *fragments: str) -> None:
    before = _job_count(session)
    with pytest.raises(error) as raised:
        session.client.create_training_job(request)
    for fragment in fragments:
        assert fragment in str(raised.value)
    assert _job_count(session) == before


def test_the_valid_request_is_accepted(session: kiln.Session, valid_request: dict[str, Any]) -> None:
    created = session.client.create_training_job(valid_request)
    assert created["TrainingJobName"] == valid_request["TrainingJobName"]


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        (lambda r: r.update(TrainingJobName="bad_name!"), ["TrainingJobName", "'bad_name!'"]),
        (lambda r: r.update(TrainingJobName="x" * 64), ["TrainingJobName", "1-63"]),
        (
            lambda r: r["ResourceConfig"].update(InstanceType="ml.huge.9000"),
            ["InstanceType", "'ml.huge.9000'"],
        ),
        (lambda r: r["ResourceConfig"].update(InstanceCount=0), ["InstanceCount"]),
        (lambda r: r["HyperParameters"].update(epochs=3), ["hyperparameter 'epochs'", "3", "strings"]),
        (lambda r: r["HyperParameters"].update({"": "1"}), ["hyperparameter name ''"]),
        (lambda r: r["HyperParameters"].update(big="x" * 2501), ["hyperparameter 'big'", "2500"]),
        (lambda r: r["HyperParameters"].pop("sagemaker_program"), ["no entry point", "sagemaker_program"]),
        (
            lambda r: r["InputDataConfig"][0]["DataSource"]["S3DataSource"].update(
                S3Uri="file:///no/such/data"
            ),
            ["channel 'training'", "'file:///no/such/data'", "outside this server's artifact store"],
        ),
        (
            lambda r: r["InputDataConfig"][0]["DataSource"]["S3DataSource"].update(S3Uri="s3://kiln/no/such"),
            ["channel 'training'", "'s3://kiln/no/such'", "does not exist"],
        ),
        (
            lambda r: r["InputDataConfig"].append(dict(r["InputDataConfig"][0])),
            ["channel 'training' is given twice"],
        ),
        (lambda r: r["StoppingCondition"].update(MaxRuntimeInSeconds=0), ["MaxRuntimeInSeconds"]),
        (
            lambda r: r["AlgorithmSpecification"].update(
                MetricDefinitions=[{"Name": "loss", "Regex": "loss=("}]
            ),
            ["metric definition 'loss'", "Regex"],
        ),
        (lambda r: r.update(Unknown=1), ["Unknown"]),
    ],
)
def test_bad_requests_are_refused_clearly(
    session: kiln.Session,
    valid_request: dict[str, Any],
    change: Callable[[dict[str, Any]], None],
    fragments: list[str],
) -> None:
    request = json.loads(json.dumps(valid_request))
    change(request)
    _refused(session, request, ValidationError, *fragments)


def test_a_duplicate_name_is_a_conflict(session: kiln.Session, valid_request: dict[str, Any]) -> None:
    session.client.create_training_job(valid_request)
    _refused(session, valid_request, Conflict, valid_request["TrainingJobName"], "already exists")


def test_a_missing_entry_point_is_refused_before_anything_is_sent(
    session: kiln.Session, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match=r"entry_point 'nope\.py' was not found"):
        kiln.Estimator("nope.py", source_dir=str(tmp_path), sagemaker_session=session)
    with pytest.raises(ValidationError, match="unknown arguments: train_instance_count"):
        kiln.Estimator("nope.py", train_instance_count=1, sagemaker_session=session)


def test_unknown_job_names_are_not_found(session: kiln.Session) -> None:
    from kiln.errors import NotFound

    with pytest.raises(NotFound, match=r"'no-such-job'"):
        session.describe_training_job("no-such-job")
    with pytest.raises(NotFound):
        session.stop_training_job("no-such-job")
