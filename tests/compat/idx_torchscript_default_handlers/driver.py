# Notebook driver code for an MNIST-style example with IDX files; only the imports differ.
import gzip
import json
import os

import numpy as np

import kiln as sagemaker
from kiln.pytorch import PyTorch


def write_idx(path, array):
    """MNIST's IDX layout: zero, zero, type 0x08 (unsigned byte), the number of dimensions, sizes."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


# 8×8 images of a horizontal (label 0) or a vertical (label 1) bar, with noise.
rng = np.random.default_rng(3)
labels = rng.integers(0, 2, size=200)
images = rng.integers(0, 60, size=(200, 8, 8))
positions = rng.integers(1, 7, size=200)
for i, (label, position) in enumerate(zip(labels, positions, strict=True)):
    if label == 0:
        images[i, position, :] = 255
    else:
        images[i, :, position] = 255
os.makedirs("data/train", exist_ok=True)
write_idx("data/train/train-images-idx3-ubyte.gz", images)
write_idx("data/train/train-labels-idx1-ubyte.gz", labels)

sagemaker_session = sagemaker.Session()
bucket = sagemaker_session.default_bucket()
inputs = sagemaker_session.upload_data(path="data/train", bucket=bucket, key_prefix="DEMO-idx/train")

estimator = PyTorch(
    entry_point="mnist_like.py",
    source_dir="code",
    role=sagemaker.get_execution_role(),
    framework_version="2.3",
    py_version="py311",
    instance_count=1,
    instance_type="local",
    hyperparameters={"epochs": 40},
)
estimator.fit({"train": inputs})

test_images = (images[:8] / 255).astype(np.float32)
predictor = estimator.deploy(initial_instance_count=1, instance_type="local")
logits = predictor.predict(test_images)
print("logits shape:", json.dumps(list(logits.shape)))
print("argmax:", json.dumps(logits.argmax(axis=1).tolist()), "|", json.dumps(labels[:8].tolist()))

labelled = estimator.deploy(initial_instance_count=1, instance_type="local", entry_point="labels_only.py")
print("labels:", json.dumps(labelled.predict(test_images).tolist()))

for each in (predictor, labelled):
    each.delete_model()
    each.delete_endpoint()
