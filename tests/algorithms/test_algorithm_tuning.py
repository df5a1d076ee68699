"""HyperparameterTuner optimises each built-in algorithm's own metric, with no metric_definitions.

Two tiny trials each (in parallel): the tuner knows ``validation:auc`` for XGBoost and
``test:binary_classification_accuracy`` / ``test:msd`` / ``test:reconstruction_mse`` for the others
because the server gives an algorithm-mode job its algorithm's metric definitions.
"""

from __future__ import annotations

import numpy as np
import pytest
from tests.algorithms.algorithm_data import uploader

import kiln
from kiln.xgboost import XGBoost

datasets = pytest.importorskip("sklearn.datasets")


def _tune(
    estimator: kiln.Estimator, metric: str, objective_type: str, ranges: dict, inputs
) -> kiln.HyperparameterTuner:  # type: ignore[no-untyped-def]
    tuner = kiln.HyperparameterTuner(
        estimator,
        metric,
        ranges,
        objective_type=objective_type,
        max_jobs=2,
        max_parallel_jobs=2,
        strategy="Random",
        random_seed=1,
    )
    tuner.fit(inputs)
    return tuner


def test_xgboost_algorithm_is_tuned_on_validation_auc(session: kiln.Session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    upload = uploader(session, tmp_path)
    pytest.importorskip("xgboost")
    x, y = datasets.load_breast_cancer(return_X_y=True)
    estimator = XGBoost(
        framework_version="1.7-1",
        role="kiln",
        instance_count=1,
        instance_type="local",
        hyperparameters={"objective": "binary:logistic", "num_round": 5, "eval_metric": "auc"},
        sagemaker_session=session,
    )
    inputs = {
        "train": kiln.TrainingInput(upload("train", x[:400], y[:400]), content_type="text/csv"),
        "validation": kiln.TrainingInput(upload("validation", x[400:], y[400:]), content_type="text/csv"),
    }
    tuner = _tune(estimator, "validation:auc", "Maximize", {"max_depth": kiln.IntegerParameter(2, 5)}, inputs)
    best = tuner.describe()["BestTrainingJob"]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] == "validation:auc"
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] > 0.95


@pytest.mark.parametrize("algorithm", ["linear-learner", "kmeans", "pca"])
def test_first_party_algorithm_is_tuned_on_its_metric(session: kiln.Session, algorithm: str) -> None:
    rng = np.random.default_rng(0)
    if algorithm == "linear-learner":
        y = rng.integers(0, 2, 200).astype(float)
        x = rng.normal(size=(200, 3)) + np.outer(y * 2 - 1, [3.0, 0, 0])
        estimator: kiln.Estimator = kiln.LinearLearner(
            role="kiln", instance_type="local", predictor_type="binary_classifier", sagemaker_session=session
        )
        metric, direction, ranges = (
            "test:binary_classification_accuracy",
            "Maximize",
            {"wd": kiln.ContinuousParameter(0.0001, 0.1)},
        )
        records = [
            estimator.record_set(x[:150], y[:150]),
            estimator.record_set(x[150:], y[150:], channel="test"),
        ]
    elif algorithm == "kmeans":
        x, _ = datasets.make_blobs(n_samples=200, centers=3, random_state=0)
        estimator = kiln.KMeans(role="kiln", instance_type="local", k=2, sagemaker_session=session)
        metric, direction, ranges = "test:msd", "Minimize", {"k": kiln.IntegerParameter(2, 4)}
        records = [estimator.record_set(x[:150]), estimator.record_set(x[150:], channel="test")]
    else:
        x = datasets.load_digits().data[:200]
        estimator = kiln.PCA(role="kiln", instance_type="local", num_components=2, sagemaker_session=session)
        metric, direction, ranges = (
            "test:reconstruction_mse",
            "Minimize",
            {"num_components": kiln.IntegerParameter(2, 8)},
        )
        records = [estimator.record_set(x[:150]), estimator.record_set(x[150:], channel="test")]
    tuner = _tune(estimator, metric, direction, ranges, records)
    best = tuner.describe()["BestTrainingJob"]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] == metric
