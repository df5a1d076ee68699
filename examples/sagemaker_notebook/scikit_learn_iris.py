"""The training and inference script of SageMaker's scikit-learn Iris example, for its documented
contract: hyperparameters as arguments, the ``train`` channel and the model directory from the SM_*
variables, ``model.joblib`` saved by training and loaded by ``model_fn`` when the endpoint starts."""

import argparse
import os

import joblib
import pandas as pd
from sklearn import tree

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    # Hyperparameters sent by the client are passed as command-line arguments to the script.
    parser.add_argument("--max_leaf_nodes", type=int, default=-1)
    # SageMaker's environment: where the data is and where the model goes.
    parser.add_argument("--output-data-dir", type=str, default=os.environ["SM_OUTPUT_DATA_DIR"])
    parser.add_argument("--model-dir", type=str, default=os.environ["SM_MODEL_DIR"])
    parser.add_argument("--train", type=str, default=os.environ["SM_CHANNEL_TRAIN"])
    args = parser.parse_args()

    # Every CSV file of the channel, label first, no header.
    input_files = [os.path.join(args.train, name) for name in os.listdir(args.train)]
    if not input_files:
        raise ValueError(f"There are no files in {args.train}: the train channel holds no data")
    train_data = pd.concat([pd.read_csv(path, header=None, engine="python") for path in input_files])
    train_y = train_data.iloc[:, 0]
    train_x = train_data.iloc[:, 1:]

    clf = tree.DecisionTreeClassifier(max_leaf_nodes=args.max_leaf_nodes)
    clf = clf.fit(train_x, train_y)
    print(f"training accuracy: {clf.score(train_x, train_y):.3f}")
    joblib.dump(clf, os.path.join(args.model_dir, "model.joblib"))


def model_fn(model_dir):
    """Deserialize the fitted model: the endpoint calls this once, when it starts."""
    return joblib.load(os.path.join(model_dir, "model.joblib"))
