"""boto3 against a Kiln server on loopback, every answer checked against botocore's output shape."""

from __future__ import annotations

import fcntl
import io
import json
import os
import subprocess
import tarfile
import textwrap
import venv
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.validate import validate_parameters

REGION = "us-east-1"
PYTORCH_TRAINING_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1-cpu-py310"
PYTORCH_INFERENCE_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310"
ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"
FAST = {"Delay": 1, "MaxAttempts": 180}  # waiters poll every second here (SageMaker's: 30-120 s)
SDK_VERSION = "2.257.7"  # the SageMaker Python SDK v2's last release
SDK_V3_VERSION = "3.27.0"  # the SageMaker Python SDK v3 (sagemaker-train / -serve / -core) tested
INSTALL_TIMEOUT = 900  # seconds: the first run installs the SDK and its dependencies
RUN_TIMEOUT = 300  # seconds: one program of a SageMaker user, training and serving included
SAGEMAKER_CONFIG = Path(__file__).resolve().parents[2] / "examples" / "mnist" / "sagemaker_config.yaml"

TRAIN_SCRIPT = """
import argparse, json, os, time

parser = argparse.ArgumentParser()
parser.add_argument("--factor", type=float, default=1.0)
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--pause", type=float, default=0.0)
args = parser.parse_args()
scale = json.load(open(os.path.join(os.environ["SM_CHANNEL_TRAINING"], "data.json")))["scale"]
for epoch in range(args.epochs):
    print(f"epoch {epoch} loss={1 / (epoch + 1):.3f}", flush=True)
    time.sleep(args.pause)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as out:
    json.dump({"factor": args.factor * scale}, out)
"""

INFERENCE_SCRIPT = """
import json, os

def model_fn(model_dir):
    with open(os.path.join(model_dir, "model.json")) as f:
        return json.load(f)

def predict_fn(data, model):
    values = [float(x) for x in data]
    if any(v < 0 for v in values):
        raise ValueError("negative inputs are not allowed")
    return [v * model["factor"] for v in values]
"""


def check_answer(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
    """botocore's after-call hook: the wire's raw answer has exactly the output shape's members."""
    if http_response.status_code >= 300 or model.output_shape is None:
        return
    if model.metadata["protocol"] == "json":
        validate_parameters(json.loads(http_response.content or b"{}"), model.output_shape)
    else:
        validate_parameters({k: v for k, v in parsed.items() if k != "ResponseMetadata"}, model.output_shape)


def use_kiln(
    monkeypatch: pytest.MonkeyPatch, url: str, key: str = "AKIAKILNLOCALTEST000", secret: str = "any"
) -> None:
    """The environment a SageMaker user sets, and nothing else (no config files are read)."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_SAGEMAKER", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    # A fresh program's boto3: the default session caches the credentials it resolved first.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


def client(service: str) -> Any:
    # From the environment only, as user code does; a new Session each time, because boto3's default
    # session keeps the first credentials it found for the life of the process (these tests change them).
    made = boto3.session.Session().client(service)
    made.meta.events.register("after-call", check_answer)
    return made


def ensure_bucket(s3: Any, name: str) -> str:
    """Create ``name`` unless this account already owns it: tests of one module share a server,
    so the bucket an earlier test (or the SDK's default_bucket()) made is there already."""
    try:
        s3.create_bucket(Bucket=name)
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    return name


def run_sdk_program(
    python: Path, program: Path, args: list[str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """``program`` run by the SDK venv's ``python``, as a user runs a notebook; it must succeed."""
    ran = subprocess.run(
        [str(python), str(program), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        cwd=cwd,
    )
    assert ran.returncode == 0, f"{ran.stdout[-3000:]}\n{ran.stderr[-5000:]}"
    return ran


def sourcedir_archive(folder: Path, files: dict[str, str]) -> Path:
    """sourcedir.tar.gz, packed as the SageMaker SDK packs source_dir."""
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / "sourcedir.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, text in files.items():
            data = textwrap.dedent(text).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return archive


def training_job_request(
    name: str, source_uri: str, data_uri: str, output_uri: str, **hyperparameters: str
) -> dict[str, Any]:
    """CreateTrainingJob as SageMaker's documentation writes it, with what the SDK adds by default."""
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": PYTORCH_TRAINING_IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "train:loss", "Regex": "loss=([0-9\\.]+)"}],
            "EnableSageMakerMetricsTimeSeries": True,
        },
        "RoleArn": ROLE,
        "InputDataConfig": [
            {
                "ChannelName": "training",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": data_uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "ContentType": "application/json",
                "CompressionType": "None",
            }
        ],
        "OutputDataConfig": {"S3OutputPath": output_uri},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "HyperParameters": {
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(source_uri),
            "sagemaker_container_log_level": "20",
            "sagemaker_job_name": json.dumps(name),
            "sagemaker_region": json.dumps(REGION),
            **{k: json.dumps(v) for k, v in hyperparameters.items()},
        },
        # What the SageMaker SDK sends by default and Kiln does not act on: accepted, stored, echoed.
        "EnableNetworkIsolation": False,
        "EnableInterContainerTrafficEncryption": False,
        "EnableManagedSpotTraining": False,
        "DebugHookConfig": {"S3OutputPath": output_uri, "CollectionConfigurations": []},
        "ProfilerConfig": {"S3OutputPath": output_uri, "DisableProfiler": True},
        "VpcConfig": {"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0123456789abcdef0"]},
        "Environment": {"SOME_UNKNOWN_SETTING": "1"},
        "Tags": [{"Key": "team", "Value": "ml"}],
    }


def upload_code_and_data(server: Any, folder: Path) -> dict[str, str]:
    """s3:// URIs of a sourcedir.tar.gz (train.py + inference.py), a training channel and an output
    path, uploaded through Kiln's S3 with boto3 as SageMaker code does."""
    archive = sourcedir_archive(folder / "code", {"train.py": TRAIN_SCRIPT, "inference.py": INFERENCE_SCRIPT})
    bucket = f"wire-tests-{folder.name.lower().replace('_', '-')}"[:63].rstrip("-")
    with pytest.MonkeyPatch.context() as patch:
        use_kiln(patch, server.url)
        s3 = client("s3")
        s3.create_bucket(Bucket=bucket)
        s3.upload_file(str(archive), bucket, "code/sourcedir.tar.gz")
        s3.put_object(Bucket=bucket, Key="data/training/data.json", Body=json.dumps({"scale": 2.0}).encode())
    return {
        "source": f"s3://{bucket}/code/sourcedir.tar.gz",
        "data": f"s3://{bucket}/data/training",
        "output": f"s3://{bucket}/output",
    }


def _cache_dir(name: str = "kiln-tests") -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / name


def _sdk_python(cache: Path, version: str) -> Path:
    """The Python of a virtual environment under ``cache`` with sagemaker==``version`` (made once,
    then reused)."""
    folder = cache / f"sagemaker-{version}"
    python = folder / "bin" / "python"
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".sagemaker-{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one installer at a time (xdist workers, parallel runs)
        if not (folder / ".ready").exists():
            venv.create(folder, with_pip=True, clear=True)
            installed = subprocess.run(
                [str(python), "-m", "pip", "install", "-q", f"sagemaker=={version}"],
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT,
            )
            assert installed.returncode == 0, (
                f"installing sagemaker=={version} failed:\n{installed.stderr[-3000:]}"
            )
            (folder / ".ready").touch()
    return python


@pytest.fixture(scope="session")
def sagemaker_v2() -> Path:
    """The Python of a virtual environment with sagemaker==SDK_VERSION (made once, then reused)."""
    return _sdk_python(_cache_dir(), SDK_VERSION)


@pytest.fixture(scope="session")
def sagemaker_v3() -> Path:
    """The Python of a virtual environment with sagemaker==SDK_V3_VERSION, apart from v2's (its own
    cache folder, ``kiln-tests-v3``: the two SDKs' pins never meet)."""
    return _sdk_python(_cache_dir("kiln-tests-v3"), SDK_V3_VERSION)


def sagemaker_sdk_env(url: str, home: Path) -> dict[str, str]:
    """A SageMaker user's environment aimed at Kiln, and nothing of the person running the tests."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),  # no ~/.aws, no ~/.config/sagemaker
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "AKIAKILNSDKTESTS0000",
        "AWS_SECRET_ACCESS_KEY": "any",
        "AWS_DEFAULT_REGION": REGION,
        "SAGEMAKER_USER_CONFIG_OVERRIDE": str(SAGEMAKER_CONFIG),  # TelemetryOptOut
        "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
    }
