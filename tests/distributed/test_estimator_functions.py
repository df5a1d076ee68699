"""Estimator-function entry points: Kiln's trainer, its global step, checkpoints, metrics and export."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

import kiln

torch = pytest.importorskip("torch")

ESTIMATOR_MODULE = """
import os
import numpy as np
import torch

def model_fn(params):
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))

def _data(training_dir):
    with np.load(os.path.join(training_dir, "data.npz")) as d:
        return torch.from_numpy(d["x"]), torch.from_numpy(d["y"])

def train_input_fn(training_dir, params):
    x, y = _data(training_dir)
    order = torch.randperm(len(x))
    for start in range(0, len(x), 16):
        yield x[order[start:start + 16]], y[order[start:start + 16]]

def eval_input_fn(training_dir, params):
    x, y = _data(training_dir)
    for start in range(0, len(x), 16):
        yield x[start:start + 16], y[start:start + 16]

def serving_input_fn(params):
    return {"x": {"shape": [None, 4], "dtype": "float32"}}
"""


@pytest.fixture
def separable_data(session: kiln.Session, tmp_path: Path) -> str:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)  # linearly separable: accuracy should reach ~1
    folder = tmp_path / "data"
    folder.mkdir()
    np.savez(folder / "data.npz", x=x, y=y)
    return session.upload_data(folder, key_prefix=f"estimator/{tmp_path.name}")


def _model_files(session: kiln.Session, uri: str) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(session.read_artifact(uri)), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


@pytest.mark.parametrize("hosts", [1, 2])
def test_the_trainer_drives_estimator_functions_to_an_exported_model(
    session: kiln.Session, write_script, separable_data: str, tmp_path: Path, hosts: int
) -> None:
    source = write_script(ESTIMATOR_MODULE, name="estimator.py")
    checkpoints = f"{session.bucket_uri()}/checkpoints/{tmp_path.name}"
    estimator = kiln.PyTorch(
        "estimator.py",
        source_dir=str(source),
        training_steps=300,
        evaluation_steps=100,
        instance_count=hosts,
        hyperparameters={"learning_rate": 0.05},
        checkpoint_s3_uri=checkpoints,
        sagemaker_session=session,
    )
    estimator.fit(separable_data, logs=False)
    name = estimator.latest_training_job.name  # type: ignore[union-attr]
    messages = [e["message"] for e in session.client.training_job_logs(name, limit=5000)["Events"]]
    evaluation = [m for m in messages if m.startswith("Saving dict for global step")]
    assert len(evaluation) == 1  # the chief evaluates once, at the end
    assert evaluation[0].startswith("Saving dict for global step 300: accuracy = ")
    assert "global_step = 300" in evaluation[0]
    metrics = estimator.final_metrics()  # recorded with no metric_definitions at all
    assert metrics["global_step"] == 300
    assert metrics["accuracy"] >= 0.95
    assert "loss" in metrics

    files = _model_files(session, estimator.model_data)
    assert {"model.pt", "signature.json", "code/inference.py"} <= set(files)
    assert json.loads(files["signature.json"]) == {"inputs": {"x": {"shape": [4], "dtype": "float32"}}}
    exported = torch.jit.load(io.BytesIO(files["model.pt"]))
    assert tuple(exported(torch.zeros(3, 4)).shape) == (3, 2)
    stored = {e["Uri"].rsplit("/", 1)[-1] for e in session.list_artifacts(checkpoints)}
    assert {"checkpoint.json", "model.ckpt-300.pt"} <= stored

    # A new job given the same checkpoint URI resumes from global step 300.
    again = kiln.PyTorch(
        "estimator.py",
        source_dir=str(source),
        training_steps=350,
        evaluation_steps=10,
        checkpoint_s3_uri=checkpoints,
        sagemaker_session=session,
    )
    again.fit(separable_data, logs=False)
    again_name = again.latest_training_job.name  # type: ignore[union-attr]
    lines = [e["message"] for e in session.client.training_job_logs(again_name, limit=5000)["Events"]]
    assert any(line.startswith("Restoring parameters from") and "global step 300" in line for line in lines)
    assert again.final_metrics()["global_step"] == 350
