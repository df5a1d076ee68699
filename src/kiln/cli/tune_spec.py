"""What ``kiln tune`` runs: a small YAML file and flags, merged into the tuner's arguments.

The YAML keys are ``HyperparameterTuner``'s and ``Estimator``'s argument names::

    entry_point: train.py
    source_dir: src
    hyperparameters: {epochs: 3}
    inputs: {training: file:///…/data}
    metric_definitions: {accuracy: "accuracy=([0-9.]+)"}   # or a list of {Name, Regex}
    objective_metric_name: accuracy
    objective_type: Maximize
    hyperparameter_ranges:
      learning-rate: {type: continuous, min: 0.0001, max: 0.1, scaling: Logarithmic}
      batch-size: {type: integer, min: 16, max: 256}
      optimizer: {type: categorical, values: [adam, sgd]}
    strategy: Bayesian
    max_jobs: 20
    max_parallel_jobs: 2
    early_stopping_type: Auto

Flags given on the command line win over the file; ``source_dir`` is relative to the file's folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kiln.errors import ValidationError
from kiln.sdk.tuning_parameters import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    ParameterRange,
)

__all__ = ["TUNE_KEYS", "load_tune_file", "parse_range_flag", "parse_value", "range_from_yaml"]

TUNE_KEYS = (
    "entry_point",
    "source_dir",
    "hyperparameters",
    "inputs",
    "metric_definitions",
    "objective_metric_name",
    "objective_type",
    "hyperparameter_ranges",
    "strategy",
    "max_jobs",
    "max_parallel_jobs",
    "max_runtime_in_seconds",
    "early_stopping_type",
    "random_seed",
    "instance_type",
    "instance_count",
    "max_run",
    "job_name",
    "base_tuning_job_name",
)


def parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def load_tune_file(path: Path) -> dict[str, Any]:
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text())
    except OSError as e:
        raise ValidationError(f"cannot read {str(path)!r}: {e.strerror}") from e
    except yaml.YAMLError as e:
        raise ValidationError(f"{str(path)!r} is not valid YAML: {e}") from e
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ValidationError(
            f"{str(path)!r} must hold a mapping of tuner arguments, not {type(loaded).__name__}"
        )
    unknown = sorted(set(loaded) - set(TUNE_KEYS))
    if unknown:
        raise ValidationError(
            f"{str(path)!r} has unknown keys {', '.join(unknown)}; the keys are {', '.join(TUNE_KEYS)}"
        )
    spec = dict(loaded)
    ranges = spec.get("hyperparameter_ranges") or {}
    if not isinstance(ranges, dict):
        raise ValidationError("hyperparameter_ranges must map each hyperparameter to its range")
    spec["hyperparameter_ranges"] = {str(k): range_from_yaml(str(k), v) for k, v in ranges.items()}
    metrics = spec.get("metric_definitions")
    if isinstance(metrics, dict):
        spec["metric_definitions"] = [{"Name": str(k), "Regex": str(v)} for k, v in metrics.items()]
    if "source_dir" in spec and spec["source_dir"] is not None:
        spec["source_dir"] = str((path.parent / str(spec["source_dir"])).resolve())
    return spec


def range_from_yaml(name: str, item: Any) -> ParameterRange:
    if isinstance(item, list):
        return CategoricalParameter(item)
    if not isinstance(item, dict) or "type" not in item:
        raise ValidationError(
            f"range {name!r} must be a list of values or a mapping with a type: continuous, integer "
            "or categorical"
        )
    kind = str(item["type"]).lower()
    if kind == "categorical":
        return CategoricalParameter(list(item.get("values") or []))
    if kind not in ("continuous", "integer"):
        raise ValidationError(
            f"range {name!r} has type {item['type']!r}; use continuous, integer or categorical"
        )
    if "min" not in item or "max" not in item:
        raise ValidationError(f"range {name!r} needs min and max")
    cls = ContinuousParameter if kind == "continuous" else IntegerParameter
    return cls(item["min"], item["max"], str(item.get("scaling", "Auto")))


def parse_range_flag(kind: str, flag: str) -> tuple[str, ParameterRange]:
    """``--continuous lr=0.001:0.1[:Logarithmic]``, ``--integer n=1:8``, ``--categorical opt=adam,sgd``."""
    name, sep, rest = flag.partition("=")
    if not sep or not name or not rest:
        example = "opt=adam,sgd" if kind == "categorical" else "lr=0.001:0.1:Logarithmic"
        raise ValidationError(f"--{kind} {flag!r} must look like NAME=…, e.g. {example}")
    if kind == "categorical":
        return name, CategoricalParameter([parse_value(v) for v in rest.split(",")])
    parts = rest.split(":")
    if len(parts) not in (2, 3):
        raise ValidationError(f"--{kind} {flag!r} must look like NAME=MIN:MAX or NAME=MIN:MAX:SCALING")
    cast = float if kind == "continuous" else int
    try:
        low, high = cast(parts[0]), cast(parts[1])
    except ValueError:
        raise ValidationError(
            f"--{kind} {flag!r}: MIN and MAX must be {'numbers' if cast is float else 'whole numbers'}"
        ) from None
    cls = ContinuousParameter if kind == "continuous" else IntegerParameter
    return name, cls(low, high, parts[2] if len(parts) == 3 else "Auto")
