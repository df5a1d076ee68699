"""A cheap model for transform tests (scikit-learn, served by the default handlers) and job helpers."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from tests.hosting.hosting_fixtures import pack

import kiln
from kiln.sdk.client import KilnClient

COEFFICIENTS = (1.0, 2.0, 3.0)


def predict(rows: np.ndarray) -> np.ndarray:
    """What the model answers: x0 + 2·x1 + 3·x2, exactly (a linear regression fitted to it)."""
    return rows @ np.array(COEFFICIENTS)


def create_linear_model(session: kiln.Session, folder: Path) -> str:
    """A LinearRegression saved as model.joblib, uploaded and registered; returns the model's name."""
    import joblib
    from sklearn.linear_model import LinearRegression

    features = np.random.default_rng(0).integers(0, 10, size=(50, 3)).astype(float)
    model = LinearRegression(fit_intercept=False).fit(features, predict(features))
    model.coef_ = np.array(COEFFICIENTS)  # exact, so outputs can be compared as text
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, folder / "model.joblib")
    archive = pack(folder, {"model.joblib": (folder / "model.joblib").read_bytes()})
    uri = session.upload_data(archive, key_prefix=f"transform-tests/{folder.name}")
    name = f"linear-{uuid.uuid4().hex[:8]}"
    session.client.create_model(
        {"ModelName": name, "PrimaryContainer": {"ModelDataUrl": uri, "Framework": "sklearn"}}
    )
    return name


def job_request(name: str, model: str, input_uri: str, output_uri: str, **extra: Any) -> dict[str, Any]:
    transform_input = {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
        "ContentType": "text/csv",
        "SplitType": "Line",
    }
    transform_input.update(extra.pop("TransformInput", {}))
    output = {"S3OutputPath": output_uri, "Accept": "text/csv", "AssembleWith": "Line"}
    output.update(extra.pop("TransformOutput", {}))
    return {
        "TransformJobName": name,
        "ModelName": model,
        "TransformInput": transform_input,
        "TransformOutput": output,
        "TransformResources": {"InstanceType": "local", "InstanceCount": 1},
        **extra,
    }


def wait_for_job(client: KilnClient, name: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.describe_transform_job(name)
        if job["TransformJobStatus"] in ("Completed", "Failed", "Stopped"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"transform job {name} did not end within {timeout} s: {job}")
