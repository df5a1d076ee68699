"""SageMaker's XGBoost algorithm (algorithm mode of aws/sagemaker-xgboost-container) on the xgboost package.

``python -m kiln.algorithms.xgboost`` inside a training host. Channels ``train`` (required) and
``validation``; ContentType libsvm (the default when unset, as in the container), csv (label first)
or recordio-protobuf. The container's hyperparameters with its defaults and ranges; XGBoost's own
evaluation lines (``[3]\ttrain-rmse:0.41\tvalidation-rmse:0.47``) are the metrics
``train:rmse`` / ``validation:rmse``. The model is ``xgboost-model`` in XGBoost's own format, which
Kiln's XGBoost serving adapter (and SageMaker's container) loads.

Several hosts train one model with XGBoost's collective: algo-1 runs the RabitTracker on the job's
master port, every host joins it, and each trains on its own share of the data (``ShardedByS3Key``
splits the objects; ``FullyReplicated`` gives every host all rows, as SageMaker does).
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

import numpy as np

from kiln.algorithms.data import CSV, LIBSVM, RECORDIO, read_channel
from kiln.algorithms.hyperparameters import AlgorithmError, Param, parse_hyperparameters
from kiln.algorithms.job import AlgorithmJob, log, run_algorithm

__all__ = ["HYPERPARAMETERS", "MAXIMIZED_METRICS", "MINIMIZED_METRICS", "main"]

OBJECTIVES = (
    "binary:logistic", "binary:logitraw", "binary:hinge", "count:poisson", "multi:softmax",
    "multi:softprob", "rank:pairwise", "rank:ndcg", "rank:map", "reg:squarederror", "reg:squaredlogerror",
    "reg:logistic", "reg:pseudohubererror", "reg:absoluteerror", "reg:gamma", "reg:tweedie",
    "survival:cox", "survival:aft", "reg:linear",
)  # fmt: skip
# The container's metric lists (algorithm_mode/metrics.py): what the tuner may optimise.
MAXIMIZED_METRICS = (
    "accuracy", "auc", "aucpr", "balanced_accuracy", "f1", "f1_binary", "f1_macro", "map", "ndcg",
    "precision", "r2", "recall", "precision_macro", "precision_micro", "recall_macro", "recall_micro",
)  # fmt: skip
MINIMIZED_METRICS = (
    "aft-nloglik", "cox-nloglik", "error", "gamma-deviance", "gamma-nloglik", "logloss", "mae", "mape",
    "merror", "mlogloss", "mphe", "mse", "poisson-nloglik", "rmse", "rmsle", "tweedie-nloglik",
)  # fmt: skip
_XGB_EVAL_METRICS = (
    "rmse", "rmsle", "mae", "mape", "mphe", "logloss", "error", "merror", "mlogloss", "auc", "aucpr",
    "ndcg", "map", "poisson-nloglik", "gamma-nloglik", "cox-nloglik", "gamma-deviance", "tweedie-nloglik",
    "aft-nloglik",
)  # fmt: skip

HYPERPARAMETERS = (
    Param("num_round", "int", required=True, low=1),
    Param("num_class", "int", low=2),
    Param("objective", "str", "reg:squarederror", choices=OBJECTIVES),
    Param("booster", "str", "gbtree", choices=("gbtree", "gblinear", "dart")),
    Param("eta", "float", 0.3, low=0, high=1),
    Param("learning_rate", "float", None, low=0, high=1),
    Param("gamma", "float", 0.0, low=0),
    Param("max_depth", "int", 6, low=0),
    Param("min_child_weight", "float", 1.0, low=0),
    Param("max_delta_step", "float", 0.0, low=0),
    Param("subsample", "float", 1.0, low=0, high=1, low_open=True),
    Param("colsample_bytree", "float", 1.0, low=0, high=1, low_open=True),
    Param("colsample_bylevel", "float", 1.0, low=0, high=1, low_open=True),
    Param("colsample_bynode", "float", 1.0, low=0, high=1, low_open=True),
    Param("lambda", "float", 1.0, low=0),
    Param("alpha", "float", 0.0, low=0),
    Param("tree_method", "str", "auto", choices=("auto", "exact", "approx", "hist", "gpu_hist")),
    Param("sketch_eps", "float", 0.03, low=0, high=1, low_open=True),
    Param("scale_pos_weight", "float", 1.0, low=0, low_open=True),
    Param("max_bin", "int", 256, low=2),
    Param("grow_policy", "str", "depthwise", choices=("depthwise", "lossguide")),
    Param("max_leaves", "int", 0, low=0),
    Param("base_score", "float", None),
    Param("seed", "int", 0),
    Param("eval_metric", "str", None),
    Param("early_stopping_rounds", "int", None, low=1),
    Param("csv_weights", "int", 0, low=0, high=1),
    Param("tweedie_variance_power", "float", 1.5, low=1, high=2),
    Param("verbosity", "int", 1, low=0, high=3),
)
# Accepted as the container accepts them, and meaningless on Kiln's CPUs or unused by the booster.
IGNORED = (
    "nthread",
    "updater",
    "refresh_leaf",
    "process_type",
    "normalize_type",
    "rate_drop",
    "one_drop",
    "skip_drop",
    "sample_type",
    "lambda_bias",
    "predictor",
    "single_precision_histogram",
    "deterministic_histogram",
    "dsplit",
    "prob_buffer_row",
    "save_model_on_termination",
    "use_dask_gpu_training",
    "interaction_constraints",
    "monotone_constraints",
    "num_parallel_tree",
)


def _booster_params(hp: dict[str, Any], job: AlgorithmJob) -> dict[str, Any]:
    objective = "reg:squarederror" if hp["objective"] == "reg:linear" else hp["objective"]
    if objective.startswith("multi:") and hp["num_class"] is None:
        raise AlgorithmError(
            f"ClientError: objective {objective!r} requires hyperparameter 'num_class' (an integer ≥ 2)"
        )
    params: dict[str, Any] = {
        "objective": objective,
        "booster": hp["booster"],
        "eta": hp["learning_rate"] if hp["learning_rate"] is not None else hp["eta"],
        "gamma": hp["gamma"],
        "max_depth": hp["max_depth"],
        "min_child_weight": hp["min_child_weight"],
        "max_delta_step": hp["max_delta_step"],
        "subsample": hp["subsample"],
        "colsample_bytree": hp["colsample_bytree"],
        "colsample_bylevel": hp["colsample_bylevel"],
        "colsample_bynode": hp["colsample_bynode"],
        "lambda": hp["lambda"],
        "alpha": hp["alpha"],
        "tree_method": "hist" if hp["tree_method"] in ("auto", "gpu_hist") else hp["tree_method"],
        "scale_pos_weight": hp["scale_pos_weight"],
        "max_bin": hp["max_bin"],
        "grow_policy": hp["grow_policy"],
        "max_leaves": hp["max_leaves"],
        "seed": hp["seed"],
        "verbosity": hp["verbosity"],
        "nthread": job.num_cpus,
    }
    if objective == "reg:tweedie":
        params["tweedie_variance_power"] = hp["tweedie_variance_power"]
    if hp["num_class"] is not None:
        params["num_class"] = hp["num_class"]
    if hp["base_score"] is not None:
        params["base_score"] = hp["base_score"]
    if hp["eval_metric"]:
        metrics = [m.strip() for m in str(hp["eval_metric"]).split(",") if m.strip()]
        for metric in metrics:
            if metric.split("@")[0] not in _XGB_EVAL_METRICS:
                raise AlgorithmError(
                    f"ClientError: hyperparameter 'eval_metric' names {metric!r}; it must be one or more "
                    f"(comma-separated) of {', '.join(_XGB_EVAL_METRICS)}"
                )
        params["eval_metric"] = metrics
    return params


def _dmatrix(job: AlgorithmJob, channel: str, weights: bool) -> Any:
    import xgboost as xgb

    content_type = job.content_types.get(channel, "")
    data = read_channel(
        job.channels[channel],
        channel,
        content_type,
        default=LIBSVM,
        allowed=(CSV, LIBSVM, RECORDIO),
        supervised=True,
    )
    features, weight = data.features, None
    if weights and data.format == CSV:  # csv_weights=1: the column after the label is the weight
        weight, features = features[:, 0], features[:, 1:]
    return xgb.DMatrix(features, label=data.labels, weight=weight)


def _train(job: AlgorithmJob) -> None:
    import xgboost as xgb

    hp = parse_hyperparameters(job.hyperparameters, HYPERPARAMETERS, "XGBoost", IGNORED)
    if "train" not in job.channels:
        raise AlgorithmError(
            "ClientError: XGBoost needs a 'train' channel; channels given: "
            + (", ".join(sorted(job.channels)) or "none")
        )
    params = _booster_params(hp, job)
    dtrain = _dmatrix(job, "train", bool(hp["csv_weights"]))
    evals = [(dtrain, "train")]
    if "validation" in job.channels:
        evals.append((_dmatrix(job, "validation", bool(hp["csv_weights"])), "validation"))
    if hp["early_stopping_rounds"] is not None and len(evals) < 2:
        raise AlgorithmError(
            "ClientError: hyperparameter 'early_stopping_rounds' needs a 'validation' channel to watch"
        )
    log(f"Train matrix has {dtrain.num_row()} rows and {dtrain.num_col()} columns")

    def train_here() -> Any:
        return xgb.train(
            params,
            dtrain,
            num_boost_round=hp["num_round"],
            evals=evals,
            early_stopping_rounds=hp["early_stopping_rounds"],
            verbose_eval=True,
        )

    booster = train_here() if len(job.hosts) == 1 else _train_distributed(job, train_here)
    if job.is_master:
        job.model_dir.mkdir(parents=True, exist_ok=True)
        booster.save_model(str(job.model_dir / "xgboost-model"))
        log(f"Saved the model to {job.model_dir / 'xgboost-model'}")


def _train_distributed(job: AlgorithmJob, train_here: Any) -> Any:
    """One collective ring over the job's hosts; algo-1 runs the tracker on the job's master port."""
    from xgboost import collective
    from xgboost.tracker import RabitTracker

    address = os.environ.get("MASTER_ADDR", "127.0.0.1")
    port = int(os.environ.get("MASTER_PORT", "7777"))
    tracker = None
    if job.is_master:
        tracker = RabitTracker(n_workers=len(job.hosts), host_ip=address, port=port, timeout=600)
        tracker.start()
        log(f"XGBoost tracker for {len(job.hosts)} hosts on {address}:{port}")
    rank = job.hosts.index(job.current_host)
    with collective.CommunicatorContext(
        dmlc_communicator="rabit",
        dmlc_tracker_uri=address,
        dmlc_tracker_port=port,
        dmlc_task_id=str(rank),
        dmlc_retry=60,
        dmlc_timeout=600,
    ):
        booster = train_here()
    if tracker is not None:
        waiter = threading.Thread(target=tracker.wait_for, daemon=True)
        waiter.start()
        waiter.join(60)
    return booster


def main() -> None:
    np.seterr(all="ignore")
    run_algorithm(_train)


if __name__ == "__main__":
    main()
    sys.exit(0)
