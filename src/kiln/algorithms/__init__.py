"""Kiln's built-in algorithms: SageMaker's XGBoost, Linear Learner, K-Means and PCA as ordinary training code.

A job whose training image is one of these algorithms' images (``kiln.image_uris.retrieve``) and
that names no entry point runs ``python -m <module>`` on the same training host runtime as a user's
script, and its model is served by the same model server (the ``algorithms`` serving adapter for
the first-party algorithms, the XGBoost adapter for XGBoost). This module is the registry: which
image is which algorithm, and each algorithm's metric definitions, which Kiln adds to a job that
gives none, so ``HyperparameterTuner`` optimises ``validation:auc`` with no ``metric_definitions``
(SageMaker's built-in algorithms declare theirs the same way).

It imports no numerical library, so the server and the SDK can use it freely.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ALGORITHMS", "Algorithm", "add_metric_definitions", "algorithm_for_image", "is_algorithm_mode"]

_TAB = r"(?:#011|\t)"  # XGBoost's tab, as CloudWatch shows it (#011) and as Kiln's logs hold it


@dataclass(frozen=True)
class Algorithm:
    name: str  # as image_uris.retrieve names it: xgboost, linear-learner, kmeans, pca
    title: str
    module: str  # python -m <module> trains it
    metrics: tuple[tuple[str, str, bool], ...]  # (name, regex, maximize)

    def metric_definitions(self) -> list[dict[str, str]]:
        return [{"Name": name, "Regex": regex} for name, regex, _ in self.metrics]


def _xgboost_metrics() -> tuple[tuple[str, str, bool], ...]:
    from_table = [(m, True) for m in _XGB_MAX] + [(m, False) for m in _XGB_MIN]
    return tuple(
        (f"{channel}:{metric}", rf".*\[[0-9]+\].*{_TAB}{channel}-{metric}:(\S+)", maximize)
        for channel in ("validation", "train")
        for metric, maximize in from_table
    )


_XGB_MAX = (
    "accuracy",
    "auc",
    "aucpr",
    "balanced_accuracy",
    "f1",
    "f1_binary",
    "f1_macro",
    "map",
    "ndcg",
    "precision",
    "r2",
    "recall",
    "precision_macro",
    "precision_micro",
    "recall_macro",
    "recall_micro",
)
_XGB_MIN = (
    "aft-nloglik",
    "cox-nloglik",
    "error",
    "gamma-deviance",
    "gamma-nloglik",
    "logloss",
    "mae",
    "mape",
    "merror",
    "mlogloss",
    "mphe",
    "mse",
    "poisson-nloglik",
    "rmse",
    "rmsle",
    "tweedie-nloglik",
)
_LL_SCORES = (
    "binary_classification_accuracy",
    "binary_f_beta",
    "precision",
    "recall",
    "roc_auc_score",
    "multiclass_accuracy",
    "multiclass_top_k_accuracy",
    "macro_f_beta",
    "macro_precision",
    "macro_recall",
    "dcg",
)
_LL_LOSSES = ("mse", "absolute_loss", "rmse")


def _quality(channel: str, metric: str, kind: str) -> str:
    return rf"#quality_metric: host=\S+, {channel} {metric} <{kind}>=(\S+)"


def _linear_learner_metrics() -> tuple[tuple[str, str, bool], ...]:
    found: list[tuple[str, str, bool]] = []
    for channel in ("test", "validation", "train"):
        found.append((f"{channel}:objective_loss", _quality(channel, r"\S+_objective", "loss"), False))
        found += [(f"{channel}:{m}", _quality(channel, m, "score"), True) for m in _LL_SCORES]
        found += [(f"{channel}:{m}", _quality(channel, m, "loss"), False) for m in _LL_LOSSES]
    return tuple(found)


def _kmeans_metrics() -> tuple[tuple[str, str, bool], ...]:
    return tuple(
        (f"{channel}:{metric}", _quality(channel, metric, "loss"), False)
        for channel in ("test", "train")
        for metric in ("msd", "ssd")
    )


def _pca_metrics() -> tuple[tuple[str, str, bool], ...]:
    return tuple(
        (
            f"{channel}:{metric}",
            _quality(channel, metric, "score" if metric == "explained_variance_ratio" else "loss"),
            metric == "explained_variance_ratio",
        )
        for channel in ("test", "train")
        for metric in ("explained_variance_ratio", "reconstruction_mse")
    )


ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm("xgboost", "XGBoost", "kiln.algorithms.xgboost", _xgboost_metrics()),
        Algorithm(
            "linear-learner", "Linear Learner", "kiln.algorithms.linear_learner", _linear_learner_metrics()
        ),
        Algorithm("kmeans", "K-Means", "kiln.algorithms.kmeans", _kmeans_metrics()),
        Algorithm("pca", "PCA", "kiln.algorithms.pca", _pca_metrics()),
    )
}


def algorithm_for_image(image: str | None) -> Algorithm | None:
    """The built-in algorithm an image runs (XGBoost's images run it in algorithm mode only)."""
    if not image:
        return None
    from kiln.errors import ValidationError
    from kiln.images import parse_image_uri

    try:
        parsed = parse_image_uri(str(image))
    except ValidationError:
        return None
    return ALGORITHMS.get(parsed.framework)


def is_algorithm_mode(request: dict[str, Any]) -> bool:
    """A job of an algorithm image with no entry point (``sagemaker_program``): the algorithm runs."""
    image = (request.get("AlgorithmSpecification") or {}).get("TrainingImage")
    hyperparameters = request.get("HyperParameters") or request.get("StaticHyperParameters") or {}
    return algorithm_for_image(image) is not None and not hyperparameters.get("sagemaker_program")


def add_metric_definitions(request: dict[str, Any]) -> None:
    """Give an algorithm-mode job (or a tuning job's definition) its algorithm's metric definitions.

    Definitions the request already names are kept (a user's regex wins, as in SageMaker, where
    built-in algorithms' own metrics are the only ones they may emit anyway).
    """
    for target in (request, request.get("TrainingJobDefinition") or {}):
        if not target or not is_algorithm_mode(target):
            continue
        spec = target.setdefault("AlgorithmSpecification", {})
        algorithm = algorithm_for_image(spec.get("TrainingImage"))
        assert algorithm is not None
        given = list(spec.get("MetricDefinitions") or [])
        named = {d.get("Name") for d in given}
        spec["MetricDefinitions"] = given + [
            d for d in algorithm.metric_definitions() if d["Name"] not in named
        ]
