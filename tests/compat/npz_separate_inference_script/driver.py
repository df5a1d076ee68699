# Notebook driver code, as in the SageMaker PyTorch examples; only the imports differ.
import json
import os

import numpy as np

import kiln as sagemaker
from kiln.pytorch import PyTorch

session = sagemaker.Session()
role = sagemaker.get_execution_role()

# y = x0 * x1 + 0.5 on [-1, 1]²: saved as one .npz file.
rng = np.random.default_rng(1)
x = rng.uniform(-1, 1, size=(512, 2)).astype(np.float32)
y = (x[:, 0] * x[:, 1] + 0.5).astype(np.float32)
os.makedirs("data", exist_ok=True)
np.savez("data/train.npz", x=x, y=y)
inputs = session.upload_data(path="data", key_prefix="DEMO-npz")

estimator = PyTorch(
    entry_point="train.py",
    source_dir="code",
    role=role,
    framework_version="2.3",
    py_version="py311",
    instance_count=1,
    instance_type="ml.m5.large",
    hyperparameters={"hidden": 16, "steps": 300, "learning-rate": 0.05},
)
estimator.fit(inputs)

predictor = estimator.deploy(
    initial_instance_count=1, instance_type="ml.m5.large", entry_point="inference.py"
)
probe = np.array([[0.9, 0.9], [-0.9, 0.9], [0.0, 0.0]], dtype=np.float32)
print("predictions:", json.dumps(predictor.predict(probe).round(2).tolist()))

clipped = estimator.deploy(
    initial_instance_count=1, instance_type="local", entry_point="inference_clipped.py"
)
print("clipped:", json.dumps(clipped.predict(probe * 3).round(2).tolist()))

predictor.delete_endpoint()
clipped.delete_endpoint()
