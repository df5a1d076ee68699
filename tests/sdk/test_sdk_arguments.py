"""SageMaker v2's arguments: acted on, or kept and reported once; a misspelt one is an error."""

from __future__ import annotations

import logging

import pytest

import kiln
from kiln.errors import ValidationError

SCRIPT = "print('trained')\n"


def test_inert_arguments_are_kept_reported_once_and_echoed(
    session: kiln.Session, write_script, caplog: pytest.LogCaptureFixture
) -> None:
    source = write_script(SCRIPT)
    with caplog.at_level(logging.WARNING, logger="kiln.sdk"):
        estimator = kiln.PyTorch(
            "train.py",
            source_dir=str(source),
            framework_version="2.3",
            py_version="py311",
            volume_size=50,
            enable_network_isolation=True,
            subnets=["subnet-1"],
            security_group_ids=["sg-1"],
            disable_output_compression=False,  # SageMaker's default: not reported
            distributions={"torch_distributed": {"enabled": False}},  # v1's name, taken as distribution
            sagemaker_session=session,
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "kiln.sdk"]
    assert len(lines) == 1
    assert "enable_network_isolation=True" in lines[0]
    assert "no effect on Kiln" in lines[0]
    assert "disable_output_compression" not in lines[0]
    assert estimator.distribution == {"torch_distributed": {"enabled": False}}
    estimator.fit(logs=False, experiment_config={"ExperimentName": "e"})
    described = estimator.latest_training_job.describe()  # type: ignore[union-attr]
    assert described["ResourceConfig"]["VolumeSizeInGB"] == 50
    assert described["SdkArguments"] == {
        "volume_size": 50,
        "enable_network_isolation": True,
        "subnets": ["subnet-1"],
        "security_group_ids": ["sg-1"],
        "experiment_config": {"ExperimentName": "e"},
    }


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ({"instance_cout": 2}, r"unknown arguments: instance_cout \(did you mean instance_count\?\)"),
        ({"train_instance_type": "local"}, r"train_instance_type \(SageMaker v2 renamed it instance_type\)"),
        ({"enable_network_isolaton": True}, r"did you mean enable_network_isolation\?"),
    ],
)
def test_a_misspelt_argument_names_the_closest_valid_one(
    session: kiln.Session, write_script, call: dict[str, object], message: str
) -> None:
    source = write_script(SCRIPT)
    with pytest.raises(ValidationError, match=message):
        kiln.PyTorch("train.py", source_dir=str(source), sagemaker_session=session, **call)


def test_spot_training_is_a_restartable_job_bounded_by_max_wait(session: kiln.Session, write_script) -> None:
    source = write_script(SCRIPT)
    with pytest.raises(ValidationError, match=r"max_wait \(10 s\) must be at least max_run \(60 s\)"):
        kiln.Estimator("train.py", source_dir=str(source), max_run=60, max_wait=10, sagemaker_session=session)
    estimator = kiln.Estimator(
        "train.py",
        source_dir=str(source),
        max_run=60,
        max_wait=120,
        use_spot_instances=True,
        checkpoint_s3_uri=f"{session.bucket_uri()}/spot-checkpoints",
        sagemaker_session=session,
    )
    request = estimator._training_request("spot-probe", None)
    assert request["RetryStrategy"] == {"MaximumRetryAttempts": 3}
    assert request["SdkArguments"] == {"use_spot_instances": True, "max_wait": 120}


def test_deploy_and_model_arguments_are_checked_under_their_own_names(session: kiln.Session) -> None:
    with pytest.raises(
        ValidationError,
        match=r"PyTorchModel got unknown arguments: entry_pont \(did you mean entry_point\?\)",
    ):
        kiln.PyTorchModel("file:///nowhere/model.tar.gz", entry_pont="x.py", sagemaker_session=session)
    with pytest.raises(ValidationError, match=r"HyperparameterTuner got unknown arguments: max_job"):
        kiln.HyperparameterTuner(
            kiln.Estimator.__new__(kiln.Estimator),
            "loss",
            {"lr": kiln.ContinuousParameter(0.1, 1)},
            max_job=3,
        )
