# Notebook driver code for distributed PyTorch training; only the imports differ from SageMaker's.
import json
import os

import numpy as np

import kiln as sagemaker
from kiln.pytorch import PyTorch

sagemaker_session = sagemaker.Session()
bucket = sagemaker_session.default_bucket()
role = sagemaker.get_execution_role()

# y = 2 a - b + 0.5 c + 1, label first and no header (SageMaker's CSV convention).
rng = np.random.default_rng(2)
x = rng.normal(size=(400, 3)).astype(np.float32)
y = x @ np.array([2.0, -1.0, 0.5], dtype=np.float32) + 1.0
os.makedirs("data", exist_ok=True)
np.savetxt("data/train.csv", np.column_stack([y, x]), delimiter=",", fmt="%.6f")
inputs = sagemaker_session.upload_data(
    path="data", bucket=bucket, key_prefix="sagemaker/DEMO-pytorch-distributed"
)

estimator = PyTorch(
    entry_point="train.py",
    source_dir="code",
    role=role,
    framework_version="2.3",
    py_version="py311",
    instance_count=2,
    instance_type="local",
    hyperparameters={"epochs": 150, "backend": "gloo"},
)
estimator.fit({"training": inputs})

predictor = estimator.deploy(initial_instance_count=1, instance_type="local")
probe = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 2.0]], dtype=np.float32)
print("predictions:", json.dumps(predictor.predict(probe).round(2).tolist()))

rounded = estimator.deploy(initial_instance_count=1, instance_type="local", entry_point="serve_rounded.py")
print("rounded:", json.dumps(rounded.predict(probe).tolist()))

for each in (predictor, rounded):
    each.delete_model()
    each.delete_endpoint()
