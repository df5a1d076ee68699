"""Each strategy proposes values inside their ranges and on their scales; grid search covers its grid once.

These tests drive a tuning job's Optuna study the way the engine does (ask with the job's
distributions, hyperparameter strings for the training job, tell), on a real SQLite database.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import optuna
import pytest

from kiln.metadata import Database
from kiln.metadata import tuning_jobs as tuning_rows
from kiln.records import utcnow
from kiln.services.tuning.config import TuningConfig, parse_tuning_request
from kiln.services.tuning.study import distributions, hyperparameter_value, open_study

RANGES = {
    "ContinuousParameterRanges": [
        {"Name": "lr", "MinValue": "0.0001", "MaxValue": "1", "ScalingType": "Logarithmic"},
        {"Name": "momentum", "MinValue": "0.5", "MaxValue": "0.999", "ScalingType": "ReverseLogarithmic"},
        {"Name": "dropout", "MinValue": "0.1", "MaxValue": "0.6", "ScalingType": "Auto"},
    ],
    "IntegerParameterRanges": [
        {"Name": "units", "MinValue": "1", "MaxValue": "64", "ScalingType": "Logarithmic"},
        {"Name": "layers", "MinValue": "2", "MaxValue": "9", "ScalingType": "Linear"},
    ],
    "CategoricalParameterRanges": [{"Name": "optimizer", "Values": ['"adam"', '"sgd"', '"rmsprop"']}],
}


def tuning_request(strategy: str, ranges: dict[str, Any], max_jobs: int | None, name: str) -> dict[str, Any]:
    limits: dict[str, Any] = {"MaxParallelTrainingJobs": 1}
    if max_jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = max_jobs
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy,
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "score"},
            "ResourceLimits": limits,
            "ParameterRanges": ranges,
            "TrainingJobEarlyStoppingType": "Off",
        },
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {"MetricDefinitions": [{"Name": "score", "Regex": "score=(.*)"}]},
            "OutputDataConfig": {"S3OutputPath": "file:///tmp/out"},
            "ResourceConfig": {"InstanceType": "local", "InstanceCount": 1},
        },
    }


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'kiln.db'}")
    database.migrate()
    return database


def run_search(
    db: Database, strategy: str, ranges: dict[str, Any], trials: int, max_jobs: int | None = None
) -> tuple[TuningConfig, list[dict[str, str]]]:
    """Ask for ``trials`` trials (telling each a score) and return the hyperparameters each got."""
    name = f"search-{strategy.lower()}"
    request = tuning_request(strategy, ranges, max_jobs if max_jobs is not None else trials, name)
    config = parse_tuning_request(request)
    tuning_rows.insert_tuning_job(db, name, request, 7, utcnow())
    study = open_study(db, tuning_rows.tuning_job_id(db, name), name, config, seed=7)
    spaces = distributions(config)
    proposed = []
    for _ in range(trials):
        trial = study.ask(spaces)
        values = {r.name: hyperparameter_value(r, trial.params[r.name]) for r in config.ranges}
        proposed.append(values)
        study.tell(trial, -sum(len(v) for v in values.values()))  # any deterministic score
    return config, proposed


def assert_inside_ranges(proposed: list[dict[str, str]]) -> None:
    for values in proposed:
        assert 0.0001 <= float(values["lr"]) <= 1
        assert 0.5 <= float(values["momentum"]) <= 0.999
        assert 0.1 <= float(values["dropout"]) <= 0.6
        assert values["units"].isdigit()
        assert 1 <= int(values["units"]) <= 64
        assert values["layers"].isdigit()
        assert 2 <= int(values["layers"]) <= 9
        assert values["optimizer"] in ('"adam"', '"sgd"', '"rmsprop"')


@pytest.mark.parametrize(("strategy", "trials"), [("Bayesian", 20), ("Hyperband", 15), ("Random", 20)])
def test_each_strategy_proposes_values_inside_the_ranges(db: Database, strategy: str, trials: int) -> None:
    _, proposed = run_search(db, strategy, RANGES, trials)
    assert len(proposed) == trials
    assert_inside_ranges(proposed)
    # It searches, it does not repeat a configuration (a GP may well go back to a bound of one range).
    assert len({tuple(sorted(p.items())) for p in proposed}) == trials


def test_values_follow_their_scaling(db: Database) -> None:
    _, proposed = run_search(db, "Random", RANGES, 160)
    assert_inside_ranges(proposed)

    def share(name: str, test: Any) -> float:
        return sum(1 for p in proposed if test(float(p[name]))) / len(proposed)

    # Logarithmic over [1e-4, 1]: half the draws below 1e-2 (a linear scale would put 1 % there).
    assert 0.35 < share("lr", lambda v: v < 1e-2) < 0.65
    # ReverseLogarithmic over [0.5, 0.999]: dense near 1; about 3/4 above 0.9 (linear: 1/5).
    assert share("momentum", lambda v: v > 0.9) > 0.6
    # Integer logarithmic over [1, 64]: about half at most 8 (linear: 1/8).
    assert share("units", lambda v: v <= 8) > 0.35
    # Linear (and Auto, which is linear): spread evenly, every integer drawn, no pile-up at one end.
    assert set(Counter(int(p["layers"]) for p in proposed)) == set(range(2, 10))
    assert 0.3 < share("dropout", lambda v: v < 0.35) < 0.7
    logs = [math.log10(float(p["lr"])) for p in proposed]
    assert min(logs) < -3.3
    assert max(logs) > -0.7


def test_grid_covers_its_grid_exactly_once(db: Database) -> None:
    grid = {
        "CategoricalParameterRanges": [
            {"Name": "kind", "Values": ['"a"', '"b"', '"c"']},
            {"Name": "n", "Values": ["1", "2", "4"]},
        ]
    }
    config, proposed = run_search(db, "Grid", grid, 9, max_jobs=None)
    assert config.max_jobs == 9  # the grid's size, when MaxNumberOfTrainingJobs is not given
    seen = [(p["kind"], p["n"]) for p in proposed]
    assert sorted(seen) == sorted((k, n) for k in ('"a"', '"b"', '"c"') for n in ("1", "2", "4"))


def test_grid_order_is_the_same_when_the_study_is_reopened(db: Database) -> None:
    """After a restart the grid is rebuilt in the same seeded order, so trial numbers keep their point."""
    grid = {"CategoricalParameterRanges": [{"Name": "kind", "Values": ['"a"', '"b"', '"c"', '"d"']}]}
    request = tuning_request("Grid", grid, None, "grid-reopen")
    config = parse_tuning_request(request)
    tuning_rows.insert_tuning_job(db, "grid-reopen", request, 3, utcnow())
    job_id = tuning_rows.tuning_job_id(db, "grid-reopen")
    first = open_study(db, job_id, "grid-reopen", config, seed=3)
    asked = [first.ask(distributions(config)) for _ in range(2)]
    for trial in asked:
        first.tell(trial, 1.0)
    reopened = open_study(db, job_id, "grid-reopen", config, seed=3)
    later = [reopened.ask(distributions(config)) for _ in range(2)]
    kinds = [t.params["kind"] for t in asked + later]
    assert sorted(kinds) == ['"a"', '"b"', '"c"', '"d"']
    assert [t.state for t in reopened.get_trials()[:2]] == [optuna.trial.TrialState.COMPLETE] * 2
