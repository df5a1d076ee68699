"""A scikit-learn script in SageMaker's form: training under the main guard, ``model_fn`` for serving.
The features arrive as an .npy channel file, the labels as a CSV one."""

import argparse
import os

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--regularization", type=float, default=1.0)
    parser.add_argument("--model-dir", default=os.environ["SM_MODEL_DIR"])
    parser.add_argument("--train", default=os.environ["SM_CHANNEL_TRAIN"])
    args = parser.parse_args()
    x = np.load(os.path.join(args.train, "features.npy"))
    y = np.loadtxt(os.path.join(args.train, "labels.csv"), delimiter=",").astype(int)
    model = LogisticRegression(C=args.regularization).fit(x, y)
    print(f"training accuracy: {model.score(x, y):.3f}")
    joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))
