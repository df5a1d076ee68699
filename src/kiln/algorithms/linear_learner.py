"""SageMaker's Linear Learner on scikit-learn: ``python -m kiln.algorithms.linear_learner``.

SageMaker trains many SGD models in parallel on a GPU and keeps the best; on Kiln's CPUs and the data
sizes a host holds, scikit-learn's exact solvers (L-BFGS logistic regression, ridge / elastic-net
least squares) reach the optimum SGD approaches, in less time and with no learning rate to tune
(docs/algorithms.md has the figures). ``wd`` is the L2 penalty, ``l1`` the L1 penalty, ``normalize_data``
standardises the features (as Linear Learner does); a binary model picks its threshold by
``binary_classifier_model_selection_criteria`` on the validation channel (else train), as Linear
Learner does. Metrics use SageMaker's names and ``#quality_metric`` lines for train, validation and test.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kiln.algorithms.data import CSV, RECORDIO, ChannelData, read_channel
from kiln.algorithms.hyperparameters import AlgorithmError, Param, parse_hyperparameters
from kiln.algorithms.job import AlgorithmJob, log, quality_metric, run_algorithm
from kiln.algorithms.model_file import save_model_file

__all__ = ["HYPERPARAMETERS", "main"]

HYPERPARAMETERS = (
    Param("predictor_type", "str", required=True,
          choices=("binary_classifier", "multiclass_classifier", "regressor")),
    Param("num_classes", "int", None, low=3, high=1_000_000),
    Param("feature_dim", "int", "auto", low=1, auto=True),
    Param("mini_batch_size", "int", 1000, low=1),
    Param("epochs", "int", 15, low=1),
    Param("loss", "str", "auto", choices=("auto", "logistic", "squared_loss", "absolute_loss", "hinge_loss",
                                          "eps_insensitive_squared_loss", "eps_insensitive_absolute_loss",
                                          "quantile_loss", "huber_loss", "softmax_loss")),
    Param("optimizer", "str", "auto", choices=("auto", "sgd", "adam", "rmsprop")),
    Param("learning_rate", "float", "auto", low=0, auto=True, low_open=True),
    Param("wd", "float", "auto", low=0, auto=True),
    Param("l1", "float", "auto", low=0, auto=True),
    Param("use_bias", "bool", True),
    Param("num_models", "int", "auto", low=1, auto=True),
    Param("normalize_data", "bool", True),
    Param("normalize_label", "bool", "auto", auto=True),
    Param("binary_classifier_model_selection_criteria", "str", "accuracy",
          choices=("accuracy", "f_beta", "precision_at_target_recall", "recall_at_target_precision",
                   "loss_function")),
    Param("target_recall", "float", 0.8, low=0, high=1),
    Param("target_precision", "float", 0.8, low=0, high=1),
    Param("positive_example_weight_mult", "float", 1.0, low=0, auto=True, low_open=True),
    Param("f_beta", "float", 1.0, low=0, low_open=True),
    Param("early_stopping_patience", "int", 3, low=1),
    Param("early_stopping_tolerance", "float", 0.001, low=0, low_open=True),
    Param("margin", "float", 1.0, low=0),
    Param("quantile", "float", 0.5, low=0, high=1, low_open=True),
    Param("loss_insensitivity", "float", 0.01, low=0),
    Param("huber_delta", "float", 1.0, low=0),
    Param("init_method", "str", "uniform", choices=("uniform", "normal")),
    Param("init_scale", "float", 0.07, low=0),
    Param("init_sigma", "float", 0.01, low=0),
    Param("init_bias", "float", 0.0),
    Param("accuracy_top_k", "int", 3, low=1),
    Param("balance_multiclass_weights", "bool", False),
    Param("unbias_data", "bool", "auto", auto=True),
    Param("unbias_label", "bool", "auto", auto=True),
    Param("num_point_for_scaler", "int", 10000, low=1),
    Param("num_calibration_samples", "int", 10000000, low=1),
    Param("lr_scheduler_step", "int", "auto", low=1, auto=True),
    Param("lr_scheduler_factor", "float", "auto", low=0, high=1, auto=True),
    Param("lr_scheduler_minimum_lr", "float", "auto", low=0, auto=True),
    Param("momentum", "float", "auto", low=0, high=1, auto=True),
    Param("beta_1", "float", "auto", low=0, high=1, auto=True),
    Param("beta_2", "float", "auto", low=0, high=1, auto=True),
    Param("bias_lr_mult", "float", "auto", low=0, auto=True, low_open=True),
    Param("bias_wd_mult", "float", "auto", low=0, auto=True),
)  # fmt: skip
_OBJECTIVE = {
    "binary_classifier": "binary_classification_cross_entropy",
    "multiclass_classifier": "multiclass_cross_entropy",
    "regressor": "square_loss",
}


def _read(job: AlgorithmJob, channel: str, feature_dim: Any) -> ChannelData:
    data = read_channel(
        job.channels[channel],
        channel,
        job.content_types.get(channel, ""),
        default=RECORDIO,
        allowed=(CSV, RECORDIO),
        supervised=True,
    )
    if feature_dim != "auto" and data.features.shape[1] != feature_dim:
        raise AlgorithmError(
            f"ClientError: channel {channel!r} has {data.features.shape[1]} features, but hyperparameter "
            f"'feature_dim' is {feature_dim}; set feature_dim to the data's column count (labels excluded)"
        )
    return data


class LinearModel:
    """The fitted parameters: standardisation, weights (features × outputs), bias, threshold."""

    def __init__(
        self,
        mean: np.ndarray,
        scale: np.ndarray,
        weights: np.ndarray,
        bias: np.ndarray,
        predictor_type: str,
        threshold: float = 0.5,
        classes: np.ndarray | None = None,
    ) -> None:
        self.mean, self.scale, self.weights, self.bias = mean, scale, weights, bias
        self.predictor_type, self.threshold = predictor_type, threshold
        self.classes = classes if classes is not None else np.arange(max(2, weights.shape[1]))

    def raw(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(((x - self.mean) / self.scale) @ self.weights + self.bias)

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Probability of 1 (binary), class probabilities (multiclass), or the prediction (regressor)."""
        raw = self.raw(x)
        if self.predictor_type == "binary_classifier":
            return np.asarray(1.0 / (1.0 + np.exp(-raw[:, 0])))
        if self.predictor_type == "multiclass_classifier":
            shifted = np.exp(raw - raw.max(axis=1, keepdims=True))
            return np.asarray(shifted / shifted.sum(axis=1, keepdims=True))
        return np.asarray(raw[:, 0])

    def labels(self, scores: np.ndarray) -> np.ndarray:
        if self.predictor_type == "binary_classifier":
            return (scores >= self.threshold).astype(np.float64)
        if self.predictor_type == "regressor":
            return scores
        return np.asarray(self.classes[np.argmax(scores, axis=1)], dtype=np.float64)


def _penalty(hp: dict[str, Any]) -> tuple[float, float]:
    wd = 0.0 if hp["wd"] == "auto" else float(hp["wd"])
    l1 = 0.0 if hp["l1"] == "auto" else float(hp["l1"])
    return wd, l1


def _fit(hp: dict[str, Any], x: np.ndarray, y: np.ndarray, job: AlgorithmJob) -> LinearModel:
    from sklearn.linear_model import ElasticNet, LinearRegression, LogisticRegression, Ridge

    predictor_type = hp["predictor_type"]
    mean = x.mean(axis=0) if hp["normalize_data"] else np.zeros(x.shape[1])
    scale = x.std(axis=0) if hp["normalize_data"] else np.ones(x.shape[1])
    scale = np.where(scale > 0, scale, 1.0)
    xs = (x - mean) / scale
    wd, l1 = _penalty(hp)
    if predictor_type == "regressor":
        if l1 > 0:
            total = wd + l1
            model: Any = ElasticNet(alpha=total, l1_ratio=l1 / total, fit_intercept=hp["use_bias"])
        elif wd > 0:
            model = Ridge(alpha=wd * len(y), fit_intercept=hp["use_bias"])
        else:
            model = LinearRegression(fit_intercept=hp["use_bias"])
        model.fit(xs, y)
        weights = np.asarray(model.coef_, dtype=np.float64).reshape(-1, 1)
        bias = np.atleast_1d(np.asarray(model.intercept_, dtype=np.float64))
        return LinearModel(mean, scale, weights, bias, predictor_type)
    classes = np.unique(y)
    if predictor_type == "binary_classifier":
        if not set(classes.tolist()) <= {0.0, 1.0}:
            raise AlgorithmError(
                "ClientError: a binary_classifier needs labels 0 and 1; the train channel has "
                f"{sorted(classes.tolist())[:10]}"
            )
    else:
        expected = hp["num_classes"]
        if expected is None:
            raise AlgorithmError(
                "ClientError: predictor_type multiclass_classifier requires hyperparameter 'num_classes' "
                "(an integer in [3, 1000000])"
            )
        if classes.max() >= expected or classes.min() < 0 or not np.all(classes == np.round(classes)):
            raise AlgorithmError(
                f"ClientError: labels must be integers from 0 to num_classes-1 ({expected - 1}); the train "
                f"channel has {sorted(classes.tolist())[:10]}"
            )
    # scikit-learn's C is the inverse of the summed L2 penalty; wd is Linear Learner's per-example one.
    c = 1.0 / (wd * len(y)) if wd > 0 else 1e4
    weight = {1.0: hp["positive_example_weight_mult"]} if predictor_type == "binary_classifier" else None
    if weight is not None and weight[1.0] == "auto":
        weight = None
    classifier = LogisticRegression(
        C=c,
        l1_ratio=1.0 if l1 > 0 else 0.0,
        solver="saga" if l1 > 0 else "lbfgs",
        fit_intercept=hp["use_bias"],
        max_iter=max(100, hp["epochs"] * 20),
        class_weight="balanced" if hp["balance_multiclass_weights"] else weight,
    )
    classifier.fit(xs, y)
    if predictor_type == "binary_classifier":
        weights = classifier.coef_.T.astype(np.float64)
        bias = classifier.intercept_.astype(np.float64)
        return LinearModel(mean, scale, weights, bias, predictor_type)
    full_w = np.zeros((x.shape[1], hp["num_classes"]))
    full_b = np.full(hp["num_classes"], -1e9)  # classes never seen in training are never predicted
    for column, label in enumerate(classifier.classes_.astype(int)):
        full_w[:, label] = classifier.coef_[column]
        full_b[label] = classifier.intercept_[column]
    return LinearModel(mean, scale, full_w, full_b, predictor_type)


def _choose_threshold(model: LinearModel, hp: dict[str, Any], x: np.ndarray, y: np.ndarray) -> float:
    from sklearn.metrics import fbeta_score

    scores = model.scores(x)
    candidates = np.unique(np.concatenate([[0.5], scores]))
    criterion = hp["binary_classifier_model_selection_criteria"]
    if criterion == "loss_function":
        return 0.5
    best, best_value = 0.5, -np.inf
    for threshold in candidates:
        predicted = scores >= threshold
        tp = float(np.sum(predicted & (y == 1)))
        precision = tp / max(1.0, float(predicted.sum()))
        recall = tp / max(1.0, float(np.sum(y == 1)))
        if criterion == "accuracy":
            value = float(np.mean(predicted == (y == 1)))
        elif criterion == "f_beta":
            value = float(fbeta_score(y, predicted.astype(float), beta=hp["f_beta"], zero_division=0))
        elif criterion == "precision_at_target_recall":
            value = precision if recall >= hp["target_recall"] else -np.inf
        else:
            value = recall if precision >= hp["target_precision"] else -np.inf
        if value > best_value:
            best, best_value = float(threshold), value
    return best


def evaluate(
    model: LinearModel, hp: dict[str, Any], x: np.ndarray, y: np.ndarray
) -> dict[str, tuple[float, bool]]:
    """SageMaker's metric names → (value, is a loss)."""
    from sklearn import metrics

    scores = model.scores(x)
    predicted = model.labels(scores)
    kind = hp["predictor_type"]
    found: dict[str, tuple[float, bool]] = {}
    if kind == "regressor":
        error = scores - y
        found[f"{_OBJECTIVE[kind]}_objective"] = (float(np.mean(error**2)), True)
        found["mse"] = (float(np.mean(error**2)), True)
        found["rmse"] = (float(np.sqrt(np.mean(error**2))), True)
        found["absolute_loss"] = (float(np.mean(np.abs(error))), True)
        return found
    if kind == "binary_classifier":
        clipped = np.clip(scores, 1e-12, 1 - 1e-12)
        loss = -np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))
        found[f"{_OBJECTIVE[kind]}_objective"] = (float(loss), True)
        found["binary_classification_accuracy"] = (float(np.mean(predicted == y)), False)
        found["binary_f_beta"] = (
            float(metrics.fbeta_score(y, predicted, beta=hp["f_beta"], zero_division=0)),
            False,
        )
        found["precision"] = (float(metrics.precision_score(y, predicted, zero_division=0)), False)
        found["recall"] = (float(metrics.recall_score(y, predicted, zero_division=0)), False)
        if len(np.unique(y)) == 2:
            found["roc_auc_score"] = (float(metrics.roc_auc_score(y, scores)), False)
        return found
    index = y.astype(int)
    loss = -np.mean(np.log(np.clip(scores[np.arange(len(y)), index], 1e-12, None)))
    found[f"{_OBJECTIVE[kind]}_objective"] = (float(loss), True)
    found["multiclass_accuracy"] = (float(np.mean(predicted == y)), False)
    top = np.argsort(-scores, axis=1)[:, : hp["accuracy_top_k"]]
    found["multiclass_top_k_accuracy"] = (
        float(np.mean([t in row for t, row in zip(index, top, strict=True)])),
        False,
    )
    for name, fn in (("macro_precision", metrics.precision_score), ("macro_recall", metrics.recall_score)):
        found[name] = (float(fn(y, predicted, average="macro", zero_division=0)), False)
    found["macro_f_beta"] = (
        float(metrics.fbeta_score(y, predicted, beta=hp["f_beta"], average="macro", zero_division=0)),
        False,
    )
    return found


def _report(job: AlgorithmJob, channel: str, values: dict[str, tuple[float, bool]]) -> None:
    for name, (value, loss) in values.items():
        quality_metric(job.current_host, channel, name, value, loss=loss)


def _train(job: AlgorithmJob) -> None:
    hp = parse_hyperparameters(job.hyperparameters, HYPERPARAMETERS, "Linear Learner")
    if "train" not in job.channels:
        raise AlgorithmError("ClientError: Linear Learner needs a 'train' channel")
    train = _read(job, "train", hp["feature_dim"])
    assert train.labels is not None
    log(
        f"Linear Learner: {len(train.labels)} train rows, {train.features.shape[1]} features, "
        f"{hp['predictor_type']}"
    )
    model = _fit(hp, train.features, train.labels, job)
    validation = _read(job, "validation", hp["feature_dim"]) if "validation" in job.channels else None
    if hp["predictor_type"] == "binary_classifier":
        chooser = validation if validation is not None else train
        assert chooser.labels is not None
        model.threshold = _choose_threshold(model, hp, chooser.features, chooser.labels)
    _report(job, "train", evaluate(model, hp, train.features, train.labels))
    if validation is not None:
        assert validation.labels is not None
        _report(job, "validation", evaluate(model, hp, validation.features, validation.labels))
    if "test" in job.channels:
        test = _read(job, "test", hp["feature_dim"])
        assert test.labels is not None
        _report(job, "test", evaluate(model, hp, test.features, test.labels))
    if job.is_master:
        save_model_file(
            job.model_dir,
            "linear-learner",
            {"predictor_type": hp["predictor_type"], "threshold": model.threshold},
            mean=model.mean,
            scale=model.scale,
            weights=model.weights,
            bias=model.bias,
        )


def main() -> None:
    run_algorithm(_train)


if __name__ == "__main__":
    main()
