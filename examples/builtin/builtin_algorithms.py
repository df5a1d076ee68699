"""SageMaker's built-in algorithms on Kiln: no training script, data sets that ship with scikit-learn.

For each algorithm: pick its image with ``kiln.image_uris.retrieve`` (or its estimator class), train,
tune two trials on the algorithm's own metric, deploy the best model, and ask it about a few rows.

* XGBoost on the breast-cancer set (CSV, label first), tuned on ``validation:auc``;
* Linear Learner on the wine set as a binary problem (RecordIO-protobuf via ``record_set``), tuned on
  ``test:binary_classification_accuracy``;
* K-Means on the digits (RecordIO-protobuf), tuned on ``test:msd``;
* PCA on the diabetes set, tuned on ``test:reconstruction_mse``.

Batch scoring (``model.transformer(...)``) is not in this example yet: batch transform lands with its
own branch. Run against a server (``kiln server start``):

    python examples/builtin/builtin_algorithms.py [--algorithms xgboost,linear-learner,kmeans,pca]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from sklearn import datasets

import kiln
from kiln.algorithms.data import csv_bytes
from kiln.deserializers import JSONDeserializer
from kiln.serializers import CSVSerializer

ROLE = "arn:aws:iam::000000000000:role/kiln-examples"


def split(x: np.ndarray, y: np.ndarray | None, seed: int = 0) -> tuple[Any, ...]:
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(len(x) * 0.75)
    train, test = order[:cut], order[cut:]
    return x[train], None if y is None else y[train], x[test], None if y is None else y[test]


def tune_and_deploy(
    estimator: kiln.Estimator, metric: str, objective: str, ranges: dict[str, Any], inputs: Any
) -> kiln.Predictor:
    tuner = kiln.HyperparameterTuner(
        estimator, metric, ranges, objective_type=objective, max_jobs=2, max_parallel_jobs=1
    )
    tuner.fit(inputs)
    best = tuner.describe()["BestTrainingJob"]
    value = best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    print(f"best trial {best['TrainingJobName']}: {metric} = {value:.4f} with {best['TunedHyperParameters']}")
    return tuner.deploy(1, "local")


def xgboost(session: kiln.Session, work: Path) -> None:
    x, y = datasets.load_breast_cancer(return_X_y=True)
    x_train, y_train, x_test, y_test = split(x, y)
    for name, (rows, labels) in {"train": (x_train, y_train), "validation": (x_test, y_test)}.items():
        (work / name).mkdir()
        (work / name / f"{name}.csv").write_bytes(csv_bytes(rows, labels))
    inputs = {
        name: kiln.TrainingInput(
            session.upload_data(str(work / name), key_prefix=f"builtin/xgb/{name}"), content_type="text/csv"
        )
        for name in ("train", "validation")
    }
    estimator = kiln.Estimator(
        image_uri=kiln.image_uris.retrieve("xgboost", region="us-east-1", version="1.7-1"),
        role=ROLE,
        instance_count=1,
        instance_type="local",
        hyperparameters={"objective": "binary:logistic", "num_round": 30, "eval_metric": "auc"},
        sagemaker_session=session,
    )
    predictor = tune_and_deploy(
        estimator, "validation:auc", "Maximize", {"max_depth": kiln.IntegerParameter(2, 6)}, inputs
    )
    try:
        predictor.serializer, predictor.deserializer = CSVSerializer(), JSONDeserializer()
        print("XGBoost scores:", predictor.predict(x_test[:5]), "labels:", y_test[:5].tolist())
    finally:
        predictor.delete_endpoint()


def linear_learner(session: kiln.Session) -> None:
    x, y = datasets.load_wine(return_X_y=True)
    y = (y == 0).astype(np.float32)  # class 0 against the rest
    x_train, y_train, x_test, y_test = split(x.astype(np.float32), y)
    estimator = kiln.LinearLearner(
        role=ROLE,
        instance_count=1,
        instance_type="local",
        predictor_type="binary_classifier",
        sagemaker_session=session,
    )
    records = [estimator.record_set(x_train, y_train), estimator.record_set(x_test, y_test, channel="test")]
    predictor = tune_and_deploy(
        estimator,
        "test:binary_classification_accuracy",
        "Maximize",
        {"wd": kiln.ContinuousParameter(1e-5, 1e-1, scaling_type="Logarithmic")},
        records,
    )
    try:
        print("Linear Learner:", predictor.predict(x_test[:3]), "labels:", y_test[:3].tolist())
    finally:
        predictor.delete_endpoint()


def kmeans(session: kiln.Session) -> None:
    x = datasets.load_digits().data.astype(np.float32)
    x_train, _, x_test, _ = split(x, None)
    estimator = kiln.KMeans(
        role=ROLE, instance_count=1, instance_type="local", k=10, sagemaker_session=session
    )
    records = [estimator.record_set(x_train), estimator.record_set(x_test, channel="test")]
    predictor = tune_and_deploy(
        estimator, "test:msd", "Minimize", {"k": kiln.IntegerParameter(8, 12)}, records
    )
    try:
        print("K-Means:", predictor.predict(x_test[:3]))
    finally:
        predictor.delete_endpoint()


def pca(session: kiln.Session) -> None:
    x = datasets.load_diabetes().data.astype(np.float32)
    x_train, _, x_test, _ = split(x, None)
    estimator = kiln.PCA(
        role=ROLE, instance_count=1, instance_type="local", num_components=3, sagemaker_session=session
    )
    records = [estimator.record_set(x_train), estimator.record_set(x_test, channel="test")]
    predictor = tune_and_deploy(
        estimator,
        "test:reconstruction_mse",
        "Minimize",
        {"num_components": kiln.IntegerParameter(2, 6)},
        records,
    )
    try:
        print("PCA:", predictor.predict(x_test[:2]))
    finally:
        predictor.delete_endpoint()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--algorithms", default="xgboost,linear-learner,kmeans,pca")
    args = parser.parse_args()
    session = kiln.Session()
    with tempfile.TemporaryDirectory() as folder:
        for name in args.algorithms.split(","):
            print(f"== {name}")
            if name == "xgboost":
                xgboost(session, Path(folder))
            elif name == "linear-learner":
                linear_learner(session)
            elif name == "kmeans":
                kmeans(session)
            elif name == "pca":
                pca(session)
            else:
                raise SystemExit(f"unknown algorithm {name!r}; use xgboost, linear-learner, kmeans or pca")


if __name__ == "__main__":
    main()
