# The driver code of SageMaker's "Iris Training and Prediction with Sagemaker Scikit-learn" notebook
# (amazon-sagemaker-examples, sagemaker-python-sdk/scikit_learn_iris), cell by cell. Only the three
# import lines differ from the notebook's: `sagemaker` became `kiln`.
import itertools
import os

import numpy as np
import pandas as pd
from sklearn import datasets

import kiln as sagemaker
from kiln import get_execution_role
from kiln.sklearn import SKLearn

# Set up the session, the role and an S3 prefix.
sagemaker_session = sagemaker.Session()
role = get_execution_role()
prefix = "Scikit-iris"

# Load the Iris data set (it ships with scikit-learn) and write it as CSV, label first.
iris = datasets.load_iris()
joined_iris = np.insert(iris.data, 0, iris.target, axis=1)
os.makedirs("./data", exist_ok=True)
np.savetxt("./data/iris.csv", joined_iris, delimiter=",", fmt="%1.1f, %1.3f, %1.3f, %1.3f, %1.3f")

# Upload the data for use by the training job.
WORK_DIRECTORY = "data"
train_input = sagemaker_session.upload_data(WORK_DIRECTORY, key_prefix="{}/{}".format(prefix, WORK_DIRECTORY))  # noqa: UP032

# Create the SKLearn estimator and train.
FRAMEWORK_VERSION = "1.2-1"
script_path = "scikit_learn_iris.py"
sklearn = SKLearn(
    entry_point=script_path,
    framework_version=FRAMEWORK_VERSION,
    instance_type="ml.c4.xlarge",
    role=role,
    sagemaker_session=sagemaker_session,
    hyperparameters={"max_leaf_nodes": 30},
)
sklearn.fit({"train": train_input})

# Deploy the model and make predictions on held-back rows.
predictor = sklearn.deploy(initial_instance_count=1, instance_type="ml.m5.xlarge")
shape = pd.read_csv("data/iris.csv", header=None)
a = [50 * i for i in range(3)]
b = [40 + i for i in range(10)]
indices = [i + j for i, j in itertools.product(a, b)]
test_data = shape.iloc[indices[:-1]]
test_X = test_data.iloc[:, 1:]  # noqa: N816  (the notebook's names)
test_y = test_data.iloc[:, 0]
print(predictor.predict(test_X.values))
print(test_y.values)

# Clean up.
sagemaker_session.delete_endpoint(endpoint_name=predictor.endpoint_name)
