"""Tuning jobs end to end: the SDK's HyperparameterTuner, the real server, trials as real training jobs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tuning_helpers import (
    SCORE_METRICS,
    estimator,
    most_at_once,
    trials,
    unique,
    wait_for_tuning_job,
    write_source,
)

import kiln
from conftest import wait_until
from kiln.errors import Conflict, UnexpectedStatusException, ValidationError
from kiln.sdk.tuning_client import TuningClient


def test_trials_get_values_inside_their_ranges_and_the_objective_comes_from_the_regex(
    session: kiln.Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_source(tmp_path / "src")
    tuner = kiln.HyperparameterTuner(
        estimator(session, source, steps=3),
        objective_metric_name="score",
        hyperparameter_ranges={
            "rate": kiln.ContinuousParameter(0.01, 1.0, scaling_type="Logarithmic"),
            "count": kiln.IntegerParameter(1, 5),
            "kind": kiln.CategoricalParameter(["a", "b", "c"]),
        },
        strategy="Random",
        max_jobs=4,
        max_parallel_jobs=2,
        random_seed=11,
    )
    name = unique("tune-ranges")
    tuner.fit(job_name=name)

    description = tuner.describe()
    assert description["HyperParameterTuningJobStatus"] == "Completed"
    assert description["TrainingJobStatusCounters"] == {
        "Completed": 4,
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": 0,
        "Stopped": 0,
    }
    assert description["ObjectiveStatusCounters"] == {"Succeeded": 4, "Pending": 0, "Failed": 0}
    assert "Completed - 4 completed" in capsys.readouterr().out  # wait() printed the progress

    summaries = trials(session, name)
    assert len(summaries) == 4
    assert most_at_once(summaries) <= 2
    values = [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in summaries]
    assert values == sorted(values, reverse=True)  # best first, for a Maximize objective
    for summary in summaries:
        tuned = summary["TunedHyperParameters"]
        x, n, kind = float(tuned["rate"]), int(tuned["count"]), json.loads(tuned["kind"])
        assert 0.01 <= x <= 1.0
        assert 1 <= n <= 5
        assert kind in ("a", "b", "c")
        # The trial is an ordinary training job, linked to its tuning job, that got these values.
        job = session.describe_training_job(summary["TrainingJobName"])
        assert job["TuningJobArn"].endswith(f"/{name}")
        assert job["HyperParameters"]["rate"] == tuned["rate"]
        assert json.loads(job["HyperParameters"]["steps"]) == 3  # the static ones too
        # The objective is the last value the regex captured, not the decoy numbers on the line.
        expected = (x * n + {"a": 0.0, "b": 0.5, "c": 1.0}[kind]) * 3 / 3
        assert summary["FinalHyperParameterTuningJobObjectiveMetric"] == {
            "Type": "Maximize",
            "MetricName": "score",
            "Value": pytest.approx(expected, abs=1e-5),
        }
    names_in_jobs_list = {j["TrainingJobName"] for j in session.client.list_training_jobs(limit=1000)}
    assert {s["TrainingJobName"] for s in summaries} <= names_in_jobs_list

    best = tuner.best_training_job()
    assert best == summaries[0]["TrainingJobName"]
    assert description["BestTrainingJob"]["TrainingJobName"] == best
    best_estimator = tuner.best_estimator()
    assert best_estimator.hyperparameters()["rate"] == summaries[0]["TunedHyperParameters"]["rate"]
    assert best_estimator.model_data.endswith(f"/{best}/output/model.tar.gz")

    frame = tuner.analytics().dataframe()
    assert list(frame["TrainingJobName"]) == sorted(s["TrainingJobName"] for s in summaries)
    assert {
        "rate",
        "count",
        "kind",
        "FinalObjectiveValue",
        "TrainingJobStatus",
        "TrainingElapsedTimeSeconds",
    } <= set(frame.columns)
    assert set(frame["kind"]) <= {"a", "b", "c"}  # tuned values decoded as the script saw them
    assert frame["FinalObjectiveValue"].max() == pytest.approx(values[0])

    attached = kiln.HyperparameterTuner.attach(name, sagemaker_session=session)
    assert attached.best_training_job() == best
    assert attached.strategy == "Random"
    assert attached.max_parallel_jobs == 2
    assert attached.hyperparameter_ranges() == tuner.hyperparameter_ranges()
    assert type(attached.estimator) is kiln.Estimator


def test_grid_runs_each_combination_once_and_never_more_trials_at_once_than_allowed(
    session: kiln.Session, tmp_path: Path
) -> None:
    source = write_source(tmp_path / "src")
    tuner = kiln.HyperparameterTuner(
        estimator(session, source, steps=2, pause=0.2),
        objective_metric_name="score",
        hyperparameter_ranges={
            "kind": kiln.CategoricalParameter(["x", "y"]),
            "count": kiln.CategoricalParameter([1, 2, 3]),
        },
        strategy="Grid",
        max_parallel_jobs=3,
    )
    tuner.fit(job_name=unique("tune-grid"), wait=False)
    description = wait_for_tuning_job(session, tuner.latest_tuning_job or "")
    assert description["HyperParameterTuningJobStatus"] == "Completed"
    assert (
        description["HyperParameterTuningJobConfig"]["ResourceLimits"].get("MaxNumberOfTrainingJobs") is None
    )
    summaries = trials(session, description["HyperParameterTuningJobName"])
    combos = sorted(
        (s["TunedHyperParameters"]["kind"], s["TunedHyperParameters"]["count"]) for s in summaries
    )
    assert combos == sorted((f'"{k}"', str(n)) for k in "xy" for n in (1, 2, 3))
    assert most_at_once(summaries) == 3  # three at once, never four


def test_failed_trials_are_counted_and_the_tuning_job_goes_on(session: kiln.Session, tmp_path: Path) -> None:
    source = write_source(
        tmp_path / "src",
        """
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument("--mode", type=str)
        args, _ = parser.parse_known_args()
        if args.mode == "crash":
            raise SystemExit("the data is bad")
        print("score=0.75" if args.mode == "ok" else "score: none", flush=True)
        """,
    )
    tuner = kiln.HyperparameterTuner(
        estimator(session, source),
        objective_metric_name="score",
        hyperparameter_ranges={"mode": kiln.CategoricalParameter(["ok", "crash", "silent"])},
        strategy="Grid",
        max_parallel_jobs=3,
    )
    tuner.fit(job_name=unique("tune-fail"), wait=False)
    description = wait_for_tuning_job(session, tuner.latest_tuning_job or "")
    assert description["HyperParameterTuningJobStatus"] == "Completed"
    assert description["TrainingJobStatusCounters"]["Completed"] == 2  # ok, and silent (no objective)
    assert description["TrainingJobStatusCounters"]["NonRetryableError"] == 1
    assert description["ObjectiveStatusCounters"] == {"Succeeded": 1, "Pending": 0, "Failed": 2}
    by_mode = {
        json.loads(s["TunedHyperParameters"]["mode"]): s
        for s in trials(session, description["HyperParameterTuningJobName"])
    }
    assert by_mode["crash"]["TrainingJobStatus"] == "Failed"
    assert "the data is bad" in by_mode["crash"]["FailureReason"]
    assert by_mode["silent"]["ObjectiveStatus"] == "Failed"
    assert "FailureReason" not in by_mode["ok"]
    assert "no log line matched" in by_mode["silent"]["FailureReason"]
    assert "(Regex 'score=([0-9.\\-]+)')" in by_mode["silent"]["FailureReason"]
    assert description["BestTrainingJob"]["TrainingJobName"] == by_mode["ok"]["TrainingJobName"]


def test_a_tuning_job_whose_every_trial_fails_fails_with_the_reason(
    session: kiln.Session, tmp_path: Path
) -> None:
    source = write_source(tmp_path / "src", 'raise RuntimeError("broken script")\n')
    tuner = kiln.HyperparameterTuner(
        estimator(session, source),
        objective_metric_name="score",
        hyperparameter_ranges={"rate": kiln.ContinuousParameter(0, 1)},
        strategy="Random",
        max_jobs=2,
        max_parallel_jobs=2,
    )
    with pytest.raises(UnexpectedStatusException, match="broken script") as raised:
        tuner.fit(job_name=unique("tune-allfail"))
    assert raised.value.actual_status == "Failed"
    assert "All 2 training jobs" in tuner.describe()["FailureReason"]


def test_a_tuning_job_whose_first_trials_all_fail_stops_early_and_fails(
    session: kiln.Session, tmp_path: Path
) -> None:
    source = write_source(tmp_path / "src", 'raise RuntimeError("broken script")\n')
    tuner = kiln.HyperparameterTuner(
        estimator(session, source),
        objective_metric_name="score",
        hyperparameter_ranges={"rate": kiln.ContinuousParameter(0, 1)},
        strategy="Random",
        max_jobs=20,
        max_parallel_jobs=2,
    )
    tuner.fit(job_name=unique("tune-failfast"), wait=False)
    description = wait_for_tuning_job(session, tuner.latest_tuning_job or "")
    assert description["HyperParameterTuningJobStatus"] == "Failed"
    assert description["FailureReason"].startswith("All ")
    assert 5 <= len(trials(session, description["HyperParameterTuningJobName"])) <= 7  # not all 20


def test_a_missing_objective_metric_is_refused_in_sagemakers_words(
    session: kiln.Session, tmp_path: Path
) -> None:
    source = write_source(tmp_path / "src")
    tuner = kiln.HyperparameterTuner(
        estimator(session, source),
        objective_metric_name="validation:accuracy",
        hyperparameter_ranges={"rate": kiln.ContinuousParameter(0.1, 1.0)},
        max_jobs=2,
    )
    name = unique("tune-nometric")
    with pytest.raises(ValidationError) as refused:
        tuner.fit(job_name=name)
    message = str(refused.value)
    assert message.startswith("A metric is required for this hyperparameter tuning job objective.")
    assert "'validation:accuracy'" in message
    assert "MetricDefinitions" in message
    assert "'score', 'loss'" in message  # what is defined, to pick from
    tuning = TuningClient(session.client)
    assert name not in {j["HyperParameterTuningJobName"] for j in tuning.list_tuning_jobs(limit=1000)}
    assert not any(
        j["TrainingJobName"].startswith(name) for j in session.client.list_training_jobs(limit=1000)
    )


@pytest.mark.parametrize(
    ("ranges", "strategy", "expected"),
    [
        (
            {"rate": kiln.ContinuousParameter(0.1, 1.0)},
            "Grid",
            "Grid strategy searches categorical ranges only",
        ),
        (
            {"rate": kiln.ContinuousParameter(0, 1.0, "Logarithmic")},
            "Random",
            "Logarithmic needs MinValue > 0",
        ),
        ({"rate": kiln.ContinuousParameter(0.5, 1.0, "ReverseLogarithmic")}, "Random", "MaxValue < 1"),
        (
            {"rate": kiln.IntegerParameter(1, 9, "ReverseLogarithmic")},
            "Random",
            "only supported for continuous",
        ),
    ],
)
def test_bad_settings_are_refused_with_the_value_and_the_fix(
    session: kiln.Session,
    tmp_path: Path,
    ranges: dict[str, kiln.ContinuousParameter],
    strategy: str,
    expected: str,
) -> None:
    job = estimator(session, write_source(tmp_path / "src"))
    tuner = kiln.HyperparameterTuner(job, "score", ranges, strategy=strategy, max_jobs=2)
    with pytest.raises(ValidationError, match=expected):
        tuner.fit(job_name=unique("tune-bad"))


def test_the_api_refuses_a_hyperparameter_that_is_both_static_and_tuned(session: kiln.Session) -> None:
    request = {
        "HyperParameterTuningJobName": unique("tune-static"),
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
            "ParameterRanges": {"IntegerParameterRanges": [{"Name": "steps", "MinValue": 1, "MaxValue": 9}]},
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {"steps": "3"},
            "AlgorithmSpecification": {"TrainingInputMode": "File", "MetricDefinitions": SCORE_METRICS},
            "OutputDataConfig": {"S3OutputPath": session.bucket_uri()},
            "ResourceConfig": {"InstanceType": "local", "InstanceCount": 1},
        },
    }
    with pytest.raises(ValidationError, match="'steps' is both static and tuned; remove it"):
        TuningClient(session.client).create_tuning_job(request)


def test_a_name_longer_than_32_characters_is_refused(session: kiln.Session, tmp_path: Path) -> None:
    tuner = kiln.HyperparameterTuner(
        estimator(session, write_source(tmp_path / "src")), "score", {"rate": kiln.ContinuousParameter(0, 1)}
    )
    with pytest.raises(ValidationError, match="1-32 letters"):
        tuner.fit(job_name="a" * 33)


def test_stopping_a_tuning_job_stops_its_trials(session: kiln.Session, tmp_path: Path) -> None:
    source = write_source(tmp_path / "src")
    tuner = kiln.HyperparameterTuner(
        estimator(session, source, steps=400, pause=0.1),
        objective_metric_name="score",
        hyperparameter_ranges={"rate": kiln.ContinuousParameter(0.1, 1.0)},
        strategy="Random",
        max_jobs=6,
        max_parallel_jobs=2,
    )
    tuner.fit(job_name=unique("tune-stop"), wait=False)
    name = tuner.latest_tuning_job or ""

    def both_trials_report() -> bool:
        described = TuningClient(session.client).describe_tuning_job(name)
        return described["TrainingJobStatusCounters"]["InProgress"] == 2 and all(
            session.client.training_job_metrics(t["TrainingJobName"]) for t in trials(session, name)
        )

    wait_until(both_trials_report, timeout=30)
    tuner.stop()
    described = tuner.describe()
    assert described["HyperParameterTuningJobStatus"] in ("Stopping", "Stopped")
    description = wait_for_tuning_job(session, name)
    assert description["HyperParameterTuningJobStatus"] == "Stopped"
    assert description["TrainingJobStatusCounters"]["Stopped"] == 2
    summaries = trials(session, name)
    assert len(summaries) == 2  # none started after the stop
    # A stopped trial counts with the best value it reached.
    assert all(s["ObjectiveStatus"] == "Succeeded" for s in summaries)
    assert tuner.best_training_job() in {s["TrainingJobName"] for s in summaries}
    with pytest.raises(Conflict, match="already ended"):
        tuner.stop()
