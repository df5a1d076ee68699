"""SageMaker SDK v2's own ``sagemaker.transformer.Transformer``, unmodified, against Kiln's wire."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np
import pytest
from tests.transform.transform_support import create_linear_model, predict
from tests.wire.wire_support import RUN_TIMEOUT, run_sdk_program, sagemaker_v2  # noqa: F401 (the fixture)

from conftest import RunningServer

SCRIPT = """
import sys
import sagemaker
from sagemaker.transformer import Transformer

model_name, data = sys.argv[1], sys.argv[2]
session = sagemaker.Session(default_bucket="sdk-v2-transform")
transformer = Transformer(
    model_name,
    instance_count=1,
    instance_type="ml.m5.large",
    strategy="MultiRecord",
    assemble_with="Line",
    accept="text/csv",
    max_payload=1,
    output_path=f"{data}/out",
    env={"EXTRA": "1"},
    sagemaker_session=session,
)
transformer.transform(
    f"{data}/in/",
    content_type="text/csv",
    split_type="Line",
    input_filter="$[1:]",
    join_source="Input",
    output_filter="$[0,-1]",
    model_client_config={"InvocationsTimeoutInSeconds": 60, "InvocationsMaxRetries": 1},
    wait=True,
    logs=False,
)
print("JOB", transformer.latest_transform_job.name, flush=True)
attached = Transformer.attach(transformer.latest_transform_job.name, sagemaker_session=session)
print("ATTACHED", attached.model_name, attached.strategy, attached.output_path, flush=True)
"""


@pytest.mark.slow
def test_the_sagemaker_sdks_transformer_runs_a_job_and_attaches(
    server: RunningServer,
    sagemaker_v2: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    session = server.session()
    data = f"s3://{session.default_bucket()}/sdk-v2-transform"  # on S3 too: the store's own bucket
    model = create_linear_model(session, tmp_path / "model")
    rows = np.random.default_rng(5).integers(0, 9, size=(200, 3)).astype(float)
    text = "".join(f"id{i}," + ",".join(str(int(v)) for v in row) + "\n" for i, row in enumerate(rows))
    session.client.upload(text.encode(), f"{data}/in/rows.csv")
    config = tmp_path / "sagemaker-config.yaml"
    config.write_text(
        "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n"
    )
    script = tmp_path / "transform.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AWS_ENDPOINT_URL": server.url,
        "AWS_ACCESS_KEY_ID": "AKIAKILNSDKTESTS0000",
        "AWS_SECRET_ACCESS_KEY": "any",
        "AWS_DEFAULT_REGION": "us-east-1",
        "SAGEMAKER_USER_CONFIG_OVERRIDE": str(config),
        "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
    }
    ran = run_sdk_program(sagemaker_v2, script, [model, data], env, tmp_path)
    job = next(line.split()[1] for line in ran.stdout.splitlines() if line.startswith("JOB"))
    assert f"ATTACHED {model} MultiRecord {data}/out" in ran.stdout
    out = session.client.download(f"{data}/out/rows.csv.out").decode().splitlines()
    assert [line.split(",")[0] for line in out] == [f"id{i}" for i in range(200)]
    np.testing.assert_allclose([float(line.split(",")[1]) for line in out], predict(rows))
    assert session.client.describe_transform_job(job)["Environment"] == {"EXTRA": "1"}
    session.close()
