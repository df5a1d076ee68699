"""Warm start: a tuning job starts from its parents' best trials; bad parents are refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
from tuning_helpers import estimator, trials, unique, write_source

import kiln
from kiln.errors import NotFound, ValidationError


def tuner_for(session: kiln.Session, source: Path, **settings: object) -> kiln.HyperparameterTuner:
    return kiln.HyperparameterTuner(
        estimator(session, source),
        objective_metric_name=str(settings.pop("objective", "score")),
        hyperparameter_ranges={
            "rate": kiln.ContinuousParameter(0.01, 1.0),
            "kind": kiln.CategoricalParameter(["a", "b", "c"]),
        },
        strategy="Random",
        **settings,  # type: ignore[arg-type]
    )


def test_a_warm_started_job_runs_its_parents_best_trials_first(session: kiln.Session, tmp_path: Path) -> None:
    source = write_source(tmp_path / "src")
    parent = tuner_for(session, source, max_jobs=4, max_parallel_jobs=2, random_seed=3)
    parent.fit(job_name=unique("tune-parent"))
    parent_trials = trials(session, parent.latest_tuning_job or "")  # best first
    best_two = [t["TunedHyperParameters"] for t in parent_trials[:2]]

    child = tuner_for(
        session,
        source,
        max_jobs=4,
        max_parallel_jobs=1,
        random_seed=4,
        warm_start_config=kiln.WarmStartConfig("TransferLearning", parents={parent.latest_tuning_job or ""}),
    )
    child.fit(job_name=unique("tune-child"))
    in_order = trials(session, child.latest_tuning_job or "", sort_by="CreationTime", sort_order="Ascending")
    assert [t["TunedHyperParameters"] for t in in_order[:2]] == best_two
    assert len(in_order) == 4
    assert child.describe()["WarmStartConfig"]["WarmStartType"] == "TransferLearning"
    attached = kiln.HyperparameterTuner.attach(child.latest_tuning_job or "", sagemaker_session=session)
    assert attached.warm_start_config is not None
    assert attached.warm_start_config.parents == {parent.latest_tuning_job}


def test_warm_start_from_a_missing_parent_or_another_objective_is_refused(
    session: kiln.Session, tmp_path: Path
) -> None:
    source = write_source(tmp_path / "src")
    orphan = tuner_for(
        session, source, max_jobs=2, warm_start_config=kiln.WarmStartConfig(parents="no-such-tuning-job")
    )
    with pytest.raises(NotFound, match="'no-such-tuning-job', which does not exist"):
        orphan.fit(job_name=unique("tune-orphan"))

    parent = tuner_for(session, source, max_jobs=1)
    parent.fit(job_name=unique("tune-loss-parent"))
    other = tuner_for(
        session,
        source,
        objective="loss",
        objective_type="Minimize",
        max_jobs=2,
        warm_start_config=kiln.WarmStartConfig(parents=[parent.latest_tuning_job or ""]),
    )
    with pytest.raises(ValidationError, match="tuned objective metric 'score', not 'loss'"):
        other.fit(job_name=unique("tune-other"))
