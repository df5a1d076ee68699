"""``kiln.Transformer`` and ``Model.transformer``: SageMaker v2's batch transform calls against a real server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.hosting.hosting_fixtures import pack
from tests.transform.transform_support import COEFFICIENTS, predict

import kiln


def _model_data(session: kiln.Session, folder: Path) -> str:
    import joblib
    from sklearn.linear_model import LinearRegression

    features = np.eye(3)
    model = LinearRegression(fit_intercept=False).fit(features, predict(features))
    model.coef_ = np.array(COEFFICIENTS)
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, folder / "model.joblib")
    archive = pack(folder, {"model.joblib": (folder / "model.joblib").read_bytes()})
    return session.upload_data(archive, key_prefix="transformer-sdk")


def test_model_transformer_transforms_a_local_file_and_attach_reads_it_back(
    session: kiln.Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = kiln.Model(
        model_data=_model_data(session, tmp_path / "m"), framework="sklearn", sagemaker_session=session
    )
    rows = np.arange(60, dtype=float).reshape(20, 3)
    data = tmp_path / "input" / "rows.csv"
    data.parent.mkdir()
    data.write_text("".join(",".join(str(int(v)) for v in row) + "\n" for row in rows))

    transformer = model.transformer(
        instance_count=1,
        instance_type="local",
        strategy="MultiRecord",
        assemble_with="Line",
        accept="text/csv",
        max_payload=1,
    )
    transformer.transform(
        str(data.parent),
        content_type="text/csv",
        split_type="Line",
        join_source="Input",
        job_name="sdk-transform",
    )
    assert transformer.latest_transform_job is not None
    assert transformer.latest_transform_job.name == "sdk-transform"
    assert "[sdk-transform/job]" in capsys.readouterr().out  # logs=True prints the job's log
    output = transformer.output_path
    assert output is not None
    out = session.client.download(f"{output}/rows.csv.out").decode().splitlines()
    joined = np.array([[float(v) for v in line.split(",")] for line in out])
    np.testing.assert_allclose(joined[:, :3], rows)
    np.testing.assert_allclose(joined[:, 3], predict(rows))

    attached = kiln.Transformer.attach("sdk-transform", sagemaker_session=session)
    assert attached.model_name == model.name
    assert attached.strategy == "MultiRecord"
    assert attached.describe()["TransformJobStatus"] == "Completed"


def test_a_failed_job_raises_with_its_reason(session: kiln.Session, tmp_path: Path) -> None:
    model = kiln.Model(
        model_data=_model_data(session, tmp_path / "m"), framework="sklearn", sagemaker_session=session
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3\n1,x,3\n")
    transformer = model.transformer(1, "local", accept="text/csv", assemble_with="Line")
    with pytest.raises(kiln.errors.UnexpectedStatusException, match="line 2"):
        transformer.transform(str(bad), content_type="text/csv", split_type="Line", logs=False)
