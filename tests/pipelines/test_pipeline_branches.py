"""A pipeline whose Condition step reads a processing step's evaluation.json (Std:JsonGet on a
PropertyFile) takes the branch its parameters decide: a training step that reads the processing
step's output, or a Fail step whose message ends the execution."""

from __future__ import annotations

from pathlib import Path

from pipeline_support import (
    create_pipeline,
    definition,
    join,
    output_uri,
    pipeline_jobs,
    processing_step,
    start,
    steps,
    unique,
    upload_code,
    wait_for_execution,
)

import kiln

EVALUATE = """
    import json, os
    os.makedirs("/opt/ml/processing/output/evaluation", exist_ok=True)
    score = float(os.environ["SCORE"])
    with open("/opt/ml/processing/output/evaluation/evaluation.json", "w") as out:
        json.dump({"metrics": {"accuracy": {"value": score}}}, out)
"""

TRAIN = """
    import json, os
    report = json.load(open("/opt/ml/input/data/report/evaluation.json"))
    print("accuracy seen", report["metrics"]["accuracy"]["value"], flush=True)
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as out:
        json.dump(report, out)
"""


def _training_arguments(session: kiln.Session, source: Path) -> dict[str, object]:
    """What SageMaker's TrainingStep emits: the estimator's CreateTrainingJob request, less its name."""
    estimator = kiln.Estimator("train.py", source_dir=str(source), sagemaker_session=session)
    request = estimator.build_training_request(
        {"report": kiln.TrainingInput(output_uri("Evaluate", "evaluation"))}  # type: ignore[arg-type]
    )
    request.pop("TrainingJobName")
    return request


def _pipeline(session: kiln.Session, name: str, source: Path) -> str:
    code = upload_code(session, name, EVALUATE)
    report = {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"}
    evaluate = processing_step(
        "Evaluate",
        code,
        outputs=["evaluation"],
        output_root=f"{session.bucket_uri()}/{name}",
        environment={"SCORE": join({"Get": "Parameters.Score"}, on="")},
        PropertyFiles=[
            {
                "PropertyFileName": "EvaluationReport",
                "OutputName": "evaluation",
                "FilePath": "evaluation.json",
            }
        ],
    )
    check = {
        "Name": "Check",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [
                {
                    "Type": "GreaterThanOrEqualTo",
                    "LeftValue": {"Std:JsonGet": {"PropertyFile": report, "Path": "metrics.accuracy.value"}},
                    "RightValue": {"Get": "Parameters.Threshold"},
                }
            ],
            "IfSteps": [
                {"Name": "Train", "Type": "Training", "Arguments": _training_arguments(session, source)}
            ],
            "ElseSteps": [
                {
                    "Name": "TooLow",
                    "Type": "Fail",
                    "Arguments": {
                        "ErrorMessage": join("accuracy below", {"Get": "Parameters.Threshold"}, on=" ")
                    },
                }
            ],
        },
    }
    parameters = [
        {"Name": "Score", "Type": "Float", "DefaultValue": 0.9},
        {"Name": "Threshold", "Type": "Float", "DefaultValue": 0.5},
    ]
    create_pipeline(session, name, definition([evaluate, check], parameters))
    return name


def test_the_condition_takes_each_branch_on_its_parameters(session: kiln.Session, write_script) -> None:  # type: ignore[no-untyped-def]
    name = _pipeline(session, unique("branches"), write_script(TRAIN))

    taken = start(session, name)  # defaults: 0.9 ≥ 0.5
    described = wait_for_execution(session, taken)
    assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
    listed = steps(session, taken)
    assert list(listed) == ["Evaluate", "Check", "Train"]
    assert listed["Check"]["Metadata"] == {"Condition": {"Outcome": "True"}}
    assert all(s["StepStatus"] == "Succeeded" for s in listed.values())
    job = session.client.describe_training_job(listed["Train"]["JobName"])
    assert job["TrainingJobStatus"] == "Completed"
    assert job["TrainingJobName"].startswith(f"pipelines-{taken}-Train-")
    assert job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == (
        f"{session.bucket_uri()}/{name}/{taken}/Evaluate/evaluation"
    )

    refused = start(session, name, Threshold=0.95)
    described = wait_for_execution(session, refused)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert described["FailureReason"] == "Step 'TooLow' failed with message: accuracy below 0.95"
    listed = steps(session, refused)
    assert list(listed) == ["Evaluate", "Check", "TooLow"]
    assert listed["Check"]["Metadata"] == {"Condition": {"Outcome": "False"}}
    assert listed["TooLow"]["Metadata"] == {"Fail": {"ErrorMessage": "accuracy below 0.95"}}
    assert len(pipeline_jobs(session, refused)) == 1  # Evaluate only; no training job
