"""``estimator.transformer(...)`` on real trained built-in algorithm jobs: XGBoost and Linear Learner.

Each job's batch output must have one line per input row, in order, and equal what the same model
answers on an endpoint-free check: XGBoost's probabilities thresholded against the labels (the
training set is separable enough for ≥ 0.9), Linear Learner's ``predicted_label`` per JSON line.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tests.algorithms.algorithm_data import uploader

import kiln
from kiln.estimator import Estimator
from kiln.image_uris import retrieve

sklearn_datasets = pytest.importorskip("sklearn.datasets")
pytest.importorskip("xgboost")


def _rows_file(folder: Path, x: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "rows.csv"
    path.write_text("".join(",".join(repr(float(v)) for v in row) + "\n" for row in x))
    return folder


def test_xgboost_algorithm_estimator_batch_scores(session: kiln.Session, tmp_path: Path) -> None:
    upload = uploader(session, tmp_path)
    x, y = sklearn_datasets.load_breast_cancer(return_X_y=True)
    estimator = Estimator(
        image_uri=retrieve("xgboost", version="1.7-1"),
        role="kiln",
        instance_count=1,
        instance_type="local",
        hyperparameters={"objective": "binary:logistic", "num_round": 10, "max_depth": 3},
        sagemaker_session=session,
    )
    estimator.fit({"train": kiln.TrainingInput(upload("train", x, y), content_type="text/csv")})
    transformer = estimator.transformer(
        1, "local", strategy="MultiRecord", assemble_with="Line", accept="text/csv"
    )
    transformer.transform(
        str(_rows_file(tmp_path / "input", x)), content_type="text/csv", split_type="Line", logs=False
    )
    assert transformer.output_path is not None
    lines = session.client.download(f"{transformer.output_path}/rows.csv.out").decode().splitlines()
    assert len(lines) == len(y)
    scores = np.array([float(line) for line in lines])
    assert ((scores > 0.5) == y).mean() >= 0.9


def test_linear_learner_estimator_batch_scores_json_lines(session: kiln.Session, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200).astype(np.float32)
    x = (rng.normal(size=(200, 4)) + np.outer(y * 2 - 1, [4.0, 0, 0, 0])).astype(np.float32)
    estimator = kiln.LinearLearner(
        role="kiln",
        instance_count=1,
        instance_type="local",
        predictor_type="binary_classifier",
        sagemaker_session=session,
    )
    estimator.fit(estimator.record_set(x, y))
    transformer = estimator.transformer(
        1, "local", strategy="MultiRecord", assemble_with="Line", accept="application/jsonlines"
    )
    transformer.transform(
        str(_rows_file(tmp_path / "input", x)), content_type="text/csv", split_type="Line", logs=False
    )
    assert transformer.output_path is not None
    lines = session.client.download(f"{transformer.output_path}/rows.csv.out").decode().splitlines()
    answers = [json.loads(line) for line in lines]
    assert len(answers) == len(y)
    assert all(set(a) == {"score", "predicted_label"} for a in answers)
    assert [a["predicted_label"] for a in answers] == y.tolist()
