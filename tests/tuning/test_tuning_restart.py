"""A tuning job survives server restarts: killed (SIGKILL) or stopped (SIGTERM) mid-tuning, the next
server resumes the Optuna study from Kiln's database and finishes the job, each trial run exactly once."""

from __future__ import annotations

import signal
from pathlib import Path
from urllib.parse import urlparse

from tuning_helpers import estimator, trials, unique, wait_for_tuning_job, write_source

import kiln
from conftest import RunningServer, start_server, wait_until
from kiln.metadata import Database, tuning_journal
from kiln.metadata import tuning_jobs as tuning_rows

TRIALS = 3


def restart(server: RunningServer, sig: signal.Signals) -> RunningServer:
    """Stop the server with ``sig`` and start another on the same home and port (running trials keep
    reporting to that address)."""
    port = urlparse(server.url).port
    server.stop(sig)
    return start_server(server.home, extra_env={"KILN_PORT": str(port)})


def test_a_tuning_job_survives_a_killed_and_a_stopped_server(tmp_path: Path) -> None:
    server = start_server(tmp_path / "home")
    name = unique("tune-restart")
    try:
        session = server.session()
        tuner = kiln.HyperparameterTuner(
            estimator(session, write_source(tmp_path / "src"), steps=4, pause=0.15),
            objective_metric_name="score",
            hyperparameter_ranges={
                "rate": kiln.ContinuousParameter(0.1, 1.0),
                "kind": kiln.CategoricalParameter(["a", "b", "c"]),
            },
            strategy="Bayesian",
            max_jobs=TRIALS,
            max_parallel_jobs=1,
            random_seed=5,
        )
        tuner.fit(job_name=name, wait=False)

        wait_until(lambda: len(trials(session, name)) >= 2, timeout=30)
        server = restart(server, signal.SIGKILL)  # mid-trial, no chance to clean up
        session = server.session()
        wait_until(lambda: len(trials(session, name)) >= TRIALS, timeout=30)
        server = restart(server, signal.SIGTERM)  # mid-trial again, the last one
        session = server.session()

        description = wait_for_tuning_job(session, name, timeout=90)
        assert description["HyperParameterTuningJobStatus"] == "Completed"
        assert description["TrainingJobStatusCounters"]["Completed"] == TRIALS
        summaries = trials(session, name, sort_by="CreationTime", sort_order="Ascending")
        assert [s["TrainingJobName"][len(name) + 1 : len(name) + 4] for s in summaries] == [
            "001",
            "002",
            "003",
        ]
        assert all(s["ObjectiveStatus"] == "Succeeded" for s in summaries)
        assert (
            len({s["TunedHyperParameters"]["rate"] for s in summaries}) == TRIALS
        )  # no trial proposed twice
        # One training job per trial: none was started twice, none was lost.
        jobs = [j["TrainingJobName"] for j in session.client.list_training_jobs(limit=1000)]
        assert sorted(j for j in jobs if j.startswith(name)) == sorted(
            s["TrainingJobName"] for s in summaries
        )
        best = description["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        assert best == max(s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in summaries)
    finally:
        server.stop()

    # The study itself lives in Kiln's database: its journal holds every trial, complete.
    db = Database(f"sqlite:///{tmp_path / 'home' / 'kiln.db'}")
    entries = tuning_journal.list_journal_entries(db, tuning_rows.tuning_job_id(db, name))
    created = [e for e in entries if e["op_code"] == 4]  # Optuna's CREATE_TRIAL
    assert len(created) == TRIALS
    db.dispose()
