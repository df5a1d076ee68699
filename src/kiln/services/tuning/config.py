"""A CreateHyperParameterTuningJob request, checked and turned into a frozen ``TuningConfig``.

Each refusal names the field, the value and what to do, in SageMaker's words where SageMaker has them
(the objective must be a defined metric: "A metric is required for this hyperparameter tuning job
objective"). Parameter range bounds and values arrive as strings, as in SageMaker's API.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass
from typing import Any

from kiln.errors import ValidationError

__all__ = [
    "CategoricalRange",
    "ContinuousRange",
    "IntegerRange",
    "ParameterRange",
    "Scaling",
    "Strategy",
    "TuningConfig",
    "parse_tuning_request",
    "validate_tuning_job_name",
]

TUNING_JOB_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")  # SageMaker's, ≤32 characters
MAX_TRAINING_JOBS = 750  # SageMaker's ceiling on MaxNumberOfTrainingJobs
MAX_PARALLEL_TRAINING_JOBS = 100
MAX_CATEGORICAL_VALUES = 30  # SageMaker's limit per categorical range
MAX_PARENT_JOBS = 5  # SageMaker's limit on WarmStartConfig parents
WARM_START_TYPES = ("IdenticalDataAndAlgorithm", "TransferLearning")


class Strategy(str, enum.Enum):
    BAYESIAN = "Bayesian"
    RANDOM = "Random"
    HYPERBAND = "Hyperband"
    GRID = "Grid"


class Scaling(str, enum.Enum):
    AUTO = "Auto"  # Kiln picks Linear: predictable, and what SageMaker falls back to without evidence
    LINEAR = "Linear"
    LOGARITHMIC = "Logarithmic"
    REVERSE_LOGARITHMIC = "ReverseLogarithmic"


@dataclass(frozen=True)
class ContinuousRange:
    name: str
    low: float
    high: float
    scaling: Scaling = Scaling.AUTO


@dataclass(frozen=True)
class IntegerRange:
    name: str
    low: int
    high: int
    scaling: Scaling = Scaling.AUTO


@dataclass(frozen=True)
class CategoricalRange:
    name: str
    values: tuple[str, ...]


ParameterRange = ContinuousRange | IntegerRange | CategoricalRange


@dataclass(frozen=True)
class TuningConfig:
    strategy: Strategy
    objective_metric: str
    maximize: bool
    max_jobs: int
    max_parallel: int
    ranges: tuple[ParameterRange, ...]
    early_stopping: bool
    max_runtime_seconds: int | None = None
    random_seed: int | None = None
    hyperband_min_resource: int | None = None
    hyperband_max_resource: int | None = None
    warm_start_parents: tuple[str, ...] = ()
    warm_start_type: str | None = None

    @property
    def objective_type(self) -> str:
        return "Maximize" if self.maximize else "Minimize"

    def range_named(self, name: str) -> ParameterRange | None:
        return next((r for r in self.ranges if r.name == name), None)


def validate_tuning_job_name(name: str) -> None:
    if not TUNING_JOB_NAME_PATTERN.match(name):
        raise ValidationError(
            f"HyperParameterTuningJobName {name!r} is not valid: use 1-32 letters, digits and hyphens, "
            "starting and ending with a letter or digit (pattern ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31})"
        )


def _choice(value: Any, enum_type: type[enum.Enum], field: str) -> Any:
    try:
        return enum_type(value)
    except ValueError:
        choices = ", ".join(str(m.value) for m in enum_type)
        raise ValidationError(f"{field} {value!r} is not valid; use one of {choices}") from None


def _number(value: Any, field: str, kind: type[float] | type[int]) -> float | int:
    try:
        number = float(value) if kind is float else int(str(value))
    except (TypeError, ValueError):
        what = "a number" if kind is float else "a whole number"
        raise ValidationError(f"{field} {value!r} is not {what}") from None
    if kind is float and not math.isfinite(number):
        raise ValidationError(f"{field} {value!r} must be a finite number")
    return number


def _check_scaling(kind: str, name: str, low: float, high: float, scaling: Scaling) -> None:
    where = f"{kind} parameter range {name!r}"
    if low > high:
        raise ValidationError(f"{where}: MinValue {low} is greater than MaxValue {high}; swap them")
    if scaling is Scaling.LOGARITHMIC and low <= 0:
        raise ValidationError(
            f"{where}: ScalingType Logarithmic needs MinValue > 0 (got {low}); raise MinValue or use Linear"
        )
    if scaling is Scaling.REVERSE_LOGARITHMIC:
        if kind == "Integer":
            raise ValidationError(
                f"{where}: ScalingType ReverseLogarithmic is only supported for continuous ranges; "
                "use Linear or Logarithmic"
            )
        if not (low >= 0 and high < 1):
            raise ValidationError(
                f"{where}: ScalingType ReverseLogarithmic needs 0 <= MinValue <= MaxValue < 1 "
                f"(got {low}..{high}); use Logarithmic or Linear for other ranges"
            )


def _parse_ranges(ranges: dict[str, Any]) -> tuple[ParameterRange, ...]:
    parsed: list[ParameterRange] = []
    for item in ranges.get("ContinuousParameterRanges") or []:
        name = str(item["Name"])
        low = float(_number(item["MinValue"], f"continuous range {name!r} MinValue", float))
        high = float(_number(item["MaxValue"], f"continuous range {name!r} MaxValue", float))
        scaling = _choice(item.get("ScalingType", "Auto"), Scaling, f"range {name!r} ScalingType")
        _check_scaling("Continuous", name, low, high, scaling)
        parsed.append(ContinuousRange(name, low, high, scaling))
    for item in ranges.get("IntegerParameterRanges") or []:
        name = str(item["Name"])
        low_int = int(_number(item["MinValue"], f"integer range {name!r} MinValue", int))
        high_int = int(_number(item["MaxValue"], f"integer range {name!r} MaxValue", int))
        scaling = _choice(item.get("ScalingType", "Auto"), Scaling, f"range {name!r} ScalingType")
        _check_scaling("Integer", name, low_int, high_int, scaling)
        parsed.append(IntegerRange(name, low_int, high_int, scaling))
    for item in ranges.get("CategoricalParameterRanges") or []:
        name = str(item["Name"])
        values = tuple(str(v) for v in item.get("Values") or [])
        if not values:
            raise ValidationError(f"categorical parameter range {name!r} has no Values; give at least one")
        if len(values) > MAX_CATEGORICAL_VALUES:
            raise ValidationError(
                f"categorical parameter range {name!r} has {len(values)} values; at most "
                f"{MAX_CATEGORICAL_VALUES} are allowed"
            )
        if len(set(values)) != len(values):
            raise ValidationError(f"categorical parameter range {name!r} lists a value twice: {list(values)}")
        parsed.append(CategoricalRange(name, values))
    if not parsed:
        raise ValidationError(
            "ParameterRanges is empty: give at least one continuous, integer or categorical range to tune"
        )
    names = [r.name for r in parsed]
    for name in names:
        if not name:
            raise ValidationError("a parameter range has an empty Name")
        if names.count(name) > 1:
            raise ValidationError(f"hyperparameter {name!r} has more than one range; give it exactly one")
    return tuple(parsed)


def _check_objective(metric: str, definition: dict[str, Any]) -> None:
    defined = [
        str(d.get("Name"))
        for d in (definition.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or []
    ]
    if metric not in defined:
        shown = ", ".join(repr(n) for n in defined) or "none"
        raise ValidationError(
            "A metric is required for this hyperparameter tuning job objective. Provide a metric "
            f"definition named {metric!r} in TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions "
            "(the tuner's metric_definitions) whose Regex captures the value from the training logs; "
            f"metrics defined: {shown}"
        )


def _grid_size(ranges: tuple[ParameterRange, ...]) -> int:
    size = 1
    for item in ranges:
        if not isinstance(item, CategoricalRange):
            kind = "continuous" if isinstance(item, ContinuousRange) else "integer"
            raise ValidationError(
                f"the Grid strategy searches categorical ranges only, and {item.name!r} is {kind}; list "
                "its values as a categorical range, or use the Bayesian or Random strategy"
            )
        size *= len(item.values)
    return size


def _limits(
    limits: dict[str, Any], strategy: Strategy, ranges: tuple[ParameterRange, ...]
) -> tuple[int, int, int | None]:
    max_parallel = int(_number(limits.get("MaxParallelTrainingJobs", 1), "MaxParallelTrainingJobs", int))
    if not 1 <= max_parallel <= MAX_PARALLEL_TRAINING_JOBS:
        raise ValidationError(
            f"ResourceLimits.MaxParallelTrainingJobs {max_parallel} must be between 1 and "
            f"{MAX_PARALLEL_TRAINING_JOBS}"
        )
    raw_max_jobs = limits.get("MaxNumberOfTrainingJobs")
    if strategy is Strategy.GRID:
        grid = _grid_size(ranges)
        max_jobs = (
            grid
            if raw_max_jobs is None
            else min(grid, int(_number(raw_max_jobs, "ResourceLimits.MaxNumberOfTrainingJobs", int)))
        )
    elif raw_max_jobs is None:
        raise ValidationError(
            f"ResourceLimits.MaxNumberOfTrainingJobs is required for the {strategy.value} strategy "
            "(the tuner's max_jobs); only Grid derives it from the grid"
        )
    else:
        max_jobs = int(_number(raw_max_jobs, "ResourceLimits.MaxNumberOfTrainingJobs", int))
    if not 1 <= max_jobs <= MAX_TRAINING_JOBS:
        raise ValidationError(
            f"ResourceLimits.MaxNumberOfTrainingJobs {max_jobs} must be between 1 and {MAX_TRAINING_JOBS}"
        )
    max_runtime = limits.get("MaxRuntimeInSeconds")
    if max_runtime is not None:
        max_runtime = int(_number(max_runtime, "ResourceLimits.MaxRuntimeInSeconds", int))
        if max_runtime < 1:
            raise ValidationError(f"ResourceLimits.MaxRuntimeInSeconds {max_runtime} must be at least 1")
    return max_jobs, max_parallel, max_runtime


def _hyperband(config: dict[str, Any], strategy: Strategy) -> tuple[int | None, int | None]:
    hyperband = (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig")
    if hyperband is None:
        return None, None
    if strategy is not Strategy.HYPERBAND:
        raise ValidationError(
            f"StrategyConfig.HyperbandStrategyConfig is given but the Strategy is {strategy.value}; "
            "remove it or set Strategy to Hyperband"
        )
    low = hyperband.get("MinResource")
    high = hyperband.get("MaxResource")
    low = None if low is None else int(_number(low, "HyperbandStrategyConfig.MinResource", int))
    high = None if high is None else int(_number(high, "HyperbandStrategyConfig.MaxResource", int))
    if low is not None and low < 1:
        raise ValidationError(f"HyperbandStrategyConfig.MinResource {low} must be at least 1")
    if low is not None and high is not None and high < low:
        raise ValidationError(
            f"HyperbandStrategyConfig.MaxResource {high} is smaller than MinResource {low}; swap them"
        )
    return low, high


def _warm_start(request: dict[str, Any], strategy: Strategy) -> tuple[tuple[str, ...], str | None]:
    warm = request.get("WarmStartConfig")
    if not warm:
        return (), None
    if strategy is Strategy.GRID:
        raise ValidationError(
            "WarmStartConfig cannot be used with the Grid strategy, which runs every combination once; "
            "use Bayesian or Random"
        )
    kind = str(warm.get("WarmStartType", ""))
    if kind not in WARM_START_TYPES:
        raise ValidationError(
            f"WarmStartConfig.WarmStartType {kind!r} is not valid; use one of {', '.join(WARM_START_TYPES)}"
        )
    parents = tuple(
        str(p.get("HyperParameterTuningJobName", ""))
        for p in warm.get("ParentHyperParameterTuningJobs") or []
    )
    if not 1 <= len(parents) <= MAX_PARENT_JOBS:
        raise ValidationError(
            f"WarmStartConfig.ParentHyperParameterTuningJobs lists {len(parents)} jobs; give 1 to "
            f"{MAX_PARENT_JOBS}"
        )
    return parents, kind


def parse_tuning_request(request: dict[str, Any]) -> TuningConfig:
    """Check the request's tuning settings (the training job definition is checked by the service)."""
    validate_tuning_job_name(str(request.get("HyperParameterTuningJobName", "")))
    config = request.get("HyperParameterTuningJobConfig") or {}
    definition = request.get("TrainingJobDefinition") or {}
    strategy = _choice(config.get("Strategy", "Bayesian"), Strategy, "HyperParameterTuningJobConfig.Strategy")
    objective = config.get("HyperParameterTuningJobObjective") or {}
    objective_type = str(objective.get("Type", ""))
    if objective_type not in ("Maximize", "Minimize"):
        raise ValidationError(
            f"HyperParameterTuningJobObjective.Type {objective_type!r} is not valid; use Maximize or Minimize"
        )
    metric = str(objective.get("MetricName", ""))
    _check_objective(metric, definition)
    ranges = _parse_ranges(config.get("ParameterRanges") or {})
    static = definition.get("StaticHyperParameters") or {}
    for item in ranges:
        if item.name in static:
            raise ValidationError(
                f"hyperparameter {item.name!r} is both static and tuned; remove it from "
                "StaticHyperParameters (the estimator's hyperparameters) or from the ranges"
            )
    max_jobs, max_parallel, max_runtime = _limits(config.get("ResourceLimits") or {}, strategy, ranges)
    early = _choice(
        config.get("TrainingJobEarlyStoppingType", "Off"),
        _EarlyStopping,
        "TrainingJobEarlyStoppingType",
    )
    if strategy is Strategy.HYPERBAND and early is _EarlyStopping.AUTO:
        raise ValidationError(
            "TrainingJobEarlyStoppingType must be Off with the Hyperband strategy: Hyperband stops "
            "trials itself"
        )
    min_resource, max_resource = _hyperband(config, strategy)
    parents, warm_type = _warm_start(request, strategy)
    seed = config.get("RandomSeed")
    return TuningConfig(
        strategy=strategy,
        objective_metric=metric,
        maximize=objective_type == "Maximize",
        max_jobs=max_jobs,
        max_parallel=max_parallel,
        ranges=ranges,
        early_stopping=early is _EarlyStopping.AUTO or strategy is Strategy.HYPERBAND,
        max_runtime_seconds=max_runtime,
        random_seed=None if seed is None else int(_number(seed, "RandomSeed", int)),
        hyperband_min_resource=min_resource,
        hyperband_max_resource=max_resource,
        warm_start_parents=parents,
        warm_start_type=warm_type,
    )


class _EarlyStopping(str, enum.Enum):
    OFF = "Off"
    AUTO = "Auto"
