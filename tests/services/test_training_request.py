"""A CreateTrainingJob request is parsed once into one type, with the same words from every door."""

from __future__ import annotations

from typing import Any

import pytest

from kiln.errors import ValidationError
from kiln.services.training_request import CreateTrainingJobRequest, parse_training_request


def _request(**changes: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TrainingJobName": "typed-1",
        "HyperParameters": {"sagemaker_program": '"train.py"', "lr": "0.1"},
        "OutputDataConfig": {"S3OutputPath": "file:///tmp/out"},
        "ResourceConfig": {"InstanceType": "local", "InstanceCount": 2},
    }
    request.update(changes)
    return request


def test_a_valid_request_becomes_the_typed_request_with_sagemakers_defaults() -> None:
    parsed = parse_training_request(_request())

    assert isinstance(parsed, CreateTrainingJobRequest)
    assert parsed.ResourceConfig.InstanceCount == 2
    assert parsed.StoppingCondition.MaxRuntimeInSeconds == 86400
    spec = parsed.spec
    assert spec["HyperParameters"] == {"sagemaker_program": '"train.py"', "lr": "0.1"}
    assert "CheckpointConfig" not in spec  # unset optional fields are left out of what is stored


def test_kilns_checks_speak_in_their_own_words() -> None:
    with pytest.raises(ValidationError) as raised:
        parse_training_request(_request(HyperParameters={"sagemaker_program": '"t.py"', "epochs": 3}))

    assert raised.value.message == (
        "hyperparameter 'epochs' has the value 3 of type int; values must be strings "
        "(the SDK JSON-encodes them for you)"
    )


def test_shape_errors_name_the_field_and_the_value() -> None:
    with pytest.raises(ValidationError) as raised:
        parse_training_request(
            _request(ResourceConfig={"InstanceType": "local", "InstanceCount": 0}, Extra=1)
        )

    message = raised.value.message
    assert "ResourceConfig.InstanceCount: Input should be greater than or equal to 1 (got 0)" in message
    assert "Extra: Extra inputs are not permitted (got 1)" in message
