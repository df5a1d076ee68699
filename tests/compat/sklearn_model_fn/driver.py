# Notebook driver code for a scikit-learn script with model_fn; only the imports differ from SageMaker's.
import json
import os

import numpy as np

import kiln as sagemaker
from kiln.sklearn import SKLearn

sagemaker_session = sagemaker.Session()
role = sagemaker.get_execution_role()

rng = np.random.default_rng(6)
x = rng.normal(size=(200, 2)).astype(np.float32)
y = (x[:, 0] + x[:, 1] > 0).astype(int)
os.makedirs("data", exist_ok=True)
np.save("data/features.npy", x)
np.savetxt("data/labels.csv", y, fmt="%d")
train_input = sagemaker_session.upload_data("data", key_prefix="DEMO-sklearn/train")

sklearn = SKLearn(
    entry_point="train.py",
    source_dir="code",
    framework_version="1.4-2",
    py_version="py3",
    instance_type="local",
    role=role,
    hyperparameters={"regularization": 10.0},
)
sklearn.fit({"train": train_input})

probe = np.array([[2.0, 2.0], [-2.0, -2.0]], dtype=np.float32)
predictor = sklearn.deploy(initial_instance_count=1, instance_type="local")
print("classes:", json.dumps(predictor.predict(probe).tolist()))

probabilities = sklearn.deploy(
    initial_instance_count=1, instance_type="local", entry_point="probabilities.py"
)
print("probabilities:", json.dumps(probabilities.predict(probe).round(2).tolist()))

for each in (predictor, probabilities):
    each.delete_model()
    each.delete_endpoint()
