"""MNIST CNN from the Kiln tutorial in TensorFlow/Keras, as a SageMaker TensorFlow script-mode script.

Runs unchanged on SageMaker or Kiln (``sagemaker.tensorflow.TensorFlow`` or ``kiln.tensorflow.TensorFlow``):
data comes from the ``training`` channel (``SM_CHANNEL_TRAINING``) holding ``train.npz``,
``validation.npz`` and ``test.npz`` (written by ``prepare_data.py``); the model is exported as a
SavedModel to ``$SM_MODEL_DIR/1`` (the numeric version folder TF Serving loads); ``--model_dir`` (the
estimator's checkpoint location) receives the final checkpoint. Locally::

    python mnist_tf.py --data-dir data --sm-model-dir /tmp/model --model_dir /tmp/checkpoints

Model (as in the 2018 tutorial): input reshaped to 28x28x1; conv 5x5 32 "same" ReLU, max-pool 2x2/2;
conv 5x5 64 "same" ReLU, max-pool 2x2/2; dense 1024 ReLU; dropout 0.4 (training only); dense 10
logits. Softmax cross-entropy, Adam (learning rate 0.001), batch 100, pixels scaled to [0, 1].

Log lines for metric regexes: ``step=N loss=X`` while training, ``validation_accuracy=A
validation_loss=L`` and finally ``accuracy=A loss=L`` on the whole test set.

The SavedModel's ``serving_default`` signature takes float pixels in [0, 1] shaped (N, 28, 28) and
returns logits of shape (N, 10).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

IMAGE_SIZE = 28
NUM_CLASSES = 10
LOG_EVERY = 100


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train the tutorial MNIST CNN (SageMaker TensorFlow).")
    parser.add_argument("--training-steps", "--training_steps", type=int, default=1000)
    parser.add_argument("--batch-size", "--batch_size", type=int, default=100)
    parser.add_argument("--learning-rate", "--learning_rate", type=float, default=0.001)
    parser.add_argument("--dropout", type=float, default=0.4)
    parser.add_argument("--seed", type=int, default=0)
    # What SageMaker's TensorFlow estimator passes, and the SM_* defaults its documentation uses.
    parser.add_argument("--model_dir", type=str, default=None)
    parser.add_argument("--sm-model-dir", type=str, default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--data-dir", type=str, default=os.environ.get("SM_CHANNEL_TRAINING"))
    args, unknown = parser.parse_known_args()
    if unknown:
        print(f"mnist_tf: ignoring unknown arguments {unknown}", flush=True)
    if not args.data_dir or not args.sm_model_dir:
        parser.error("--data-dir and --sm-model-dir are required (or SM_CHANNEL_TRAINING, SM_MODEL_DIR)")
    return args


def build_model(tf: Any, dropout: float) -> Any:
    layers = tf.keras.layers
    return tf.keras.Sequential(
        [
            tf.keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE), name="images"),
            layers.Reshape((IMAGE_SIZE, IMAGE_SIZE, 1)),
            layers.Conv2D(32, 5, padding="same", activation="relu"),
            layers.MaxPooling2D(2, 2),
            layers.Conv2D(64, 5, padding="same", activation="relu"),
            layers.MaxPooling2D(2, 2),
            layers.Flatten(),
            layers.Dense(1024, activation="relu"),
            layers.Dropout(dropout),
            layers.Dense(NUM_CLASSES),
        ]
    )


def load_split(data_dir: str, split: str) -> tuple[Any, Any]:
    import numpy as np

    with np.load(Path(data_dir) / f"{split}.npz") as data:
        return (data["images"].astype("float32") / 255.0), data["labels"].astype("int64")


def main() -> int:
    args = parse_args()
    import tensorflow as tf

    tf.keras.utils.set_random_seed(args.seed)
    train_x, train_y = load_split(args.data_dir, "train")
    val_x, val_y = load_split(args.data_dir, "validation")
    test_x, test_y = load_split(args.data_dir, "test")
    print(f"mnist_tf: {len(train_x)} training images from {args.data_dir}", flush=True)

    model = build_model(tf, args.dropout)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(args.learning_rate),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    dataset = (
        tf.data.Dataset.from_tensor_slices((train_x, train_y))
        .shuffle(10_000, seed=args.seed)
        .repeat()
        .batch(args.batch_size)
        .prefetch(2)
    )

    class StepLog(tf.keras.callbacks.Callback):  # type: ignore[misc]
        def on_train_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
            step = batch + 1
            if step % LOG_EVERY == 0 or step == args.training_steps:
                print(f"step={step} loss={(logs or {}).get('loss', float('nan')):.4f}", flush=True)

    started = time.monotonic()
    model.fit(dataset, epochs=1, steps_per_epoch=args.training_steps, verbose=0, callbacks=[StepLog()])
    print(f"mnist_tf: trained {args.training_steps} steps in {time.monotonic() - started:.1f}s", flush=True)

    val_loss, val_accuracy = model.evaluate(val_x, val_y, batch_size=1000, verbose=0)
    print(f"validation_accuracy={val_accuracy:.4f} validation_loss={val_loss:.4f}", flush=True)
    test_loss, test_accuracy = model.evaluate(test_x, test_y, batch_size=1000, verbose=0)
    print(f"accuracy={test_accuracy:.4f} loss={test_loss:.4f}", flush=True)

    if args.model_dir:  # the estimator's model_dir: the checkpoint, as TF scripts on SageMaker keep it
        os.makedirs(args.model_dir, exist_ok=True)
        tf.train.Checkpoint(model=model).write(os.path.join(args.model_dir, "ckpt"))
    export_dir = os.path.join(args.sm_model_dir, "1")
    model.export(export_dir)  # a SavedModel with serving_default: (N, 28, 28) floats -> (N, 10) logits
    print(f"mnist_tf: exported the SavedModel to {export_dir}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
