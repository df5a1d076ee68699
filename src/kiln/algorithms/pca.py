"""SageMaker's PCA on scikit-learn: ``python -m kiln.algorithms.pca``.

``algorithm_mode`` regular is an exact SVD of the covariance (scikit-learn's full solver), randomized
is scikit-learn's randomized SVD with ``extra_components`` oversampling; ``subtract_mean`` false keeps
the data uncentred (a truncated SVD), as SageMaker's does. SageMaker documents no tuning metrics for
PCA; Kiln logs ``train:explained_variance_ratio`` / ``test:reconstruction_mse`` (and the other pair) in
the same ``#quality_metric`` lines, so the tuner can use them.
"""

from __future__ import annotations

import numpy as np

from kiln.algorithms.data import CSV, RECORDIO, read_channel
from kiln.algorithms.hyperparameters import AlgorithmError, Param, parse_hyperparameters
from kiln.algorithms.job import AlgorithmJob, log, quality_metric, run_algorithm
from kiln.algorithms.model_file import save_model_file

__all__ = ["HYPERPARAMETERS", "main"]

HYPERPARAMETERS = (
    Param("feature_dim", "int", required=True, low=1),
    Param("mini_batch_size", "int", required=True, low=1),
    Param("num_components", "int", required=True, low=1),
    Param("algorithm_mode", "str", "regular", choices=("regular", "randomized")),
    Param("subtract_mean", "bool", True),
    Param("extra_components", "int", -1, low=-1),
)


def _read(job: AlgorithmJob, channel: str, feature_dim: int) -> np.ndarray:
    data = read_channel(
        job.channels[channel],
        channel,
        job.content_types.get(channel, ""),
        default=RECORDIO,
        allowed=(CSV, RECORDIO),
        supervised=False,
    )
    if data.features.shape[1] != feature_dim:
        raise AlgorithmError(
            f"ClientError: channel {channel!r} has {data.features.shape[1]} features, but hyperparameter "
            f"'feature_dim' is {feature_dim}; set feature_dim to the data's column count"
        )
    return data.features


def _quality(x: np.ndarray, mean: np.ndarray, components: np.ndarray) -> tuple[float, float]:
    centred = x - mean
    projected = centred @ components.T
    rebuilt = projected @ components
    total = float((centred**2).sum())
    explained = float((projected**2).sum()) / total if total > 0 else 1.0
    return explained, float(((centred - rebuilt) ** 2).mean())


def _train(job: AlgorithmJob) -> None:
    from sklearn.decomposition import PCA, TruncatedSVD

    hp = parse_hyperparameters(job.hyperparameters, HYPERPARAMETERS, "PCA")
    if "train" not in job.channels:
        raise AlgorithmError("ClientError: PCA needs a 'train' channel")
    x = _read(job, "train", hp["feature_dim"])
    n = hp["num_components"]
    if n > min(x.shape):
        raise AlgorithmError(
            f"ClientError: hyperparameter 'num_components' is {n}; it must be at most min(rows, "
            f"feature_dim) = {min(x.shape)}"
        )
    log(f"PCA: {len(x)} train rows, {x.shape[1]} features, {n} components ({hp['algorithm_mode']})")
    randomized = hp["algorithm_mode"] == "randomized"
    extra = max(10, n) if hp["extra_components"] == -1 else hp["extra_components"]
    if hp["subtract_mean"]:
        model = PCA(
            n_components=n,
            svd_solver="randomized" if randomized else "full",
            random_state=0,
            **({"n_oversamples": extra} if randomized else {}),
        ).fit(x)
        mean = np.asarray(model.mean_, dtype=np.float64)
    else:
        model = (
            TruncatedSVD(
                n_components=n, algorithm="randomized" if randomized else "arpack", random_state=0
            ).fit(x)
            if n < x.shape[1]
            else None
        )
        mean = np.zeros(x.shape[1])
        if model is None:  # all components: the exact SVD of the uncentred data
            _, _, vt = np.linalg.svd(x, full_matrices=False)
            components = vt[:n]
    if model is not None:
        components = np.asarray(model.components_, dtype=np.float64)
    explained, error = _quality(x, mean, components)
    quality_metric(job.current_host, "train", "explained_variance_ratio", explained, loss=False)
    quality_metric(job.current_host, "train", "reconstruction_mse", error, loss=True)
    if "test" in job.channels:
        explained, error = _quality(_read(job, "test", hp["feature_dim"]), mean, components)
        quality_metric(job.current_host, "test", "explained_variance_ratio", explained, loss=False)
        quality_metric(job.current_host, "test", "reconstruction_mse", error, loss=True)
    if job.is_master:
        save_model_file(job.model_dir, "pca", {"num_components": n}, mean=mean, components=components)


def main() -> None:
    run_algorithm(_train)


if __name__ == "__main__":
    main()
