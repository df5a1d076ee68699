"""SageMaker's XGBoost algorithm (no script) through the server: train, metrics, tune, deploy, errors.

Quality bar: on scikit-learn's breast-cancer set (569 rows, 30 features) a 20-round model reaches a
held-out AUC ≥ 0.97 (gradient boosting reports ≈0.99 there; 0.97 leaves room for the small split).
"""

from __future__ import annotations

import numpy as np
import pytest
from tests.algorithms.algorithm_data import uploader

import kiln
from kiln.algorithms.data import csv_bytes
from kiln.deserializers import CSVDeserializer, JSONDeserializer
from kiln.errors import UserError
from kiln.estimator import Estimator
from kiln.image_uris import retrieve
from kiln.serializers import CSVSerializer

sklearn_datasets = pytest.importorskip("sklearn.datasets")
pytest.importorskip("xgboost")

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def _split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, y = sklearn_datasets.load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order], y[order]
    return x[:400], y[:400], x[400:], y[400:]


def test_retrieve_gives_sagemakers_uri() -> None:
    assert retrieve("xgboost", region="us-east-1", version="1.7-1") == IMAGE


@pytest.mark.parametrize("fmt", ["csv", "libsvm", "recordio"])
def test_xgboost_trains_records_metrics_and_serves(session: kiln.Session, tmp_path, fmt: str) -> None:  # type: ignore[no-untyped-def]
    upload = uploader(session, tmp_path)
    x_train, y_train, x_val, y_val = _split()
    content_type = {
        "csv": "text/csv",
        "libsvm": "text/libsvm",
        "recordio": "application/x-recordio-protobuf",
    }[fmt]
    estimator = Estimator(
        image_uri=retrieve("xgboost", version="1.7-1"),
        role="kiln",
        instance_count=1,
        instance_type="local",
        hyperparameters={
            "objective": "binary:logistic",
            "num_round": 20,
            "eval_metric": "auc",
            "max_depth": 3,
        },
        sagemaker_session=session,
    )
    estimator.fit(
        {
            "train": kiln.TrainingInput(upload("train", x_train, y_train, fmt), content_type=content_type),
            "validation": kiln.TrainingInput(
                upload("validation", x_val, y_val, fmt), content_type=content_type
            ),
        }
    )
    metrics = estimator.final_metrics()
    assert metrics["validation:auc"] >= 0.97
    assert "train:auc" in metrics
    predictor = estimator.deploy(1, "local", serializer=CSVSerializer(), deserializer=CSVDeserializer())
    try:
        scores = np.array([float(row[0]) for row in predictor.predict(x_val)])
        assert ((scores > 0.5) == y_val).mean() >= 0.9
        as_json = kiln.Predictor(
            predictor.endpoint_name, session, serializer=CSVSerializer(), deserializer=JSONDeserializer()
        )
        answer = as_json.predict(x_val[:2], initial_args={"Accept": "application/json"})
        assert set(answer["predictions"][0]) == {"score"}
    finally:
        predictor.delete_endpoint()


def test_a_wrong_hyperparameter_names_it_and_its_range(session: kiln.Session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    upload = uploader(session, tmp_path)
    x_train, y_train, _, _ = _split()
    estimator = Estimator(
        image_uri=IMAGE,
        role="kiln",
        instance_type="local",
        hyperparameters={"num_round": 5, "eta": 1.5},
        sagemaker_session=session,
    )
    with pytest.raises(UserError) as raised:
        estimator.fit(
            {"train": kiln.TrainingInput(upload("train", x_train, y_train), content_type="text/csv")}
        )
    assert "'eta'" in str(raised.value)
    assert "[0, 1]" in str(raised.value)


def test_malformed_csv_names_the_file_and_line(session: kiln.Session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "data.csv").write_text("1,0.5,0.2\n0,0.1,abc\n")
    uri = session.upload_data(str(folder), key_prefix=f"algorithms/{tmp_path.name}/bad")
    estimator = Estimator(
        image_uri=IMAGE,
        role="kiln",
        instance_type="local",
        hyperparameters={"num_round": 2},
        sagemaker_session=session,
    )
    with pytest.raises(UserError) as raised:
        estimator.fit({"train": kiln.TrainingInput(uri, content_type="text/csv")})
    assert "data.csv line 2" in str(raised.value)


def test_two_hosts_train_one_model_on_sharded_data(session: kiln.Session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Each host gets one of two objects (ShardedByS3Key) and XGBoost's collective joins them."""
    x_train, y_train, x_val, y_val = _split()
    folder = tmp_path / "shards"
    folder.mkdir()
    (folder / "part-0.csv").write_bytes(csv_bytes(x_train[:200], y_train[:200]))
    (folder / "part-1.csv").write_bytes(csv_bytes(x_train[200:], y_train[200:]))
    train = session.upload_data(str(folder), key_prefix=f"algorithms/{tmp_path.name}/shards")
    upload = uploader(session, tmp_path)
    estimator = Estimator(
        image_uri=IMAGE,
        role="kiln",
        instance_count=2,
        instance_type="local",
        hyperparameters={"objective": "binary:logistic", "num_round": 10, "eval_metric": "auc"},
        sagemaker_session=session,
    )
    estimator.fit(
        {
            "train": kiln.TrainingInput(train, distribution="ShardedByS3Key", content_type="text/csv"),
            "validation": kiln.TrainingInput(upload("validation", x_val, y_val), content_type="text/csv"),
        }
    )
    assert estimator.final_metrics()["validation:auc"] >= 0.95
    assert estimator.latest_training_job is not None
    answer = session.client.training_job_logs(estimator.latest_training_job.name)
    assert "XGBoost tracker for 2 hosts" in str(answer)
