"""The SageMaker toolkit's rules for hyperparameters and SM_* variables (docs/contracts.md §1.3–1.4)."""

from __future__ import annotations

import json
from pathlib import Path

from kiln.runtime.training.environment import (
    decode_hyperparameters,
    hyperparameter_args,
    training_environment,
)
from kiln.runtime.training.layout import OptMl
from kiln.runtime.training.spec import HostSpec


def _spec(hyperparameters: dict[str, str], hosts: list[str] | None = None) -> HostSpec:
    return HostSpec(
        job_name="job-1",
        host="algo-1",
        hosts=hosts or ["algo-1"],
        attempt=1,
        server_url="http://127.0.0.1:1",
        artifact_url="file:///tmp/x",
        base_dir="/tmp/x/opt/ml",
        job={
            "HyperParameters": hyperparameters,
            "InputDataConfig": [
                {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3Uri": "file:///d"}}},
                {"ChannelName": "test", "DataSource": {"S3DataSource": {"S3Uri": "file:///e"}}},
            ],
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        },
        num_cpus=2,
    )


def test_values_are_json_decoded_with_raw_strings_kept_and_reserved_keys_split_off() -> None:
    user, framework = decode_hyperparameters(
        {"lr": "0.1", "name": '"resnet"', "raw": "not json", "sagemaker_program": '"train.py"'}
    )
    assert user == {"lr": 0.1, "name": "resnet", "raw": "not json"}
    assert framework == {"sagemaker_program": "train.py"}


def test_arguments_are_sorted_with_the_toolkits_formatting() -> None:
    args = hyperparameter_args(
        {"zeta": 1, "a": "x", "layers": [1, 2], "opts": {"k": "v", "m": 2}, "flag": True, "none": None}
    )
    assert args == [
        "-a", "x",
        "--flag", "True",
        "--layers", "[1, 2]",
        "--none", "",
        "--opts", "k=v,m=2",
        "--zeta", "1",
    ]  # fmt: skip


def test_sm_variables_describe_the_host_channels_and_hyperparameters() -> None:
    spec = _spec(
        {"epochs": "3", "learning-rate": "0.01", "sagemaker_program": '"train.py"'}, ["algo-1", "algo-2"]
    )
    env = training_environment(spec, OptMl(Path("/opt/ml")), "train.py")
    assert env["SM_MODEL_DIR"] == "/opt/ml/model"
    assert env["SM_CHANNELS"] == '["test","train"]'
    assert env["SM_CHANNEL_TRAIN"] == "/opt/ml/input/data/train"
    assert env["SM_HOSTS"] == '["algo-1","algo-2"]'
    assert env["SM_CURRENT_HOST"] == "algo-1"
    assert env["SM_NUM_CPUS"] == "2"
    assert env["SM_HP_EPOCHS"] == "3"
    assert env["SM_HP_LEARNING-RATE"] == "0.01"
    assert json.loads(env["SM_HPS"]) == {"epochs": 3, "learning-rate": 0.01}
    assert env["SM_OUTPUT_DATA_DIR"] == "/opt/ml/output/data"
    assert env["SM_USER_ENTRY_POINT"] == "train.py"
    training_env = json.loads(env["SM_TRAINING_ENV"])
    assert training_env["hyperparameters"] == {"epochs": 3, "learning-rate": 0.01}
    assert training_env["is_master"] is True
    assert training_env["master_hostname"] == "algo-1"
    assert training_env["channel_input_dirs"]["test"] == "/opt/ml/input/data/test"
    assert training_env["job_name"] == "job-1"
    assert json.loads(env["SM_RESOURCE_CONFIG"])["hosts"] == ["algo-1", "algo-2"]
