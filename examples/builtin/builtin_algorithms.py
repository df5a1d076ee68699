"""SageMaker's built-in algorithms on Kiln: no training script, data sets that ship with scikit-learn.

For each algorithm: pick its image with ``kiln.image_uris.retrieve`` (or its estimator class), train,
tune two trials on the algorithm's own metric, deploy the best model and ask it about the held-out rows,
then batch-score the same rows with ``best_estimator.transformer(...).transform(...)`` (CSV in, the
algorithm's output format out, one line per row) and check the batch output against the endpoint's
answers (and the labels, where there are labels).

* XGBoost on the breast-cancer set (CSV, label first), tuned on ``validation:auc``;
* Linear Learner on the wine set as a binary problem (RecordIO-protobuf via ``record_set``), tuned on
  ``test:binary_classification_accuracy``;
* K-Means on the digits (RecordIO-protobuf), tuned on ``test:msd``;
* PCA on the diabetes set, tuned on ``test:reconstruction_mse``.

Run against a server (``kiln server start``):

    python examples/builtin/builtin_algorithms.py [--algorithms xgboost,linear-learner,kmeans,pca]
"""

from __future__ import annotations

import argparse
import json
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


def tune(estimator: kiln.Estimator, metric: str, objective: str, ranges: dict[str, Any], inputs: Any) -> Any:
    """Two trials on the algorithm's own metric; returns the best trial's estimator, attached to its job."""
    tuner = kiln.HyperparameterTuner(
        estimator, metric, ranges, objective_type=objective, max_jobs=2, max_parallel_jobs=1
    )
    tuner.fit(inputs)
    best = tuner.describe()["BestTrainingJob"]
    value = best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    print(f"best trial {best['TrainingJobName']}: {metric} = {value:.4f} with {best['TunedHyperParameters']}")
    return tuner.best_estimator()


def batch_score(best: Any, rows: np.ndarray, work: Path, accept: str) -> list[str]:
    """``best.transformer(...).transform(...)`` over ``rows`` as a header-less CSV file; its output lines."""
    folder = work / "batch-input"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rows.csv").write_bytes(csv_bytes(rows, None))
    transformer = best.transformer(
        instance_count=1,
        instance_type="local",
        strategy="MultiRecord",
        assemble_with="Line",
        accept=accept,
    )
    transformer.transform(str(folder), content_type="text/csv", split_type="Line", logs=False)
    output = transformer.sagemaker_session.read_artifact(f"{transformer.output_path}/rows.csv.out")
    lines: list[str] = output.decode().splitlines()
    if len(lines) != len(rows):
        raise SystemExit(f"batch transform wrote {len(lines)} lines for {len(rows)} rows")
    return lines


def max_difference(batch: list[float], endpoint: list[float]) -> float:
    return float(np.max(np.abs(np.asarray(batch) - np.asarray(endpoint))))


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
    best = tune(estimator, "validation:auc", "Maximize", {"max_depth": kiln.IntegerParameter(2, 6)}, inputs)
    predictor = best.deploy(1, "local", serializer=CSVSerializer(), deserializer=JSONDeserializer())
    try:
        answers = [p["score"] for p in predictor.predict(x_test)["predictions"]]
        print("XGBoost scores:", [round(v, 4) for v in answers[:5]], "labels:", y_test[:5].tolist())
    finally:
        predictor.delete_endpoint()
    scores = [float(line) for line in batch_score(best, x_test, work, "text/csv")]
    accuracy = float(((np.asarray(scores) > 0.5) == y_test).mean())
    print(
        f"XGBoost batch: {len(scores)} rows scored (text/csv), accuracy {accuracy:.3f} against the labels, "
        f"max |batch - endpoint| = {max_difference(scores, answers):.2e}"
    )


def linear_learner(session: kiln.Session, work: Path) -> None:
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
    best = tune(
        estimator,
        "test:binary_classification_accuracy",
        "Maximize",
        {"wd": kiln.ContinuousParameter(1e-5, 1e-1, scaling_type="Logarithmic")},
        records,
    )
    predictor = best.deploy(1, "local")
    try:
        answers = predictor.predict(x_test)["predictions"]
        print("Linear Learner:", answers[:3], "labels:", y_test[:3].tolist())
    finally:
        predictor.delete_endpoint()
    batch = [json.loads(line) for line in batch_score(best, x_test, work, "application/jsonlines")]
    labels = [b["predicted_label"] for b in batch]
    accuracy = float((np.asarray(labels) == y_test).mean())
    print(
        f"Linear Learner batch: {len(batch)} rows scored (application/jsonlines), accuracy {accuracy:.3f} "
        f"against the labels, predicted_label equal to the endpoint's: "
        f"{labels == [a['predicted_label'] for a in answers]}, max |score difference| = "
        f"{max_difference([b['score'] for b in batch], [a['score'] for a in answers]):.2e}"
    )


def kmeans(session: kiln.Session, work: Path) -> None:
    x = datasets.load_digits().data.astype(np.float32)
    x_train, _, x_test, _ = split(x, None)
    estimator = kiln.KMeans(
        role=ROLE, instance_count=1, instance_type="local", k=10, sagemaker_session=session
    )
    records = [estimator.record_set(x_train), estimator.record_set(x_test, channel="test")]
    best = tune(estimator, "test:msd", "Minimize", {"k": kiln.IntegerParameter(8, 12)}, records)
    predictor = best.deploy(1, "local")
    try:
        answers = predictor.predict(x_test)["predictions"]
        print("K-Means:", answers[:3])
    finally:
        predictor.delete_endpoint()
    batch = [json.loads(line) for line in batch_score(best, x_test, work, "application/jsonlines")]
    clusters = [b["closest_cluster"] for b in batch]
    distances = max_difference(
        [b["distance_to_cluster"] for b in batch], [a["distance_to_cluster"] for a in answers]
    )
    print(
        f"K-Means batch: {len(batch)} rows scored (application/jsonlines) into {len(set(clusters))} "
        f"clusters, closest_cluster equal to the endpoint's: "
        f"{clusters == [a['closest_cluster'] for a in answers]}, max |distance difference| = "
        f"{distances:.2e}"
    )


def pca(session: kiln.Session, work: Path) -> None:
    x = datasets.load_diabetes().data.astype(np.float32)
    x_train, _, x_test, _ = split(x, None)
    estimator = kiln.PCA(
        role=ROLE, instance_count=1, instance_type="local", num_components=3, sagemaker_session=session
    )
    records = [estimator.record_set(x_train), estimator.record_set(x_test, channel="test")]
    best = tune(
        estimator,
        "test:reconstruction_mse",
        "Minimize",
        {"num_components": kiln.IntegerParameter(2, 6)},
        records,
    )
    predictor = best.deploy(1, "local")
    try:
        answers = [p["projection"] for p in predictor.predict(x_test)["projections"]]
        print("PCA:", [[round(v, 4) for v in row] for row in answers[:2]])
    finally:
        predictor.delete_endpoint()
    batch = [
        json.loads(line)["projection"] for line in batch_score(best, x_test, work, "application/jsonlines")
    ]
    print(
        f"PCA batch: {len(batch)} rows projected (application/jsonlines) onto {len(batch[0])} components, "
        f"max |batch - endpoint| = {max_difference(batch, answers):.2e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--algorithms", default="xgboost,linear-learner,kmeans,pca")
    args = parser.parse_args()
    session = kiln.Session()
    runs = {"xgboost": xgboost, "linear-learner": linear_learner, "kmeans": kmeans, "pca": pca}
    for name in args.algorithms.split(","):
        if name not in runs:
            raise SystemExit(f"unknown algorithm {name!r}; use xgboost, linear-learner, kmeans or pca")
    for name in args.algorithms.split(","):
        print(f"== {name}")
        with tempfile.TemporaryDirectory() as folder:
            runs[name](session, Path(folder))


if __name__ == "__main__":
    main()
