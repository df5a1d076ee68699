"""CreateHyperParameterTuningJob as one typed request, parsed once whichever door it came through.

The REST API's body, the AWS wire's operation and a pipeline's tuning step all become a
``CreateTuningJobRequest``; ``TuningJobService.create`` takes nothing else. Its shape is SageMaker's;
its tuning settings are checked, in their own words, by ``config.parse_tuning_request`` while it is
parsed. The training job definition is checked by the service the way each trial will be (it needs
the store and the catalog), and warm-start parents against the database.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from kiln.algorithms import add_metric_definitions
from kiln.services.training_request import TrainingJobSettingsShape
from kiln.services.tuning.config import TuningConfig, parse_tuning_request

__all__ = ["CreateTuningJobRequest", "TrainingJobDefinitionShape"]

ScalingType = Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"]


class _Shape(BaseModel):
    # Range bounds and values are strings in SageMaker's API; numbers are taken and kept as strings.
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


class NumericRangeShape(_Shape):
    Name: str = Field(min_length=1, max_length=256)
    MinValue: str
    MaxValue: str
    ScalingType: ScalingType = "Auto"


class CategoricalRangeShape(_Shape):
    Name: str = Field(min_length=1, max_length=256)
    Values: list[str] = Field(min_length=1)


class ParameterRangesShape(_Shape):
    IntegerParameterRanges: list[NumericRangeShape] = []
    ContinuousParameterRanges: list[NumericRangeShape] = []
    CategoricalParameterRanges: list[CategoricalRangeShape] = []


class ObjectiveShape(_Shape):
    Type: Literal["Maximize", "Minimize"]
    MetricName: str = Field(min_length=1, max_length=255)


class ResourceLimitsShape(_Shape):
    MaxNumberOfTrainingJobs: int | None = None
    MaxParallelTrainingJobs: int = 1
    MaxRuntimeInSeconds: int | None = None


class HyperbandStrategyConfigShape(_Shape):
    MinResource: int | None = None
    MaxResource: int | None = None


class StrategyConfigShape(_Shape):
    HyperbandStrategyConfig: HyperbandStrategyConfigShape | None = None


class TuningJobConfigShape(_Shape):
    Strategy: Literal["Bayesian", "Random", "Hyperband", "Grid"] = "Bayesian"
    StrategyConfig: StrategyConfigShape | None = None
    HyperParameterTuningJobObjective: ObjectiveShape
    ResourceLimits: ResourceLimitsShape
    ParameterRanges: ParameterRangesShape
    TrainingJobEarlyStoppingType: Literal["Off", "Auto"] = "Off"
    RandomSeed: int | None = None
    TuningJobCompletionCriteria: dict[str, Any] | None = None  # accepted; Kiln stops at the limits


class TrainingJobDefinitionShape(TrainingJobSettingsShape):
    """A tuning job's TrainingJobDefinition: a training job's settings, and its static hyperparameters."""

    # Values are checked by the service so that the error names the hyperparameter.
    StaticHyperParameters: dict[str, Any] = {}
    EnableManagedSpotTraining: bool | None = None  # accepted for compatibility


class ParentJobShape(BaseModel):
    model_config = ConfigDict(extra="forbid")

    HyperParameterTuningJobName: str


class WarmStartConfigShape(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ParentHyperParameterTuningJobs: list[ParentJobShape] = Field(min_length=1)
    WarmStartType: Literal["IdenticalDataAndAlgorithm", "TransferLearning"]


class CreateTuningJobRequest(BaseModel):
    """SageMaker's CreateHyperParameterTuningJob request (one TrainingJobDefinition), checked as far
    as the request alone allows; ``config`` is its search as ``TuningConfig``."""

    model_config = ConfigDict(extra="forbid")

    HyperParameterTuningJobName: str
    HyperParameterTuningJobConfig: TuningJobConfigShape
    TrainingJobDefinition: TrainingJobDefinitionShape
    WarmStartConfig: WarmStartConfigShape | None = None
    Tags: list[dict[str, str]] = []
    _config: TuningConfig | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _add_algorithm_metrics(cls, data: Any) -> Any:
        # A built-in algorithm's metrics join the definition first: the objective then needs no regex.
        if isinstance(data, dict):
            data = copy.deepcopy(data)
            add_metric_definitions(data)
        return data

    @model_validator(mode="after")
    def _check(self) -> CreateTuningJobRequest:
        self._config = parse_tuning_request(self.spec)
        return self

    @property
    def config(self) -> TuningConfig:
        assert self._config is not None  # set by the validator
        return self._config

    @property
    def spec(self) -> dict[str, Any]:
        """The request as stored and described: SageMaker's fields, unset optional ones left out."""
        return self.model_dump(exclude_none=True)
