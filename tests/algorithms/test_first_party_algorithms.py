"""Linear Learner, K-Means and PCA through the server: each input format, metrics, quality, serving, errors.

Quality bars: Linear Learner separates two Gaussian clouds 8 standard deviations apart (any linear
classifier is ≥ 0.99 accurate there); K-Means finds three centres 10 apart with spread 0.5 to within
0.3 each; PCA's explained-variance ratio on the digits equals numpy's SVD's to 1e-6 (both exact).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from tests.algorithms.algorithm_data import uploader

import kiln
from kiln.algorithms.recordio import CONTENT_TYPE as RECORDIO
from kiln.algorithms.recordio import decode_records, read_matrix, write_matrix
from kiln.deserializers import BytesDeserializer
from kiln.errors import UserError, ValidationError
from kiln.serializers import CSVSerializer, IdentitySerializer

datasets = pytest.importorskip("sklearn.datasets")


def _separable(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(float)
    x = rng.normal(size=(n, 4)) + np.outer(y * 2 - 1, [4.0, 0, 0, 0])
    return x, y


@pytest.mark.parametrize("fmt", ["recordio", "csv"])
def test_linear_learner_binary(session: kiln.Session, tmp_path, fmt: str) -> None:  # type: ignore[no-untyped-def]
    upload = uploader(session, tmp_path)
    x, y = _separable(300, 0)
    x_test, y_test = _separable(100, 1)
    estimator = kiln.LinearLearner(
        role="kiln",
        instance_count=1,
        instance_type="local",
        predictor_type="binary_classifier",
        sagemaker_session=session,
    )
    if fmt == "recordio":
        estimator.fit([estimator.record_set(x, y), estimator.record_set(x_test, y_test, channel="test")])
    else:
        estimator.feature_dim = 4
        estimator.fit(
            {
                "train": kiln.TrainingInput(upload("train", x, y), content_type="text/csv"),
                "test": kiln.TrainingInput(upload("test", x_test, y_test), content_type="text/csv"),
            }
        )
    metrics = estimator.final_metrics()
    assert metrics["test:binary_classification_accuracy"] >= 0.99
    assert "test:objective_loss" in metrics
    assert "train:binary_classification_accuracy" in metrics
    predictor = estimator.deploy(1, "local")
    try:
        answer = predictor.predict(x_test[:5])
        assert [set(p) for p in answer["predictions"]] == [{"score", "predicted_label"}] * 5
        assert [p["predicted_label"] for p in answer["predictions"]] == y_test[:5].tolist()
        as_records = kiln.Predictor(
            predictor.endpoint_name,
            session,
            serializer=IdentitySerializer(RECORDIO),
            deserializer=BytesDeserializer(),
        )
        reply = as_records.predict(write_matrix(x_test[:3]), initial_args={"Accept": RECORDIO})
        labels = [sorted(record.label) for record in decode_records(reply)]
        assert labels == [["predicted_label", "score"]] * 3
    finally:
        predictor.delete_endpoint()


def test_linear_learner_regressor_and_multiclass(session: kiln.Session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Regression on diabetes matches least squares' error (both exact); multiclass on wine ≥ 0.9 accuracy."""
    upload = uploader(session, tmp_path)
    x, y = datasets.load_diabetes(return_X_y=True)
    regressor = kiln.LinearLearner(
        role="kiln", instance_type="local", predictor_type="regressor", sagemaker_session=session
    )
    regressor.feature_dim = x.shape[1]
    regressor.fit({"train": kiln.TrainingInput(upload("diabetes", x, y), content_type="text/csv")})
    design = np.column_stack([x, np.ones(len(x))])
    residual = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    assert abs(regressor.final_metrics()["train:mse"] - float(np.mean(residual**2))) < 1e-3 * np.mean(
        residual**2
    )

    wine_x, wine_y = datasets.load_wine(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(wine_y))
    wine_x, wine_y = wine_x[order], wine_y[order].astype(float)
    multiclass = kiln.LinearLearner(
        role="kiln",
        instance_type="local",
        predictor_type="multiclass_classifier",
        num_classes=3,
        sagemaker_session=session,
    )
    multiclass.fit(
        [
            multiclass.record_set(wine_x[:130], wine_y[:130]),
            multiclass.record_set(wine_x[130:], wine_y[130:], channel="test"),
        ]
    )
    assert multiclass.final_metrics()["test:multiclass_accuracy"] >= 0.9
    predictor = multiclass.deploy(1, "local")
    try:
        answer = predictor.predict(wine_x[130:133])["predictions"]
        assert [len(p["score"]) for p in answer] == [3, 3, 3]
        assert [p["predicted_label"] for p in answer] == [float(np.argmax(p["score"])) for p in answer]
    finally:
        predictor.delete_endpoint()


def test_linear_learner_requires_num_classes_for_multiclass(session: kiln.Session) -> None:
    x, y = datasets.load_wine(return_X_y=True)
    estimator = kiln.LinearLearner(
        role="kiln", instance_type="local", predictor_type="multiclass_classifier", sagemaker_session=session
    )
    with pytest.raises(UserError, match="num_classes"):
        estimator.fit(estimator.record_set(x, y.astype(float)))


def test_linear_learner_wrong_value_names_its_range(session: kiln.Session) -> None:
    x, y = _separable(50, 0)
    estimator = kiln.LinearLearner(
        role="kiln",
        instance_type="local",
        predictor_type="binary_classifier",
        target_recall=1.5,
        sagemaker_session=session,
    )
    with pytest.raises(UserError, match=r"'target_recall'.*\[0, 1\]"):
        estimator.fit(estimator.record_set(x, y))


@pytest.mark.parametrize("fmt", ["recordio", "csv"])
def test_kmeans_recovers_separated_centres(session: kiln.Session, tmp_path, fmt: str) -> None:  # type: ignore[no-untyped-def]
    upload = uploader(session, tmp_path)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    x, _ = datasets.make_blobs(n_samples=300, centers=centres, cluster_std=0.5, random_state=0)
    estimator = kiln.KMeans(
        role="kiln", instance_count=1, instance_type="local", k=3, sagemaker_session=session
    )
    if fmt == "recordio":
        estimator.fit([estimator.record_set(x), estimator.record_set(x[:60], channel="test")])
    else:
        estimator.feature_dim = 2
        estimator.fit(
            {
                "train": kiln.TrainingInput(upload("train", x, None), content_type="text/csv;label_size=0"),
                "test": kiln.TrainingInput(
                    upload("test", x[:60], None), content_type="text/csv;label_size=0"
                ),
            }
        )
    metrics = estimator.final_metrics()
    assert metrics["test:msd"] < 1.0  # 2 × 0.5² expected
    predictor = estimator.deploy(1, "local")
    try:
        answer = predictor.predict(centres)["predictions"]
        assert sorted(p["closest_cluster"] for p in answer) == [0.0, 1.0, 2.0]
        assert max(p["distance_to_cluster"] for p in answer) < 0.3
        with pytest.raises(ValidationError, match="takes 2 features"):
            predictor.predict([[1.0, 2.0, 3.0]])
        as_csv = kiln.Predictor(
            predictor.endpoint_name, session, serializer=CSVSerializer(), deserializer=BytesDeserializer()
        )
        lines = as_csv.predict(centres, initial_args={"Accept": "application/jsonlines"}).splitlines()
        assert [json.loads(line)["closest_cluster"] for line in lines] == [
            p["closest_cluster"] for p in answer
        ]
    finally:
        predictor.delete_endpoint()


def test_kmeans_feature_dim_mismatch_is_named(session: kiln.Session) -> None:
    estimator = kiln.KMeans(role="kiln", instance_type="local", k=2, sagemaker_session=session)
    records = estimator.record_set(np.random.default_rng(0).normal(size=(20, 3)))
    records.feature_dim = 5
    with pytest.raises(UserError, match="feature_dim"):
        estimator.fit(records)


def test_pca_matches_numpy_svd(session: kiln.Session) -> None:
    x = datasets.load_digits().data[:300]
    estimator = kiln.PCA(
        role="kiln", instance_count=1, instance_type="local", num_components=5, sagemaker_session=session
    )
    estimator.fit([estimator.record_set(x), estimator.record_set(x[:50], channel="test")])
    centred = x - x.mean(axis=0)
    singular = np.linalg.svd(centred, compute_uv=False)
    expected = float((singular[:5] ** 2).sum() / (singular**2).sum())
    metrics = estimator.final_metrics()
    assert abs(metrics["train:explained_variance_ratio"] - expected) < 1e-6
    assert "test:reconstruction_mse" in metrics
    predictor = estimator.deploy(1, "local")
    try:
        answer = predictor.predict(x[:4])
        assert [len(p["projection"]) for p in answer["projections"]] == [5] * 4
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        first = centred[:4] @ vt[0]
        got = np.array([p["projection"][0] for p in answer["projections"]])
        assert np.allclose(np.abs(got), np.abs(first), atol=1e-3)
    finally:
        predictor.delete_endpoint()


def test_recordio_matches_sagemakers_bytes() -> None:
    data = write_matrix(np.array([[1.5, 2.0, 3.0]]), np.array([1.0]))
    assert data.hex().startswith("0a23d7ce30000000")
    assert len(data) == 56
    features, labels = read_matrix(data)
    assert features.tolist() == [[1.5, 2.0, 3.0]]
    assert labels is not None
    assert labels.tolist() == [1.0]
    with pytest.raises(ValidationError, match="magic"):
        read_matrix(b"not recordio at all")
