"""``HyperparameterTuner``: SageMaker's tuning API over Kiln (contract §3.7).

The tuner turns an estimator and parameter ranges into a CreateHyperParameterTuningJob request; the
server runs the search (Optuna) and each trial as an ordinary training job.
"""

from __future__ import annotations

import enum
import importlib
import json
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from kiln.errors import UnexpectedStatusException, ValidationError
from kiln.sdk.arguments import TUNER_FIT_INERT, TUNER_INERT, accepted_names, take_inert
from kiln.sdk.estimator import Estimator
from kiln.sdk.naming import tuning_job_name
from kiln.sdk.session import Session
from kiln.sdk.tuner_analytics import HyperparameterTuningJobAnalytics
from kiln.sdk.tuning_client import TuningClient
from kiln.sdk.tuning_parameters import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    ParameterRange,
    decode_hyperparameter,
    ranges_from_request,
)
from kiln.sdk.waiters import WAITERS

__all__ = [
    "CategoricalParameter",  # re-exported: ``sagemaker.tuner`` has the parameter classes too
    "ContinuousParameter",
    "HyperparameterTuner",
    "IntegerParameter",
    "ParameterRange",
    "WarmStartConfig",
    "WarmStartTypes",
    "default_tuning_job_name",
]

STRATEGIES = ("Bayesian", "Random", "Hyperband", "Grid")
# What a trial's training job takes over from the estimator's CreateTrainingJob request.
_DEFINITION_FIELDS = (
    "RoleArn",
    "InputDataConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "StoppingCondition",
    "CheckpointConfig",
    "Environment",
    "RetryStrategy",
)


default_tuning_job_name = tuning_job_name  # the name this module had before ``sdk/naming.py``


class WarmStartTypes(enum.Enum):
    IDENTICAL_DATA_AND_ALGORITHM = "IdenticalDataAndAlgorithm"
    TRANSFER_LEARNING = "TransferLearning"


class WarmStartConfig:
    """Start from what ``parents`` (ended tuning jobs) learned: their best trials run first."""

    def __init__(
        self,
        warm_start_type: WarmStartTypes | str = WarmStartTypes.IDENTICAL_DATA_AND_ALGORITHM,
        parents: Iterable[str] | str | None = None,
    ) -> None:
        try:
            self.type = WarmStartTypes(getattr(warm_start_type, "value", warm_start_type))
        except ValueError:
            choices = ", ".join(t.value for t in WarmStartTypes)
            raise ValidationError(
                f"warm_start_type {warm_start_type!r} is not valid; use one of {choices}"
            ) from None
        self.parents = {parents} if isinstance(parents, str) else set(parents or ())
        if not self.parents:
            raise ValidationError("WarmStartConfig needs at least one parent tuning job name")

    def to_input_req(self) -> dict[str, Any]:
        return {
            "WarmStartType": self.type.value,
            "ParentHyperParameterTuningJobs": [
                {"HyperParameterTuningJobName": p} for p in sorted(self.parents)
            ],
        }

    @classmethod
    def from_job_desc(cls, warm_start_config: dict[str, Any] | None) -> WarmStartConfig | None:
        if not warm_start_config:
            return None
        parents = [
            p["HyperParameterTuningJobName"] for p in warm_start_config["ParentHyperParameterTuningJobs"]
        ]
        return cls(warm_start_config["WarmStartType"], parents)


def _choice(value: str, choices: tuple[str, ...], what: str) -> str:
    if value not in choices:
        raise ValidationError(f"{what} {value!r} is not valid; use one of {', '.join(choices)}")
    return value


class HyperparameterTuner:
    """Tunes ``estimator``'s ``hyperparameter_ranges`` for the best ``objective_metric_name``."""

    def __init__(
        self,
        estimator: Estimator,
        objective_metric_name: str,
        hyperparameter_ranges: dict[str, ParameterRange],
        metric_definitions: list[dict[str, str]] | None = None,
        strategy: str = "Bayesian",
        objective_type: str = "Maximize",
        max_jobs: int | None = None,
        max_parallel_jobs: int = 1,
        max_runtime_in_seconds: int | None = None,
        tags: list[dict[str, str]] | None = None,
        base_tuning_job_name: str | None = None,
        warm_start_config: WarmStartConfig | None = None,
        strategy_config: Any = None,
        early_stopping_type: str = "Off",
        random_seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        self.sdk_arguments = take_inert(
            "HyperparameterTuner", kwargs, TUNER_INERT, accepted_names([HyperparameterTuner.__init__], ())
        )
        if not hyperparameter_ranges:
            raise ValidationError("hyperparameter_ranges is empty; give at least one range to tune")
        for name, item in hyperparameter_ranges.items():
            if not isinstance(item, ParameterRange):
                raise ValidationError(
                    f"hyperparameter_ranges[{name!r}] is {item!r}; use ContinuousParameter(min, max), "
                    "IntegerParameter(min, max) or CategoricalParameter([values])"
                )
        self.estimator = estimator
        self.objective_metric_name = objective_metric_name
        self._hyperparameter_ranges = dict(hyperparameter_ranges)
        self.metric_definitions = metric_definitions
        self.strategy = _choice(strategy, STRATEGIES, "strategy")
        self.objective_type = _choice(objective_type, ("Maximize", "Minimize"), "objective_type")
        self.max_jobs = max_jobs if max_jobs is not None or strategy == "Grid" else 1  # SageMaker's default
        self.max_parallel_jobs = max_parallel_jobs
        self.max_runtime_in_seconds = max_runtime_in_seconds
        self.tags = list(tags or [])
        self.base_tuning_job_name = base_tuning_job_name
        self.warm_start_config = warm_start_config
        self.strategy_config = strategy_config
        self.early_stopping_type = _choice(early_stopping_type, ("Off", "Auto"), "early_stopping_type")
        self.random_seed = random_seed
        self.sagemaker_session = estimator.sagemaker_session
        self.latest_tuning_job: str | None = None
        self._current_job_name: str | None = None

    # -- the request ----------------------------------------------------------------------------------

    def hyperparameter_ranges(self) -> dict[str, list[dict[str, Any]]]:
        """The ranges in the API's shape (``ParameterRanges``)."""
        shaped: dict[str, list[dict[str, Any]]] = {
            "ContinuousParameterRanges": [],
            "IntegerParameterRanges": [],
            "CategoricalParameterRanges": [],
        }
        for name, item in self._hyperparameter_ranges.items():
            shaped[f"{item.kind}ParameterRanges"].append(item.as_tuning_range(name))
        return shaped

    def _tuning_config(self) -> dict[str, Any]:
        limits: dict[str, Any] = {"MaxParallelTrainingJobs": self.max_parallel_jobs}
        if self.max_jobs is not None:
            limits["MaxNumberOfTrainingJobs"] = self.max_jobs
        if self.max_runtime_in_seconds is not None:
            limits["MaxRuntimeInSeconds"] = self.max_runtime_in_seconds
        config: dict[str, Any] = {
            "Strategy": self.strategy,
            "HyperParameterTuningJobObjective": {
                "Type": self.objective_type,
                "MetricName": self.objective_metric_name,
            },
            "ResourceLimits": limits,
            "ParameterRanges": self.hyperparameter_ranges(),
            "TrainingJobEarlyStoppingType": self.early_stopping_type,
        }
        if self.random_seed is not None:
            config["RandomSeed"] = self.random_seed
        if self.strategy_config is not None:
            to_request = getattr(self.strategy_config, "to_input_req", None)
            config["StrategyConfig"] = to_request() if to_request else self.strategy_config
        return config

    def _training_job_definition(self, job_name: str, inputs: Any) -> dict[str, Any]:
        # The estimator's own request (this uploads its source once, under the tuning job's name).
        training = self.estimator._training_request(job_name, inputs)
        static = {
            k: v for k, v in training["HyperParameters"].items() if k not in self._hyperparameter_ranges
        }
        # SageMaker's tuner records the estimator class so that attach() rebuilds the same one.
        static["sagemaker_estimator_class_name"] = json.dumps(type(self.estimator).__name__)
        static["sagemaker_estimator_module"] = json.dumps(type(self.estimator).__module__)
        metrics = self.metric_definitions
        if metrics is None:
            metrics = training["AlgorithmSpecification"].get("MetricDefinitions", [])
        definition: dict[str, Any] = {
            "StaticHyperParameters": static,
            "AlgorithmSpecification": {"TrainingInputMode": "File", "MetricDefinitions": metrics},
        }
        image = training["AlgorithmSpecification"].get("TrainingImage")
        if image and not self.estimator.needs_entry_point:  # a built-in algorithm: its image is its code
            definition["AlgorithmSpecification"]["TrainingImage"] = image
        definition.update({k: training[k] for k in _DEFINITION_FIELDS if k in training})
        return definition

    # -- running --------------------------------------------------------------------------------------

    @property
    def _client(self) -> TuningClient:
        return TuningClient(self.sagemaker_session.client)

    def fit(
        self,
        inputs: Any = None,
        job_name: str | None = None,
        include_cls_metadata: bool = False,
        estimator_kwargs: Any = None,
        wait: bool = True,
        **kwargs: Any,
    ) -> None:
        """Start the tuning job on ``inputs``; with ``wait``, block until it ends (raising if it failed)."""
        take_inert(
            "HyperparameterTuner.fit", kwargs, TUNER_FIT_INERT, accepted_names([HyperparameterTuner.fit], ())
        )
        request = self.build_tuning_request(inputs, job_name)
        name = str(request["HyperParameterTuningJobName"])
        self._client.create_tuning_job(request)
        self.latest_tuning_job = name
        self._current_job_name = name
        if wait:
            self.wait()

    def build_tuning_request(self, inputs: Any = None, job_name: str | None = None) -> dict[str, Any]:
        """The CreateHyperParameterTuningJob request ``fit`` sends, without sending it (the
        estimator's source is uploaded): what a pipeline's TuningStep carries."""
        base = self.base_tuning_job_name or self.estimator.base_job_name or "tuning"
        name = job_name or default_tuning_job_name(base)
        request: dict[str, Any] = {
            "HyperParameterTuningJobName": name,
            "HyperParameterTuningJobConfig": self._tuning_config(),
            "TrainingJobDefinition": self._training_job_definition(name, inputs),
            "Tags": self.tags,
        }
        if self.warm_start_config is not None:
            request["WarmStartConfig"] = self.warm_start_config.to_input_req()
        return request

    def _require_job(self) -> str:
        if self.latest_tuning_job is None:
            raise ValidationError("this tuner has not started a tuning job yet; call fit() first")
        return self.latest_tuning_job

    def describe(self) -> dict[str, Any]:
        return self._client.describe_tuning_job(self._require_job())

    def wait(self, out: TextIO | None = None) -> dict[str, Any]:
        """Block until the tuning job ends, printing a line as trials end; raise if it Failed."""
        name = self._require_job()
        stream = out or sys.stdout
        shown: list[str] = []

        def show(description: dict[str, Any]) -> None:
            line = _progress_line(description)
            if not shown or line != shown[-1]:
                print(line, file=stream, flush=True)
                shown.append(line)

        description = WAITERS["TuningJobEnded"].wait(self.sagemaker_session.client, name, on_poll=show)
        status = description["HyperParameterTuningJobStatus"]
        if status == "Failed":
            raise UnexpectedStatusException(
                f"Error for HyperParameterTuning job {name}: Failed. Reason: "
                f"{description.get('FailureReason', '')}",
                allowed_statuses=("Completed", "Stopped"),
                actual_status=status,
            )
        return description

    def stop_tuning_job(self) -> None:
        self._client.stop_tuning_job(self._require_job())

    def stop(self) -> None:
        self.stop_tuning_job()

    # -- results --------------------------------------------------------------------------------------

    def best_training_job(self) -> str:
        """The name of the trial with the best objective value so far."""
        name = self._require_job()
        best = self._client.describe_tuning_job(name).get("BestTrainingJob")
        if not best:
            raise ValidationError(
                f"No best training job available for the tuning job: {name}; no trial has reported the "
                f"objective metric {self.objective_metric_name!r} yet"
            )
        return str(best["TrainingJobName"])

    def best_estimator(self, best_training_job: str | None = None) -> Estimator:
        """The estimator of the best trial, attached to its training job (ready to deploy)."""
        name = best_training_job or self.best_training_job()
        return type(self.estimator).attach(name, sagemaker_session=self.sagemaker_session)

    def deploy(
        self,
        initial_instance_count: int | None = None,
        instance_type: str | None = None,
        serializer: Any = None,
        deserializer: Any = None,
        endpoint_name: str | None = None,
        model_name: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """Deploy the best trial's model: ``best_estimator().deploy(...)``; returns its Predictor."""
        given = {
            "initial_instance_count": initial_instance_count,
            "instance_type": instance_type,
            "serializer": serializer,
            "deserializer": deserializer,
            "endpoint_name": endpoint_name,
            "model_name": model_name,
            **kwargs,
        }
        estimator: Any = self.best_estimator()
        return estimator.deploy(**{k: v for k, v in given.items() if v is not None})  # its defaults stay

    def analytics(self) -> HyperparameterTuningJobAnalytics:
        return HyperparameterTuningJobAnalytics(self._require_job(), self.sagemaker_session)

    # -- attach ---------------------------------------------------------------------------------------

    @classmethod
    def attach(
        cls,
        tuning_job_name: str,
        sagemaker_session: Session | None = None,
        job_details: dict[str, Any] | None = None,
        estimator_cls: type[Estimator] | None = None,
    ) -> HyperparameterTuner:
        """Rebuild the tuner (and its estimator) of an existing tuning job."""
        session = sagemaker_session or Session()
        description = job_details or TuningClient(session.client).describe_tuning_job(tuning_job_name)
        definition = description["TrainingJobDefinition"]
        estimator = _attached_estimator(definition, session, estimator_cls)
        config = description["HyperParameterTuningJobConfig"]
        limits = config.get("ResourceLimits", {})
        tuner = cls(
            estimator,
            objective_metric_name=config["HyperParameterTuningJobObjective"]["MetricName"],
            hyperparameter_ranges=ranges_from_request(config.get("ParameterRanges", {})),
            metric_definitions=definition.get("AlgorithmSpecification", {}).get("MetricDefinitions"),
            strategy=config.get("Strategy", "Bayesian"),
            objective_type=config["HyperParameterTuningJobObjective"]["Type"],
            max_jobs=limits.get("MaxNumberOfTrainingJobs"),
            max_parallel_jobs=limits.get("MaxParallelTrainingJobs", 1),
            max_runtime_in_seconds=limits.get("MaxRuntimeInSeconds"),
            warm_start_config=WarmStartConfig.from_job_desc(description.get("WarmStartConfig")),
            strategy_config=config.get("StrategyConfig"),
            early_stopping_type=config.get("TrainingJobEarlyStoppingType", "Off"),
            random_seed=config.get("RandomSeed"),
        )
        tuner.latest_tuning_job = tuning_job_name
        tuner._current_job_name = tuning_job_name
        return tuner


def _estimator_class(static: dict[str, Any], fallback: type[Estimator] | None) -> type[Estimator]:
    if fallback is not None:
        return fallback
    module = decode_hyperparameter(static.get("sagemaker_estimator_module", '""'))
    name = decode_hyperparameter(static.get("sagemaker_estimator_class_name", '""'))
    # Only Kiln's own estimator classes are looked up by name: a job's data never picks code to import.
    if not (isinstance(module, str) and module.startswith("kiln.sdk.")):
        return Estimator
    try:
        found = getattr(importlib.import_module(module), str(name), None)
    except ImportError:
        return Estimator
    return found if isinstance(found, type) and issubclass(found, Estimator) else Estimator


def _attached_estimator(
    definition: dict[str, Any], session: Session, cls: type[Estimator] | None
) -> Estimator:
    static = dict(definition.get("StaticHyperParameters", {}))
    return _estimator_class(static, cls).from_description({**definition, "HyperParameters": static}, session)


def _progress_line(description: dict[str, Any]) -> str:
    counters = description.get("TrainingJobStatusCounters", {})
    failed = counters.get("RetryableError", 0) + counters.get("NonRetryableError", 0)
    line = (
        f"{description['HyperParameterTuningJobName']}: {description['HyperParameterTuningJobStatus']} - "
        f"{counters.get('Completed', 0)} completed, {counters.get('InProgress', 0)} in progress, "
        f"{counters.get('Stopped', 0)} stopped, {failed} failed"
    )
    best = description.get("BestTrainingJob")
    if best and best.get("FinalHyperParameterTuningJobObjectiveMetric"):
        metric = best["FinalHyperParameterTuningJobObjectiveMetric"]
        line += f"; best {metric['MetricName']}={metric['Value']:.6g} ({best['TrainingJobName']})"
    return line
