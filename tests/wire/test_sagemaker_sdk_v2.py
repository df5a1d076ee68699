"""The SageMaker Python SDK v2 (the last 2.x release), unmodified, against Kiln: only the environment
(AWS_ENDPOINT_URL, keys, region, telemetry off) and a default bucket differ from running on AWS.

The SDK lives in its own virtual environment (cached under ~/.cache/kiln-tests or
$XDG_CACHE_HOME/kiln-tests), so its pins never meet Kiln's; the script below runs there.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest
from tests.wire.wire_support import (  # noqa: F401  (sagemaker_v2: a fixture)
    INSTALL_TIMEOUT,
    RUN_TIMEOUT,
    run_sdk_program,
    sagemaker_sdk_env,
    sagemaker_v2,
)

from conftest import RunningServer

TRAIN_AND_SERVE = """
import argparse, json, os, time

# Serving: SageMaker's PyTorch container imports this module and calls these.
def model_fn(model_dir):
    with open(os.path.join(model_dir, "model.json")) as f:
        return json.load(f)

def predict_fn(data, model):
    return [float(x) * model["factor"] for x in list(data)]

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--factor", type=float, default=1.0)
    parser.add_argument("--epochs", type=int, default=3)
    args, _ = parser.parse_known_args()  # the tuner adds _tuning_objective_metric
    scale = json.load(open(os.path.join(os.environ["SM_CHANNEL_TRAINING"], "data.json")))["scale"]
    for epoch in range(args.epochs):
        print(f"epoch {epoch} loss={1 / (epoch + 1):.3f}", flush=True)
        time.sleep(0.2)
    print(f"final loss={abs(args.factor - 3.3):.4f}", flush=True)  # the tuner's objective: the last value
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as out:
        json.dump({"factor": args.factor * scale}, out)
"""

NOTEBOOK = """
import json, sys
import boto3
import numpy as np
import sagemaker
from sagemaker.deserializers import JSONDeserializer, NumpyDeserializer
from sagemaker.predictor import Predictor
from sagemaker.pytorch import PyTorch
from sagemaker.serializers import JSONSerializer, NumpySerializer

source_dir, data_dir = sys.argv[1], sys.argv[2]
session = sagemaker.Session(default_bucket="sdk-v2-tests")  # STS's account lookup goes to AWS itself
role = "arn:aws:iam::000000000000:role/SageMakerRole"
inputs = session.upload_data(path=data_dir, key_prefix="data/training")
estimator = PyTorch(
    entry_point="train.py",
    source_dir=source_dir,
    role=role,
    framework_version="2.1",
    py_version="py310",
    instance_count=1,
    instance_type="ml.m5.large",
    hyperparameters={"factor": 3, "epochs": 3},
    sagemaker_session=session,
)
estimator.fit({"training": inputs}, logs=True)
print("MODEL_DATA", estimator.model_data, flush=True)

predictor = estimator.deploy(initial_instance_count=1, instance_type="ml.m5.large", wait=False)
boto3.client("sagemaker").get_waiter("endpoint_in_service").wait(
    EndpointName=predictor.endpoint_name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
)
as_json = Predictor(predictor.endpoint_name, session, serializer=JSONSerializer(), deserializer=JSONDeserializer())
print("JSON", json.dumps(as_json.predict([1, 2.5])), flush=True)
as_npy = Predictor(predictor.endpoint_name, session, serializer=NumpySerializer(), deserializer=NumpyDeserializer())
print("NPY", json.dumps(np.asarray(as_npy.predict(np.array([1.0, 2.5]))).tolist()), flush=True)
attached = sagemaker.estimator.Estimator.attach(estimator.latest_training_job.name, sagemaker_session=session)
print("ATTACHED", attached.model_data, flush=True)
as_json.delete_model()  # first: it finds the model through the endpoint's config
as_json.delete_endpoint()
print("DONE", flush=True)
"""


SKLEARN_AND_TUNER = """
import json, sys
import boto3
import sagemaker
from sagemaker.deserializers import JSONDeserializer
from sagemaker.serializers import JSONSerializer
from sagemaker.sklearn import SKLearn
from sagemaker.tuner import ContinuousParameter, HyperparameterTuner

source_dir, data_dir = sys.argv[1], sys.argv[2]
session = sagemaker.Session(default_bucket="sdk-v2-tests")
role = "arn:aws:iam::000000000000:role/SageMakerRole"
inputs = session.upload_data(path=data_dir, key_prefix="data/sklearn")


def estimator(**hyperparameters):
    return SKLearn(
        entry_point="train.py",
        source_dir=source_dir,
        role=role,
        framework_version="1.2-1",
        py_version="py3",
        instance_count=1,
        instance_type="ml.m5.large",
        hyperparameters=hyperparameters,
        sagemaker_session=session,
    )


fitted = estimator(factor=4, epochs=1)
fitted.fit({"training": inputs}, logs=False)
predictor = fitted.deploy(
    initial_instance_count=1,
    instance_type="ml.m5.large",
    serializer=JSONSerializer(),
    deserializer=JSONDeserializer(),
    wait=False,
)
boto3.client("sagemaker").get_waiter("endpoint_in_service").wait(
    EndpointName=predictor.endpoint_name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
)
print("SKLEARN", json.dumps(predictor.predict([1, 2.5])), flush=True)
predictor.delete_model()
predictor.delete_endpoint()

tuner = HyperparameterTuner(
    estimator(epochs=2),
    objective_metric_name="train:loss",
    hyperparameter_ranges={"factor": ContinuousParameter(1, 5)},
    metric_definitions=[{"Name": "train:loss", "Regex": "loss=([0-9\\\\.]+)"}],
    objective_type="Minimize",
    strategy="Random",
    max_jobs=4,
    max_parallel_jobs=2,
)
tuner.fit({"training": inputs})
description = tuner.describe()
print("TUNED", description["HyperParameterTuningJobStatus"], description["TrainingJobStatusCounters"]["Completed"], flush=True)
best = tuner.best_training_job()
trials = tuner.analytics().dataframe()
print("BEST", best, trials.sort_values("FinalObjectiveValue").iloc[0]["TrainingJobName"], len(trials), flush=True)
"""


def _run_notebook(
    server: RunningServer, python: Path, tmp_path: Path, notebook: str
) -> subprocess.CompletedProcess[str]:
    """``notebook`` run by the SDK's Python with a SageMaker user's environment aimed at Kiln."""
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(textwrap.dedent(TRAIN_AND_SERVE))
    data = tmp_path / "data"
    data.mkdir()
    (data / "data.json").write_text('{"scale": 2.0}')
    script = tmp_path / "notebook.py"
    script.write_text(textwrap.dedent(notebook))
    env = sagemaker_sdk_env(server.url, tmp_path)
    return run_sdk_program(python, script, [str(source), str(data)], env, tmp_path)


@pytest.mark.slow
@pytest.mark.timeout(INSTALL_TIMEOUT + RUN_TIMEOUT)  # the first run installs the SDK
def test_pytorch_estimator_fits_with_logs_deploys_predicts_and_deletes(
    server: RunningServer,
    sagemaker_v2: Path,  # noqa: F811  (the fixture, from wire_support)
    tmp_path: Path,
) -> None:
    ran = _run_notebook(server, sagemaker_v2, tmp_path, NOTEBOOK)
    output = ran.stdout + ran.stderr
    for epoch in range(3):  # fit(logs=True) streamed the job's lines through CloudWatch Logs
        assert f"epoch {epoch} loss={1 / (epoch + 1):.3f}" in output
    model_data = next(line.split()[1] for line in ran.stdout.splitlines() if line.startswith("MODEL_DATA"))
    assert model_data.startswith("s3://sdk-v2-tests/")
    assert model_data.endswith("/output/model.tar.gz")
    assert "JSON [6.0, 15.0]" in ran.stdout
    assert "NPY [6.0, 15.0]" in ran.stdout
    assert f"ATTACHED {model_data}" in ran.stdout
    assert "DONE" in ran.stdout


@pytest.mark.slow
@pytest.mark.timeout(INSTALL_TIMEOUT + RUN_TIMEOUT)  # the first run installs the SDK
def test_sklearn_estimator_and_a_four_trial_tuner_name_the_best_job(
    server: RunningServer,
    sagemaker_v2: Path,  # noqa: F811  (the fixture, from wire_support)
    tmp_path: Path,
) -> None:
    ran = _run_notebook(server, sagemaker_v2, tmp_path, SKLEARN_AND_TUNER)
    assert "SKLEARN [8.0, 20.0]" in ran.stdout  # factor 4 × scale 2
    assert "TUNED Completed 4" in ran.stdout
    best_line = next(line.split() for line in ran.stdout.splitlines() if line.startswith("BEST"))
    assert best_line[1] == best_line[2]  # best_training_job() is the trial with the lowest loss
    assert best_line[3] == "4"
