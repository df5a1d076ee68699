"""Bayesian search is a Gaussian process where it wins, TPE elsewhere; parallel trials and a restarted
server's reopened study keep the GP's proposals apart (running trials are pending points)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.samplers import GPSampler, RandomSampler, TPESampler
from optuna.trial import TrialState

from kiln.metadata import Database
from kiln.metadata import tuning_jobs as tuning_rows
from kiln.records import utcnow
from kiln.services.tuning.config import parse_tuning_request
from kiln.services.tuning.sampler import (
    GP_MAX_TRIALS,
    BayesianModel,
    bayesian_model,
    choose_sampler,
)
from kiln.services.tuning.study import distributions, open_study

pytest.importorskip("torch")
pytest.importorskip("scipy")

RANGES = {
    "ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1", "ScalingType": "Linear"}],
    "IntegerParameterRanges": [{"Name": "n", "MinValue": "1", "MaxValue": "12", "ScalingType": "Linear"}],
    "CategoricalParameterRanges": [{"Name": "kind", "Values": ['"a"', '"b"', '"c"']}],
}


def _request(name: str, strategy: str = "Bayesian", max_jobs: int = 12, parallel: int = 2) -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy,
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "score"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": max_jobs, "MaxParallelTrainingJobs": parallel},
            "ParameterRanges": RANGES,
            "TrainingJobEarlyStoppingType": "Off",
        },
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {"MetricDefinitions": [{"Name": "score", "Regex": "score=(.*)"}]},
            "OutputDataConfig": {"S3OutputPath": "file:///tmp/out"},
            "ResourceConfig": {"InstanceType": "local", "InstanceCount": 1},
        },
    }


def _score(params: dict[str, Any]) -> float:
    return (
        -((params["x"] - 0.37) ** 2) - 0.01 * (params["n"] - 6) ** 2 + (0.2 if params["kind"] == '"a"' else 0)
    )


def test_bayesian_is_a_gaussian_process_for_small_budgets_and_tpe_for_large_ones() -> None:
    small = parse_tuning_request(_request("small"))
    assert bayesian_model(small) is BayesianModel.GAUSSIAN_PROCESS
    assert isinstance(choose_sampler(small, seed=1), GPSampler)
    large = dataclasses.replace(small, max_jobs=GP_MAX_TRIALS + 1)
    assert bayesian_model(large) is BayesianModel.TPE
    assert isinstance(choose_sampler(large, seed=1), TPESampler)
    assert isinstance(choose_sampler(parse_tuning_request(_request("r", "Random")), seed=1), RandomSampler)
    hyperband = parse_tuning_request(_request("h", "Hyperband"))
    assert isinstance(choose_sampler(hyperband, seed=1), TPESampler)  # pruned trials teach a GP nothing


def test_parallel_gp_trials_and_a_reopened_study_keep_running_trials_apart(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'kiln.db'}")
    db.migrate()
    request = _request("gp-parallel")
    config = parse_tuning_request(request)
    tuning_rows.insert_tuning_job(db, "gp-parallel", request, 7, utcnow())
    job_id = tuning_rows.tuning_job_id(db, "gp-parallel")
    study = open_study(db, job_id, "gp-parallel", config, seed=7)
    assert isinstance(study.sampler, GPSampler)
    spaces = distributions(config)
    for _ in range(5):  # past the GP's random start-up trials
        trial = study.ask(spaces)
        study.tell(trial, _score(trial.params))

    first = study.ask(spaces)  # both running at once, as with MaxParallelTrainingJobs 2
    second = study.ask(spaces)
    assert first.params != second.params

    # A restarted server reopens the study from Kiln's journal with a fresh sampler: the trial still
    # running is a pending point for the GP, so the next proposal lands elsewhere.
    study.tell(first, _score(first.params))
    reopened = open_study(db, job_id, "gp-parallel", config, seed=7)
    assert isinstance(reopened.sampler, GPSampler)
    [running] = [t for t in reopened.get_trials(deepcopy=False) if t.state is TrialState.RUNNING]
    assert running.params == second.params
    third = reopened.ask(spaces)
    assert third.number == 7
    assert _distance(third.params, second.params) > 1e-6
    reopened.tell(third, _score(third.params))
    reopened.tell(second.number, _score(second.params))
    assert len(reopened.get_trials(states=(TrialState.COMPLETE,))) == 8
    db.dispose()


def _distance(a: dict[str, Any], b: dict[str, Any]) -> float:
    return math.fsum([(a["x"] - b["x"]) ** 2, float(a["n"] != b["n"]), float(a["kind"] != b["kind"])])


def test_the_gp_finds_the_optimum_of_a_smooth_objective_that_random_search_misses_in_12_trials() -> None:
    """The benchmark's claim in miniature (benchmarks/tuning.py --search-only has the full figures)."""
    config = parse_tuning_request(_request("gp-quality"))
    spaces = distributions(config)

    def best_of(sampler: optuna.samplers.BaseSampler) -> float:
        study = optuna.create_study(direction="maximize", sampler=sampler)
        running: list[optuna.Trial] = []
        asked = 0
        while asked < 12 or running:
            while asked < 12 and len(running) < 2:  # two at a time; the older one ends first
                running.append(study.ask(spaces))
                asked += 1
            trial = running.pop(0)
            study.tell(trial, _score(trial.params))
        return study.best_value

    seeds = range(5)
    random_best = sorted(best_of(RandomSampler(seed=s)) for s in seeds)
    gp_best = [best_of(choose_sampler(config, seed=s)) for s in seeds]
    assert sum(b > random_best[len(random_best) // 2] for b in gp_best) >= 4
