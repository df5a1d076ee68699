# Notebook driver code for managed spot training with checkpoints; only the imports differ.
import json
import os

import numpy as np

import kiln as sagemaker
from kiln.pytorch import PyTorch

session = sagemaker.Session()
role = sagemaker.get_execution_role()

rng = np.random.default_rng(4)
x = rng.uniform(-1, 1, size=(128, 1)).astype(np.float32)
os.makedirs("data", exist_ok=True)
np.save("data/points.npy", np.hstack([x, 3 * x + 2]).astype(np.float32))
inputs = session.upload_data(path="data", key_prefix="DEMO-spot/data")
checkpoint_s3_uri = inputs.rsplit("/", 1)[0] + "/checkpoints"

estimator = PyTorch(
    entry_point="train_resumable.py",
    source_dir="code",
    role=role,
    framework_version="2.3",
    py_version="py311",
    instance_count=1,
    instance_type="local",
    use_spot_instances=True,
    max_run=600,
    max_wait=1200,
    checkpoint_s3_uri=checkpoint_s3_uri,
    hyperparameters={"epochs": 3},
)
estimator.fit({"training": inputs})

# The interrupted-and-restarted case: a new job on the same checkpoints carries on where they end.
estimator.set_hyperparameters(epochs=6)
estimator.fit({"training": inputs})
print("spot:", json.dumps(estimator.latest_training_job.describe()["SdkArguments"]))

predictor = estimator.deploy(initial_instance_count=1, instance_type="local")
print("predictions:", json.dumps(predictor.predict(np.array([0.0, 1.0], dtype=np.float32)).round(2).tolist()))

explained = estimator.deploy(initial_instance_count=1, instance_type="local", entry_point="serve_json.py")
print("pairs:", json.dumps(explained.predict(np.array([1.0], dtype=np.float32)).tolist()))

for each in (predictor, explained):
    each.delete_model()
    each.delete_endpoint()
