# Notebook driver code, as in the SageMaker PyTorch examples; only the two imports differ.
import json
import os

import numpy as np

import kiln as sagemaker
from kiln.pytorch import PyTorch

sagemaker_session = sagemaker.Session()
bucket = sagemaker_session.default_bucket()
prefix = "sagemaker/DEMO-pytorch-npy"
role = sagemaker.get_execution_role()

# Three well-separated classes in four dimensions.
rng = np.random.default_rng(0)
centers = np.array([[3, 0, 0, 0], [0, 3, 0, 0], [0, 0, 3, 0]], dtype=np.float32)
labels = rng.integers(0, 3, size=300)
features = (centers[labels] + rng.normal(scale=0.5, size=(300, 4))).astype(np.float32)
for channel, rows in (("train", slice(0, 240)), ("test", slice(240, 300))):
    os.makedirs(f"data/{channel}", exist_ok=True)
    np.save(f"data/{channel}/features.npy", features[rows])
    np.save(f"data/{channel}/labels.npy", labels[rows])
train_input = sagemaker_session.upload_data(path="data/train", bucket=bucket, key_prefix=f"{prefix}/train")
test_input = sagemaker_session.upload_data(path="data/test", bucket=bucket, key_prefix=f"{prefix}/test")

estimator = PyTorch(
    entry_point="train.py",
    source_dir="code",
    role=role,
    framework_version="2.3",
    py_version="py311",
    instance_count=1,
    instance_type="local",
    hyperparameters={"epochs": 60, "lr": 0.5},
)
estimator.fit({"train": train_input, "test": test_input}, logs=False)
estimator.logs()

predictor = estimator.deploy(initial_instance_count=1, instance_type="local")
predicted = predictor.predict(features[240:250])
print("classes:", json.dumps(predicted.tolist()), "|", json.dumps(labels[240:250].tolist()))

# The same model with other inference code: a second deploy gets a model and endpoint of its own.
probabilities = estimator.deploy(
    initial_instance_count=1, instance_type="local", entry_point="serve_probabilities.py"
)
answer = probabilities.predict(features[240:250])
print(
    "probabilities shape:",
    json.dumps(list(answer.shape)),
    "|",
    json.dumps(bool(np.allclose(answer.sum(axis=1), 1))),
)
print("endpoints:", json.dumps(predictor.endpoint_name), "|", json.dumps(probabilities.endpoint_name))

for each in (predictor, probabilities):
    each.delete_model()
    each.delete_endpoint()
