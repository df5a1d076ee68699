"""A TuningStep runs an ordinary tuning job; a ModelStep after it takes the best trial's model through
``get_top_model_s3_uri`` (``TrainingJobSummaries[0].TrainingJobName``, best first)."""

from __future__ import annotations

from pathlib import Path

from tests.tuning.tuning_helpers import estimator, trials, write_source

import kiln
from kiln.workflow.model_step import ModelStep
from kiln.workflow.pipeline import Pipeline
from kiln.workflow.steps import TuningStep

SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def test_a_tuning_step_and_its_best_model(session: kiln.Session, tmp_path: Path) -> None:
    tuner = kiln.HyperparameterTuner(
        estimator(session, write_source(tmp_path / "src"), steps=1, pause=0.0),
        objective_metric_name="score",
        hyperparameter_ranges={"kind": kiln.CategoricalParameter(["a", "c"])},
        strategy="Grid",
        max_parallel_jobs=2,
    )
    tune = TuningStep("Tune", tuner=tuner)
    best = kiln.Model(
        model_data=tune.get_top_model_s3_uri(top_k=0, s3_bucket=session.bucket_uri()),  # type: ignore[arg-type]
        image_uri=SKLEARN_IMAGE,
        sagemaker_session=session,
    )
    pipeline = Pipeline(
        f"tuned-{tmp_path.name[-10:].replace('_', '-')}",
        steps=[tune, ModelStep("Best", model=best)],
        sagemaker_session=session,
    )
    pipeline.upsert()
    execution = pipeline.start()
    assert execution.wait()["PipelineExecutionStatus"] == "Succeeded"
    steps = {s["StepName"]: s for s in execution.list_steps()}
    tuning_job = steps["Tune"]["JobName"]
    assert len(tuning_job) <= 32
    assert steps["Tune"]["Metadata"]["TuningJob"]["Arn"].endswith(f"/{tuning_job}")
    summaries = trials(session, tuning_job)
    winner = max(summaries, key=lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
    assert winner["TunedHyperParameters"]["kind"] == '"c"'
    model = session.client.describe_model(steps["Best"]["JobName"])
    assert model["PrimaryContainer"]["ModelDataUrl"] == (
        f"{session.bucket_uri()}/{winner['TrainingJobName']}/output/model.tar.gz"
    )
