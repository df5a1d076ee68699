"""scikit-learn and XGBoost through the server: SageMaker's documented scripts train, deploy and predict.

The scripts are the ones in SageMaker's "Using Scikit-learn" and "Use XGBoost as a framework" guides,
shrunk to tiny data: the training script is also the inference script (its ``model_fn``), as the
SDK's ``create_model`` arranges. Predictions go in as CSV and JSON (and LIBSVM, XGBoost's default).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import kiln
from kiln.deserializers import CSVDeserializer, JSONDeserializer
from kiln.errors import ValidationError
from kiln.serializers import CSVSerializer, JSONSerializer
from kiln.sklearn import SKLearn, SKLearnPredictor
from kiln.xgboost import XGBoost, XGBoostPredictor

sklearn = pytest.importorskip("sklearn")
xgb = pytest.importorskip("xgboost")

SKLEARN_SCRIPT = """
import argparse, os
import joblib
import pandas as pd
from sklearn import tree

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--max_leaf_nodes", type=int, default=-1)
    parser.add_argument("--output-data-dir", type=str, default=os.environ["SM_OUTPUT_DATA_DIR"])
    parser.add_argument("--model-dir", type=str, default=os.environ["SM_MODEL_DIR"])
    parser.add_argument("--train", type=str, default=os.environ["SM_CHANNEL_TRAIN"])
    args = parser.parse_args()

    input_files = [os.path.join(args.train, file) for file in os.listdir(args.train)]
    raw_data = [pd.read_csv(file, header=None, engine="python") for file in input_files]
    train_data = pd.concat(raw_data)
    train_y = train_data.iloc[:, 0]
    train_X = train_data.iloc[:, 1:]
    clf = tree.DecisionTreeClassifier(max_leaf_nodes=args.max_leaf_nodes)
    clf = clf.fit(train_X, train_y)
    joblib.dump(clf, os.path.join(args.model_dir, "model.joblib"))


def model_fn(model_dir):
    clf = joblib.load(os.path.join(model_dir, "model.joblib"))
    return clf
"""

XGBOOST_SCRIPT = """
import argparse, os
import pickle as pkl
import xgboost as xgb

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--max_depth", type=int, default=5)
    parser.add_argument("--eta", type=float, default=0.2)
    parser.add_argument("--objective", type=str, default="reg:squarederror")
    parser.add_argument("--num_round", type=int)
    parser.add_argument("--model_dir", type=str, default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", type=str, default=os.environ.get("SM_CHANNEL_TRAIN"))
    args = parser.parse_args()

    dtrain = xgb.DMatrix(os.path.join(args.train, "train.libsvm") + "?format=libsvm")
    params = {"max_depth": args.max_depth, "eta": args.eta, "objective": args.objective}
    booster = xgb.train(params=params, dtrain=dtrain, num_boost_round=args.num_round)
    model_location = args.model_dir + "/xgboost-model"
    pkl.dump(booster, open(model_location, "wb"))


def model_fn(model_dir):
    model_file = "xgboost-model"
    booster = pkl.load(open(os.path.join(model_dir, model_file), "rb"))
    return booster
"""


def _version(module: object) -> str:
    return ".".join(str(module.__version__).split(".")[:2])


def test_the_scikit_learn_guide_script_trains_deploys_and_predicts(
    session: kiln.Session, write_script, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(60, 3))
    labels = (features[:, 0] + features[:, 1] > 0).astype(int)
    data = tmp_path / "iris"
    data.mkdir()
    np.savetxt(data / "train.csv", np.column_stack([labels, features]), delimiter=",", fmt="%.6f")
    train = session.upload_data(str(data), key_prefix="sklearn-data")
    source = write_script(SKLEARN_SCRIPT)
    estimator = SKLearn(
        entry_point="train.py",
        source_dir=str(source),
        framework_version=f"{_version(sklearn)}-1",
        instance_type="local",
        hyperparameters={"max_leaf_nodes": 8},
        sagemaker_session=session,
    )
    estimator.fit({"train": train})
    assert f"Kiln: scikit-learn {sklearn.__version__} (the server's environment)" in capsys.readouterr().out
    predictor = estimator.deploy(1, "local")
    try:
        assert isinstance(predictor, SKLearnPredictor)
        rows = features[:5]
        expected = labels[:5].astype(float)
        by_numpy = predictor.predict(rows)  # SageMaker's default: NPY both ways
        np.testing.assert_array_equal(np.asarray(by_numpy, dtype=float), expected)
        as_csv = SKLearnPredictor(
            predictor.endpoint_name, session, serializer=CSVSerializer(), deserializer=CSVDeserializer()
        )
        assert [float(v) for row in as_csv.predict(rows) for v in row] == expected.tolist()
        as_json = SKLearnPredictor(
            predictor.endpoint_name, session, serializer=JSONSerializer(), deserializer=JSONDeserializer()
        )
        assert [float(v) for v in as_json.predict(rows.tolist())] == expected.tolist()
    finally:
        predictor.delete_endpoint()


def test_the_xgboost_framework_script_trains_deploys_and_predicts(
    session: kiln.Session, write_script, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(1)
    features = rng.uniform(size=(80, 4))
    target = 3 * features[:, 0] + features[:, 1]
    data = tmp_path / "abalone"
    data.mkdir()
    lines = [
        f"{t:.5f} " + " ".join(f"{i}:{v:.5f}" for i, v in enumerate(row))
        for t, row in zip(target, features, strict=True)
    ]
    (data / "train.libsvm").write_text("\n".join(lines) + "\n")
    train = session.upload_data(str(data), key_prefix="xgboost-data")
    source = write_script(XGBOOST_SCRIPT)
    estimator = XGBoost(
        entry_point="train.py",
        source_dir=str(source),
        framework_version=f"{_version(xgb)}-1",
        instance_type="local",
        hyperparameters={"max_depth": 3, "num_round": 20},
        sagemaker_session=session,
    )
    estimator.fit({"train": train})
    assert f"Kiln: XGBoost {xgb.__version__} (the server's environment)" in capsys.readouterr().out
    predictor = estimator.deploy(1, "local")
    try:
        assert isinstance(predictor, XGBoostPredictor)
        by_libsvm = predictor.predict("\n".join(lines[:3]))  # SageMaker's default: LIBSVM in, CSV out
        scores = [float(row[0]) for row in by_libsvm]
        assert len(scores) == 3
        np.testing.assert_allclose(scores, target[:3], atol=0.5)
        as_csv = XGBoostPredictor(predictor.endpoint_name, session, serializer=CSVSerializer())
        np.testing.assert_allclose([float(r[0]) for r in as_csv.predict(features[:3])], scores, rtol=1e-5)
        as_json = XGBoostPredictor(
            predictor.endpoint_name, session, serializer=JSONSerializer(), deserializer=JSONDeserializer()
        )
        answer = as_json.predict(features[:3].tolist())
        np.testing.assert_allclose([p["score"] for p in answer["predictions"]], scores, rtol=1e-5)
    finally:
        predictor.delete_endpoint()


def test_the_estimators_check_arguments_as_sagemaker_does(session: kiln.Session, write_script) -> None:
    source = write_script("print('x')\n")
    with pytest.raises(ValidationError, match="framework_version or py_version was None"):
        SKLearn(entry_point="train.py", source_dir=str(source), py_version=None, sagemaker_session=session)
    with pytest.raises(ValidationError, match="Scikit-Learn does not support distributed training"):
        SKLearn(
            entry_point="train.py",
            source_dir=str(source),
            framework_version="1.2-1",
            instance_count=2,
            sagemaker_session=session,
        )
    with pytest.raises(ValidationError, match="Unsupported Python version: py2"):
        XGBoost(entry_point="train.py", source_dir=str(source), framework_version="1.7-1", py_version="py2")
