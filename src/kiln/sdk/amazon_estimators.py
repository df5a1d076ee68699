"""SageMaker's estimators of its first-party algorithms: ``LinearLearner``, ``KMeans``, ``PCA``.

Their arguments are SageMaker v2's (``sagemaker.LinearLearner`` …): each keyword becomes the
algorithm's hyperparameter (``max_iterations`` → ``local_lloyd_max_iter`` as SageMaker maps it),
``feature_dim`` comes from the records given to ``fit``, and ``record_set()`` writes RecordIO-protobuf
shards to the store as SageMaker does. One difference: SageMaker's ``RecordSet`` names a manifest
file; Kiln's names the folder of shards (``S3Prefix``), which every Kiln channel reads.

The predictors send JSON rows and read the algorithm's JSON answer (SageMaker's send RecordIO and
return Record objects; Kiln's endpoints take RecordIO too, with ``content_type`` set).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np

from kiln.algorithms import recordio
from kiln.errors import ValidationError
from kiln.sdk.algorithm_estimator import AlgorithmEstimator
from kiln.sdk.deserializers import BaseDeserializer, JSONDeserializer
from kiln.sdk.image_uris import retrieve
from kiln.sdk.inputs import TrainingInput
from kiln.sdk.predictor import Predictor
from kiln.sdk.serializers import BaseSerializer, JSONSerializer
from kiln.sdk.session import Session

__all__ = [
    "PCA",
    "KMeans",
    "KMeansPredictor",
    "LinearLearner",
    "LinearLearnerPredictor",
    "PCAPredictor",
    "RecordSet",
]


class RecordSet:
    """Records written to the store for one channel (SageMaker's ``amazon_estimator.RecordSet``)."""

    def __init__(
        self,
        s3_data: str,
        num_records: int,
        feature_dim: int,
        s3_data_type: str = "S3Prefix",
        channel: str = "train",
    ) -> None:
        self.s3_data = s3_data
        self.num_records = num_records
        self.feature_dim = feature_dim
        self.s3_data_type = s3_data_type
        self.channel = channel

    def __repr__(self) -> str:
        return f"(RecordSet, {self.__dict__})"

    def records_s3_input(self) -> TrainingInput:
        distribution = "ShardedByS3Key" if self.channel == "train" else "FullyReplicated"
        return TrainingInput(
            self.s3_data,
            distribution=distribution,
            s3_data_type="S3Prefix",
            content_type=recordio.CONTENT_TYPE,
        )


class _AlgorithmPredictor(Predictor):
    def __init__(
        self,
        endpoint_name: str,
        sagemaker_session: Session | None = None,
        serializer: BaseSerializer | None = None,
        deserializer: BaseDeserializer | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            endpoint_name,
            sagemaker_session,
            serializer=serializer or JSONSerializer(),
            deserializer=deserializer or JSONDeserializer(),
            **kwargs,
        )


class LinearLearnerPredictor(_AlgorithmPredictor):
    """Rows in; ``{"predictions": [{"score": …, "predicted_label": …}]}`` out."""


class KMeansPredictor(_AlgorithmPredictor):
    """Rows in; ``{"predictions": [{"closest_cluster": …, "distance_to_cluster": …}]}`` out."""


class PCAPredictor(_AlgorithmPredictor):
    """Rows in; ``{"projections": [{"projection": [...]}]}`` out."""


class _AmazonAlgorithm(AlgorithmEstimator):
    repo_name: ClassVar[str] = ""
    # SDK argument → hyperparameter name, where SageMaker renames it.
    renamed: ClassVar[dict[str, str]] = {}

    def __init__(
        self,
        role: str | None = None,
        instance_count: int | None = None,
        instance_type: str | None = None,
        data_location: str | None = None,
        hyperparameters: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.data_location = data_location
        self.feature_dim: int | None = None
        self.mini_batch_size: int | None = None
        super().__init__(
            retrieve(self.repo_name, kwargs.pop("region", None)),
            role=role,
            instance_count=instance_count or 1,
            instance_type=instance_type or "local",
            hyperparameters=hyperparameters,
            **kwargs,
        )

    def _set(self, **values: Any) -> None:
        for key, value in values.items():
            if value is not None:
                self._hyperparameters[self.renamed.get(key, key)] = value

    def hyperparameters(self) -> dict[str, str]:
        values = dict(self._hyperparameters)
        if self.feature_dim is not None:
            values.setdefault("feature_dim", self.feature_dim)
        if self.mini_batch_size is not None:
            values.setdefault("mini_batch_size", self.mini_batch_size)
        return {
            k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in values.items() if v is not None
        }

    def record_set(
        self,
        train: np.ndarray,
        labels: np.ndarray | None = None,
        channel: str = "train",
        encrypt: bool = False,
        distribution: str = "ShardedByS3Key",
    ) -> RecordSet:
        """Write ``train`` (and ``labels``) as RecordIO-protobuf shards, one per instance, to the store."""
        matrix = np.asarray(train, dtype=np.float32)
        if matrix.ndim != 2:
            raise ValidationError(f"record_set takes a 2-D array of rows; got shape {matrix.shape}")
        if labels is not None and len(labels) != len(matrix):
            raise ValidationError(f"record_set: {len(matrix)} rows but {len(labels)} labels")
        root = (self.data_location or f"{self.sagemaker_session.bucket_uri()}/sagemaker-record-sets").rstrip(
            "/"
        )
        stamp = time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime()) + f"-{time.time_ns() % 1000:03d}"
        prefix = f"{root}/{type(self).__name__}-{stamp}/{channel}"
        shards = max(1, min(self.instance_count, len(matrix)))
        size = len(matrix) // shards
        for index in range(shards):
            end = len(matrix) if index == shards - 1 else (index + 1) * size
            rows = slice(index * size, end)
            data = recordio.write_matrix(matrix[rows], None if labels is None else np.asarray(labels)[rows])
            self.sagemaker_session.upload_bytes(data, f"{prefix}/matrix_{index}.pbr")
        return RecordSet(prefix, len(matrix), matrix.shape[1], "S3Prefix", channel)

    def fit(  # type: ignore[override]
        self,
        records: RecordSet | list[RecordSet] | Any,
        mini_batch_size: int | None = None,
        wait: bool = True,
        logs: bool | str = "All",
        job_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Train on ``records`` (RecordSets from ``record_set``, or channels as ``Estimator.fit`` takes)."""
        self.mini_batch_size = mini_batch_size or self.mini_batch_size
        super().fit(records, wait=wait, logs=logs, job_name=job_name, **kwargs)

    def _training_request(self, job_name: str, inputs: Any) -> dict[str, Any]:
        # RecordSets become channels here, so HyperparameterTuner.fit(records) works the same way.
        sets = inputs if isinstance(inputs, list) else [inputs]
        if sets and all(isinstance(r, RecordSet) for r in sets):
            train = next((r for r in sets if r.channel == "train"), sets[0])
            self.feature_dim = train.feature_dim
            self.mini_batch_size = self.mini_batch_size or self._default_mini_batch(train.num_records)
            inputs = {r.channel: r.records_s3_input() for r in sets}
        return super()._training_request(job_name, inputs)

    def _default_mini_batch(self, num_records: int) -> int | None:
        return None


class LinearLearner(_AmazonAlgorithm):
    """SageMaker's ``sagemaker.LinearLearner``."""

    repo_name = "linear-learner"
    default_base_job_name = "linear-learner"
    predictor_class = LinearLearnerPredictor

    def __init__(
        self,
        role: str | None = None,
        instance_count: int | None = None,
        instance_type: str | None = None,
        predictor_type: str | None = None,
        binary_classifier_model_selection_criteria: str | None = None,
        target_recall: float | None = None,
        target_precision: float | None = None,
        positive_example_weight_mult: float | None = None,
        epochs: int | None = None,
        use_bias: bool | None = None,
        num_models: int | None = None,
        num_calibration_samples: int | None = None,
        init_method: str | None = None,
        init_scale: float | None = None,
        init_sigma: float | None = None,
        init_bias: float | None = None,
        optimizer: str | None = None,
        loss: str | None = None,
        wd: float | None = None,
        l1: float | None = None,
        momentum: float | None = None,
        learning_rate: float | None = None,
        beta_1: float | None = None,
        beta_2: float | None = None,
        bias_lr_mult: float | None = None,
        bias_wd_mult: float | None = None,
        use_lr_scheduler: bool | None = None,
        lr_scheduler_step: int | None = None,
        lr_scheduler_factor: float | None = None,
        lr_scheduler_minimum_lr: float | None = None,
        normalize_data: bool | None = None,
        normalize_label: bool | None = None,
        unbias_data: bool | None = None,
        unbias_label: bool | None = None,
        num_point_for_scaler: int | None = None,
        margin: float | None = None,
        quantile: float | None = None,
        loss_insensitivity: float | None = None,
        huber_delta: float | None = None,
        early_stopping_patience: int | None = None,
        early_stopping_tolerance: float | None = None,
        num_classes: int | None = None,
        accuracy_top_k: int | None = None,
        f_beta: float | None = None,
        balance_multiclass_weights: bool | None = None,
        **kwargs: Any,
    ) -> None:
        values = {
            k: v
            for k, v in locals().items()
            if k not in ("self", "role", "instance_count", "instance_type", "kwargs", "__class__")
        }
        if predictor_type is None:
            raise ValidationError(
                "LinearLearner needs predictor_type: binary_classifier, multiclass_classifier or regressor"
            )
        values.pop("use_lr_scheduler")  # SageMaker's switch for the lr_scheduler_* values
        super().__init__(role, instance_count, instance_type, **kwargs)
        self._set(**values)

    def _default_mini_batch(self, num_records: int) -> int:
        return max(1, min(1000, num_records // max(1, self.instance_count)))


class KMeans(_AmazonAlgorithm):
    """SageMaker's ``sagemaker.KMeans``."""

    repo_name = "kmeans"
    default_base_job_name = "kmeans"
    predictor_class = KMeansPredictor
    renamed: ClassVar[dict[str, str]] = {
        "max_iterations": "local_lloyd_max_iter",
        "tol": "local_lloyd_tol",
        "num_trials": "local_lloyd_num_trials",
        "local_init_method": "local_lloyd_init_method",
        "center_factor": "extra_center_factor",
    }

    def __init__(
        self,
        role: str | None = None,
        instance_count: int | None = None,
        instance_type: str | None = None,
        k: int | None = None,
        init_method: str | None = None,
        max_iterations: int | None = None,
        tol: float | None = None,
        num_trials: int | None = None,
        local_init_method: str | None = None,
        half_life_time_size: int | None = None,
        epochs: int | None = None,
        center_factor: int | None = None,
        eval_metrics: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        if k is None:
            raise ValidationError("KMeans needs k, the number of clusters")
        super().__init__(role, instance_count, instance_type, **kwargs)
        self._set(
            k=k,
            init_method=init_method,
            max_iterations=max_iterations,
            tol=tol,
            num_trials=num_trials,
            local_init_method=local_init_method,
            half_life_time_size=half_life_time_size,
            epochs=epochs,
            center_factor=center_factor,
            eval_metrics=None if eval_metrics is None else repr(list(eval_metrics)).replace("'", '"'),
            force_dense=True,
        )


class PCA(_AmazonAlgorithm):
    """SageMaker's ``sagemaker.PCA``."""

    repo_name = "pca"
    default_base_job_name = "pca"
    predictor_class = PCAPredictor

    def __init__(
        self,
        role: str | None = None,
        instance_count: int | None = None,
        instance_type: str | None = None,
        num_components: int | None = None,
        algorithm_mode: str | None = None,
        subtract_mean: bool | None = None,
        extra_components: int | None = None,
        **kwargs: Any,
    ) -> None:
        if num_components is None:
            raise ValidationError("PCA needs num_components")
        super().__init__(role, instance_count, instance_type, **kwargs)
        self._set(
            num_components=num_components,
            algorithm_mode=algorithm_mode,
            subtract_mean=subtract_mean,
            extra_components=extra_components,
        )

    def _default_mini_batch(self, num_records: int) -> int:
        return max(1, min(500, num_records))
