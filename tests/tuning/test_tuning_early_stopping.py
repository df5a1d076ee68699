"""Early stopping ("Auto") stops a trial whose reported values are clearly worse; the next starts at once."""

from __future__ import annotations

import itertools
import statistics
from pathlib import Path

from tuning_helpers import trials, unique, wait_for_tuning_job, when, write_source

import kiln

# Each run claims the next number in RUNS_DIR; run 3 is clearly worse than the three before it.
RUN_SCRIPT = """
import argparse
import os
import time

parser = argparse.ArgumentParser()
parser.add_argument("--rate", type=float)
parser.add_argument("--runs-dir", type=str)
args, _ = parser.parse_known_args()
run = 0
while True:
    try:
        os.close(os.open(os.path.join(args.runs_dir, str(run)), os.O_CREAT | os.O_EXCL))
        break
    except FileExistsError:
        run += 1
bad = run == 3
steps = 60 if bad else 8
for step in range(1, steps + 1):
    score = 0.05 if bad else 0.8 + 0.01 * step
    print(f"run={run} step={step} score={score:.4f}", flush=True)
    time.sleep(0.1 if bad else 0.02)
"""


def test_a_clearly_worse_trial_is_stopped_early_and_counts_with_its_best_value(
    session: kiln.Session, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    estimator = kiln.Estimator(
        "train.py",
        source_dir=str(write_source(tmp_path / "src", RUN_SCRIPT)),
        hyperparameters={"runs-dir": str(runs)},
        metric_definitions=[{"Name": "score", "Regex": r"score=([0-9.]+)"}],
        sagemaker_session=session,
    )
    tuner = kiln.HyperparameterTuner(
        estimator,
        objective_metric_name="score",
        hyperparameter_ranges={"rate": kiln.ContinuousParameter(0.1, 1.0)},
        strategy="Random",
        max_jobs=5,
        max_parallel_jobs=1,
        early_stopping_type="Auto",
    )
    name = unique("tune-early")
    tuner.fit(job_name=name, wait=False)
    description = wait_for_tuning_job(session, name)

    assert description["HyperParameterTuningJobStatus"] == "Completed"
    assert description["TrainingJobStatusCounters"]["Completed"] == 4
    assert description["TrainingJobStatusCounters"]["Stopped"] == 1
    in_order = trials(session, name, sort_by="CreationTime", sort_order="Ascending")
    assert [t["EarlyStopped"] for t in in_order] == [False, False, False, True, False]
    stopped = in_order[3]
    assert stopped["TrainingJobStatus"] == "Stopped"
    assert stopped["ObjectiveStatus"] == "Succeeded"
    assert stopped["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == 0.05
    printed = session.client.training_job_metrics(stopped["TrainingJobName"])
    assert 2 <= len(printed) < 30  # judged after its first report, stopped long before its 60 steps
    assert all(t["TrainingJobStatus"] == "Completed" for i, t in enumerate(in_order) if i != 3)
    assert description["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == 0.88

    # With one trial at a time, each trial starts right after the previous one ends.
    gaps = [
        (when(later["CreationTime"]) - when(earlier["TrainingEndTime"])).total_seconds()
        for earlier, later in itertools.pairwise(in_order)
    ]
    assert all(gap >= 0 for gap in gaps)
    assert statistics.median(gaps) < 0.5
