"""The SageMaker Python SDK v3 (sagemaker-train, -serve, -core), unmodified, against Kiln: only the
environment (AWS_ENDPOINT_URL, keys, region) and the SDK's own config file (telemetry off, a default
bucket) differ from running on AWS.

The SDK lives in a virtual environment of its own (cached under ~/.cache/kiln-tests-v3 or
$XDG_CACHE_HOME/kiln-tests-v3, apart from v2's), so its pins never meet Kiln's; the scripts run there.
"""

from __future__ import annotations

import io
import tarfile
import textwrap
from pathlib import Path

import pytest
from botocore.exceptions import WaiterError
from tests.wire.wire_support import (  # noqa: F401  (sagemaker_v3: a fixture)
    FAST,
    INSTALL_TIMEOUT,
    PYTORCH_INFERENCE_IMAGE,
    RUN_TIMEOUT,
    client,
    ensure_bucket,
    run_sdk_program,
    sagemaker_sdk_env,
    sagemaker_v3,
    use_kiln,
)

from conftest import RunningServer

BUCKET = "sdk-v3-tests"
# The SDK's own config file: what a team sets once for every notebook (no code changes).
SDK_CONFIG = f"""
SchemaVersion: '1.0'
SageMaker:
  PythonSDK:
    Modules:
      TelemetryOptOut: true
      Session:
        DefaultS3Bucket: {BUCKET}
"""

TRAIN = """
import argparse, os
import torch

parser = argparse.ArgumentParser()
parser.add_argument("--factor", type=float, default=1.0)
parser.add_argument("--epochs", type=int, default=2)
args = parser.parse_args()
for epoch in range(args.epochs):
    print(f"epoch {epoch} loss={1 / (epoch + 1):.3f}", flush=True)
model = torch.nn.Linear(1, 1, bias=False)
with torch.no_grad():
    model.weight.fill_(args.factor)
# TorchScript, as the SDK's example saves it for TorchServe
torch.jit.save(torch.jit.script(model), os.path.join(os.environ["SM_MODEL_DIR"], "model.pth"))
print("OPT_ML", sorted(os.listdir("/opt/ml/input/data")), flush=True)
"""

# SageMaker's "Train-to-Inference E2E" example (v3-examples/inference-examples), as written there
# but for the tiny model: ModelTrainer → ModelBuilder(model=trainer) → deploy → invoke → delete.
TRAIN_AND_DEPLOY = """
import json, logging, sys

logging.basicConfig(level=logging.INFO)  # the SDK streams the job's log through `logging`
from sagemaker.core.helper.session_helper import Session
from sagemaker.core.resources import Endpoint, EndpointConfig
from sagemaker.serve.builder.schema_builder import SchemaBuilder
from sagemaker.serve.model_builder import ModelBuilder
from sagemaker.serve.spec.inference_spec import InferenceSpec
from sagemaker.serve.utils.types import ModelServer
from sagemaker.train.configs import Compute, SourceCode
from sagemaker.train.model_trainer import ModelTrainer

PYTORCH_TRAINING_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1-cpu-py310"
role = "arn:aws:iam::000000000000:role/SageMakerRole"
session = Session()
trainer = ModelTrainer(
    sagemaker_session=session,
    training_image=PYTORCH_TRAINING_IMAGE,
    role=role,
    source_code=SourceCode(source_dir=sys.argv[1], entry_script="train.py", requirements="requirements.txt"),
    compute=Compute(instance_type="ml.m5.large", instance_count=1),
    hyperparameters={"factor": 3, "epochs": 2},
    base_job_name="v3-e2e",
)
trainer.train()
job = trainer._latest_training_job
print("STATUS", job.training_job_status, flush=True)
print("MODEL", job.model_artifacts.s3_model_artifacts, flush=True)


class SimpleInferenceSpec(InferenceSpec):
    def load(self, model_dir):
        import torch
        return torch.jit.load(f"{model_dir}/model.pth")

    def invoke(self, input_object, model):
        import torch
        return model(torch.tensor(input_object)).tolist()


builder = ModelBuilder(
    model=trainer,
    schema_builder=SchemaBuilder([[0.5]], [[1.5]]),
    model_server=ModelServer.TORCHSERVE,
    inference_spec=SimpleInferenceSpec(),
    image_uri=PYTORCH_TRAINING_IMAGE.replace("training", "inference"),
    dependencies={"auto": False},
    role_arn=role,
    instance_type="ml.m5.large",
)
core_model = builder.build(model_name="v3-e2e-model")
core_endpoint = builder.deploy(endpoint_name="v3-e2e-endpoint", initial_instance_count=1)
result = core_endpoint.invoke(body=json.dumps([[1.0], [2.5]]), content_type="application/json")
print("PREDICTION", json.dumps(json.loads(result.body.read().decode("utf-8"))), flush=True)
endpoint = Endpoint.get(endpoint_name=core_endpoint.endpoint_name)
config = EndpointConfig.get(endpoint_config_name=endpoint.endpoint_config_name)
core_model.delete()
core_endpoint.delete()
config.delete()
print("DONE", flush=True)
"""

INFERENCE = """
import json, os

def model_fn(model_dir):
    with open(os.path.join(model_dir, "model.json")) as f:
        return json.load(f)

def input_fn(body, content_type):
    return json.loads(body)

def predict_fn(data, model):
    return [x * model["factor"] for x in data]
"""

# sagemaker-core's resources alone, as the SDK's "inference pipeline: ModelBuilder vs core" example
# uses them: repack_model, Model / EndpointConfig / Endpoint .create, wait, invoke, delete.
CORE_ROUND_TRIP = """
import io, json, sys, tarfile
import boto3
from sagemaker.core.helper.session_helper import Session
from sagemaker.core.image_uris import retrieve
from sagemaker.core.resources import Endpoint, EndpointConfig, Model
from sagemaker.core.shapes import ContainerDefinition, ProductionVariant
from sagemaker.core.utils import repack_model

session = Session()
bucket = session.default_bucket()
role = "arn:aws:iam::000000000000:role/SageMakerRole"
archive = io.BytesIO()
with tarfile.open(fileobj=archive, mode="w:gz") as tar:
    data = json.dumps({"factor": 4}).encode()
    info = tarfile.TarInfo("model.json")
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
boto3.client("s3").put_object(Bucket=bucket, Key="core/model.tar.gz", Body=archive.getvalue())
repacked = f"s3://{bucket}/core/repacked/model.tar.gz"
repack_model(
    inference_script="inference.py",
    source_directory=sys.argv[1],
    dependencies=[],
    model_uri=f"s3://{bucket}/core/model.tar.gz",
    repacked_model_uri=repacked,
    sagemaker_session=session,
)
image = retrieve(framework="sklearn", region=session.boto_region_name, version="1.2-1", py_version="py3")
model = Model.create(
    model_name="v3-core-model",
    primary_container=ContainerDefinition(
        image=image,
        model_data_url=repacked,
        environment={"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"},
    ),
    execution_role_arn=role,
)
config = EndpointConfig.create(
    endpoint_config_name="v3-core-config",
    production_variants=[
        ProductionVariant(
            variant_name="AllTraffic",
            model_name=model.model_name,
            initial_instance_count=1,
            instance_type="ml.m5.large",
        )
    ],
)
endpoint = Endpoint.create(endpoint_name="v3-core-endpoint", endpoint_config_name=config.endpoint_config_name)
endpoint.wait_for_status("InService", poll=1)
answer = endpoint.invoke(body=json.dumps([1, 2.5]), content_type="application/json", accept="application/json")
print("PREDICTION", json.dumps(json.loads(answer.body.read())), flush=True)
endpoint.delete()
endpoint.wait_for_delete(poll=1)
config.delete()
model.delete()
names = [m.model_name for m in Model.get_all()]
print("LEFT", "v3-core-model" in names, flush=True)
"""


TUNE_SCRIPT = """
import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--epochs", type=int, default=1)
args, _ = parser.parse_known_args()
print(f"Test set: Average loss: {abs(args.lr - 0.05):.4f}", flush=True)
"""

# SageMaker's v3 hyperparameter tuning example, small: the tuner runs a ModelTrainer's script through
# the framework toolkit (sagemaker_program / sagemaker_submit_directory), not its entry point.
TUNE = """
import sys
from sagemaker.core.helper.session_helper import Session
from sagemaker.core.parameter import ContinuousParameter
from sagemaker.train import ModelTrainer
from sagemaker.train.configs import Compute, SourceCode, StoppingCondition
from sagemaker.train.tuner import HyperparameterTuner

trainer = ModelTrainer(
    training_image="763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1-cpu-py310",
    source_code=SourceCode(source_dir=sys.argv[1], entry_script="tune.py"),
    compute=Compute(instance_type="ml.m5.large", instance_count=1),
    stopping_condition=StoppingCondition(max_runtime_in_seconds=600),
    hyperparameters={"epochs": 1},
    sagemaker_session=Session(),
    role="arn:aws:iam::000000000000:role/SageMakerRole",
    base_job_name="v3-hpo",
)
tuner = HyperparameterTuner(
    model_trainer=trainer,
    objective_metric_name="average test loss",
    hyperparameter_ranges={"lr": ContinuousParameter(0.001, 0.1)},
    metric_definitions=[{"Name": "average test loss", "Regex": "Test set: Average loss: ([0-9\\.]+)"}],
    max_jobs=2,
    max_parallel_jobs=2,
    strategy="Random",
    objective_type="Minimize",
)
tuner.tune(wait=True)
print("STATUS", tuner.describe().hyper_parameter_tuning_job_status, flush=True)
trials = tuner.analytics().dataframe().sort_values("FinalObjectiveValue")
print("BEST", tuner.best_training_job(), trials.iloc[0]["TrainingJobName"], len(trials), flush=True)
"""


def _run(server: RunningServer, python: Path, tmp_path: Path, script: str, files: dict[str, str]) -> str:
    """``script`` run by the SDK's Python with a SageMaker user's environment aimed at Kiln."""
    source = tmp_path / "src"
    source.mkdir()
    for name, text in files.items():
        (source / name).write_text(textwrap.dedent(text))
    (tmp_path / "notebook.py").write_text(textwrap.dedent(script))
    (tmp_path / "sagemaker-config.yaml").write_text(SDK_CONFIG)
    env = sagemaker_sdk_env(server.url, tmp_path)
    env["SAGEMAKER_USER_CONFIG_OVERRIDE"] = str(tmp_path / "sagemaker-config.yaml")
    ran = run_sdk_program(python, tmp_path / "notebook.py", [str(source)], env, tmp_path)
    return ran.stdout + ran.stderr


@pytest.mark.slow
@pytest.mark.timeout(INSTALL_TIMEOUT + RUN_TIMEOUT)  # the first run installs the SDK
def test_model_trainer_trains_and_model_builder_deploys_invokes_and_deletes(
    server: RunningServer,
    sagemaker_v3: Path,  # noqa: F811  (the fixture, from wire_support)
    tmp_path: Path,
) -> None:
    files = {"train.py": TRAIN, "requirements.txt": "numpy\n"}  # installed by sm_train.sh with pip
    output = _run(server, sagemaker_v3, tmp_path, TRAIN_AND_DEPLOY, files)
    # ModelTrainer's sm_train.sh ran in /opt/ml, its driver ran train.py with the hyperparameters,
    # and train(logs=True) streamed the lines through CloudWatch Logs.
    for epoch in range(2):
        assert f"epoch {epoch} loss={1 / (epoch + 1):.3f}" in output
    assert "OPT_ML ['code', 'sm_drivers']" in output
    assert "Requirement already satisfied: numpy" in output  # the job's pip, over Kiln's environment
    assert "Training Container Execution Completed" in output
    assert "STATUS Completed" in output
    assert f"MODEL s3://{BUCKET}/v3-e2e/" in output
    assert "PREDICTION [[3.0], [7.5]]" in output  # the trained factor 3, served
    assert "DONE" in output


@pytest.mark.slow
@pytest.mark.timeout(INSTALL_TIMEOUT + RUN_TIMEOUT)  # the first run installs the SDK
def test_sagemaker_core_resources_create_wait_invoke_and_delete_an_endpoint(
    server: RunningServer,
    sagemaker_v3: Path,  # noqa: F811  (the fixture, from wire_support)
    tmp_path: Path,
) -> None:
    output = _run(server, sagemaker_v3, tmp_path, CORE_ROUND_TRIP, {"inference.py": INFERENCE})
    assert "PREDICTION [4, 10.0]" in output
    assert "LEFT False" in output


@pytest.mark.slow
@pytest.mark.timeout(INSTALL_TIMEOUT + RUN_TIMEOUT)  # the first run installs the SDK
def test_the_hyperparameter_tuner_runs_a_model_trainers_trials_and_names_the_best(
    server: RunningServer,
    sagemaker_v3: Path,  # noqa: F811  (the fixture, from wire_support)
    tmp_path: Path,
) -> None:
    output = _run(server, sagemaker_v3, tmp_path, TUNE, {"tune.py": TUNE_SCRIPT})
    assert "STATUS Completed" in output
    best = next(line.split() for line in output.splitlines() if line.startswith("BEST "))
    assert best[1] == best[2]  # best_training_job() is the trial with the lowest loss
    assert best[3] == "2"


def test_a_model_builder_inference_spec_model_fails_its_endpoint_saying_why(
    server: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ModelBuilder(inference_spec=..., model_path=<local>) ships a handler that imports the SDK
    (and a pickle of the spec): Kiln cannot serve it, and the endpoint's FailureReason says so."""
    use_kiln(monkeypatch, server.url)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for name, data in {
            "model.json": b"{}",
            "code/inference.py": b"import cloudpickle\nfrom sagemaker.serve.spec.inference_spec import InferenceSpec\n",
            "code/serve.pkl": b"pickled spec",
            "code/metadata.json": b"{}",
        }.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    s3 = client("s3")
    ensure_bucket(s3, BUCKET)  # the SDK tests before this one made it
    s3.put_object(Bucket=BUCKET, Key="spec/model.tar.gz", Body=archive.getvalue())
    sm = client("sagemaker")
    sm.create_model(
        ModelName="v3-spec-model",
        PrimaryContainer={
            "Image": PYTORCH_INFERENCE_IMAGE,
            "ModelDataUrl": f"s3://{BUCKET}/spec/model.tar.gz",
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
            },
        },
        ExecutionRoleArn="arn:aws:iam::000000000000:role/SageMakerRole",
    )
    sm.create_endpoint_config(
        EndpointConfigName="v3-spec-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "v3-spec-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sm.create_endpoint(EndpointName="v3-spec-endpoint", EndpointConfigName="v3-spec-config")
    with pytest.raises(WaiterError):
        sm.get_waiter("endpoint_in_service").wait(EndpointName="v3-spec-endpoint", WaiterConfig=FAST)
    described = sm.describe_endpoint(EndpointName="v3-spec-endpoint")
    assert described["EndpointStatus"] == "Failed"
    assert "SageMaker Python SDK v3 ModelBuilder's handler" in described["FailureReason"]
    assert "model_fn" in described["FailureReason"]  # what to do instead
