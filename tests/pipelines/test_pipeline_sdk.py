"""``kiln.workflow`` as SageMaker's ``sagemaker.workflow`` is used: parameters, a ScriptProcessor step
with a PropertyFile, a ConditionStep on JsonGet, a TrainingStep reading the processing step's output,
a ModelStep on the training step's model artifacts, a FailStep; upsert, start, wait, list_steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import kiln
from kiln.errors import UnexpectedStatusException
from kiln.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
from kiln.workflow.condition_step import ConditionStep
from kiln.workflow.conditions import ConditionGreaterThanOrEqualTo
from kiln.workflow.fail_step import FailStep
from kiln.workflow.functions import Join, JsonGet
from kiln.workflow.model_step import ModelStep
from kiln.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
from kiln.workflow.pipeline import Pipeline
from kiln.workflow.properties import PropertyFile
from kiln.workflow.steps import CacheConfig, ProcessingStep, TrainingStep

SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"

EVALUATE = """
import json, os, sys
os.makedirs("/opt/ml/processing/evaluation", exist_ok=True)
with open("/opt/ml/processing/evaluation/evaluation.json", "w") as out:
    json.dump({"metrics": {"accuracy": {"value": float(sys.argv[sys.argv.index("--score") + 1])}}}, out)
"""

TRAIN = """
import json, os
report = json.load(open("/opt/ml/input/data/report/evaluation.json"))
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as out:
    json.dump(report, out)
"""


def _pipeline(session: kiln.Session, tmp_path: Path, name: str) -> Pipeline:
    (tmp_path / "evaluate.py").write_text(EVALUATE)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(TRAIN)
    score = ParameterString("Score", default_value="0.9")
    threshold = ParameterFloat("Threshold", default_value=0.5)
    epochs = ParameterInteger("Epochs", default_value=3)
    processor = ScriptProcessor(
        image_uri=SKLEARN_IMAGE,
        command=["python3"],
        instance_type="local",
        instance_count=1,
        sagemaker_session=session,
    )
    report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        "Evaluate",
        processor=processor,
        code=str(tmp_path / "evaluate.py"),
        outputs=[ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation")],
        job_arguments=["--score", score],
        property_files=[report],
        cache_config=CacheConfig(enable_caching=True, expire_after="PT1H"),
    )
    estimator = kiln.Estimator(
        "train.py",
        source_dir=str(tmp_path / "src"),
        hyperparameters={"epochs": epochs},
        sagemaker_session=session,
    )
    train = TrainingStep(
        "Train",
        estimator=estimator,
        inputs={
            "report": kiln.TrainingInput(
                evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri  # type: ignore[arg-type]
            )
        },
    )
    model = kiln.Model(
        model_data=train.properties.ModelArtifacts.S3ModelArtifacts,  # type: ignore[arg-type]
        image_uri=SKLEARN_IMAGE,
        sagemaker_session=session,
    )
    register = ModelStep("Register", model=model)
    check = ConditionStep(
        "Check",
        conditions=[
            ConditionGreaterThanOrEqualTo(
                left=JsonGet(
                    step_name=evaluate.name, property_file=report, json_path="metrics.accuracy.value"
                ),
                right=threshold,
            )
        ],
        if_steps=[train, register],
        else_steps=[FailStep("TooLow", error_message=Join(on=" ", values=["accuracy below", threshold]))],
    )
    return Pipeline(
        name, parameters=[score, threshold, epochs], steps=[evaluate, check], sagemaker_session=session
    )


def test_a_pipeline_built_with_kiln_workflow_runs(session: kiln.Session, tmp_path: Path) -> None:
    name = f"sdk-{tmp_path.name[-12:].replace('_', '-')}"
    pipeline = _pipeline(session, tmp_path, name)
    document = json.loads(pipeline.definition())
    assert document["Version"] == "2020-12-01"
    assert document["Parameters"] == [
        {"Name": "Score", "Type": "String", "DefaultValue": "0.9"},
        {"Name": "Threshold", "Type": "Float", "DefaultValue": 0.5},
        {"Name": "Epochs", "Type": "Integer", "DefaultValue": 3},
    ]
    evaluate = document["Steps"][0]
    assert "ProcessingJobName" not in evaluate["Arguments"]
    assert evaluate["Arguments"]["AppSpecification"]["ContainerArguments"] == [
        "--score",
        {"Get": "Parameters.Score"},
    ]
    assert evaluate["PropertyFiles"] == [
        {"PropertyFileName": "EvaluationReport", "OutputName": "evaluation", "FilePath": "evaluation.json"}
    ]
    condition = document["Steps"][1]["Arguments"]["Conditions"][0]
    assert condition["LeftValue"] == {
        "Std:JsonGet": {
            "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
            "Path": "metrics.accuracy.value",
        }
    }
    train = document["Steps"][1]["Arguments"]["IfSteps"][0]
    assert train["Arguments"]["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == {
        "Get": "Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"
    }

    # A step's property as a processing input's source (SageMaker's evaluate-the-model idiom).
    model_data = {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    scorer = ScriptProcessor(
        image_uri=SKLEARN_IMAGE, command=["python3"], instance_type="local", sagemaker_session=session
    )
    score_step = ProcessingStep(
        "Score",
        processor=scorer,
        code=str(tmp_path / "evaluate.py"),
        inputs=[
            ProcessingInput(
                source=pipeline.steps[1].if_steps[0].properties.ModelArtifacts.S3ModelArtifacts,
                destination="/opt/ml/processing/model",
            )
        ],  # type: ignore[attr-defined]
    )
    assert score_step.to_request()["Arguments"]["ProcessingInputs"][0]["S3Input"]["S3Uri"] == model_data

    pipeline.upsert(role_arn="arn:aws:iam::000000000000:role/SageMakerRole")
    pipeline.upsert(description="the same pipeline again: an update")
    assert pipeline.describe()["PipelineDescription"] == "the same pipeline again: an update"

    execution = pipeline.start()
    assert execution.wait()["PipelineExecutionStatus"] == "Succeeded"
    steps = {s["StepName"]: s for s in execution.list_steps()}
    assert set(steps) == {"Evaluate", "Check", "Train", "Register"}
    registered = session.client.describe_model(
        steps["Register"]["Metadata"]["Model"]["Arn"].rsplit("/", 1)[-1]
    )
    trained = session.client.describe_training_job(steps["Train"]["JobName"])
    assert registered["PrimaryContainer"]["ModelDataUrl"] == trained["ModelArtifacts"]["S3ModelArtifacts"]
    assert trained["HyperParameters"]["epochs"] == "3"  # the parameter, joined into a string

    refused = pipeline.start(parameters={"Score": "0.2"})
    with pytest.raises(
        UnexpectedStatusException, match=r"Step 'TooLow' failed with message: accuracy below 0\.5"
    ):
        refused.wait()
    assert {s["StepName"] for s in refused.list_steps()} == {"Evaluate", "Check", "TooLow"}
