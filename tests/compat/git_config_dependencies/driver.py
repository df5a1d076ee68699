# Notebook driver code that trains from a git repository (git_config) with a shared library folder
# (dependencies); only the imports differ from SageMaker's. The repository is made here, locally.
import json
import os
import subprocess
import textwrap

import numpy as np

import kiln as sagemaker
from kiln.pytorch import PyTorch

FILES = {
    "lib/featurize/__init__.py": """
        import numpy as np

        def featurize(x):
            x = np.asarray(x, dtype=np.float32)
            return np.hstack([x, x ** 2])
    """,
    "training/train.py": """
        import argparse, os
        import numpy as np
        import torch
        from featurize import featurize

        def model_fn(model_dir):
            model = torch.nn.Linear(2, 1)
            model.load_state_dict(torch.load(os.path.join(model_dir, "model.pth")))
            return model.eval()

        def predict_fn(input_data, model):
            with torch.no_grad():
                return model(torch.from_numpy(featurize(input_data))).squeeze(1).numpy()

        if __name__ == "__main__":
            parser = argparse.ArgumentParser()
            parser.add_argument("--steps", type=int, default=300)
            args = parser.parse_args()
            data = np.loadtxt(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv"), delimiter=",", dtype=np.float32)
            x, y = torch.from_numpy(featurize(data[:, 1:])), torch.from_numpy(data[:, :1])
            model = torch.nn.Linear(2, 1)
            optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
            for _ in range(args.steps):
                optimizer.zero_grad()
                loss = torch.nn.functional.mse_loss(model(x), y)
                loss.backward()
                optimizer.step()
            print(f"git code trained: loss {loss.item():.4f}")
            torch.save(model.state_dict(), os.path.join(os.environ["SM_MODEL_DIR"], "model.pth"))
    """,
    "training/serve_negated.py": """
        from train import model_fn, predict_fn as original

        def predict_fn(input_data, model):
            return -original(input_data, model)
    """,
}
for path, text in FILES.items():
    os.makedirs(os.path.dirname(f"repo/{path}"), exist_ok=True)
    with open(f"repo/{path}", "w") as f:
        f.write(textwrap.dedent(text))
for command in (
    ["init", "-q", "-b", "main"],
    ["add", "."],
    ["-c", "user.name=n", "-c", "user.email=e@x", "commit", "-qm", "code"],
):
    subprocess.run(["git", *command], cwd="repo", check=True)

# y = x² − x, label first.
rng = np.random.default_rng(5)
x = rng.uniform(-2, 2, size=(256, 1)).astype(np.float32)
os.makedirs("data", exist_ok=True)
np.savetxt("data/train.csv", np.hstack([x**2 - x, x]), delimiter=",")

sagemaker_session = sagemaker.Session()
inputs = sagemaker_session.upload_data("data", key_prefix="DEMO-git/train")

estimator = PyTorch(
    entry_point="train.py",
    source_dir="training",
    dependencies=["lib/featurize"],
    git_config={"repo": "file://" + os.path.abspath("repo"), "branch": "main"},
    role=sagemaker.get_execution_role(),
    framework_version="2.3",
    py_version="py311",
    instance_count=1,
    instance_type="local",
    hyperparameters={"steps": 400},
)
estimator.fit({"train": inputs})

predictor = estimator.deploy(initial_instance_count=1, instance_type="local")
print(
    "predictions:",
    json.dumps(predictor.predict(np.array([[2.0], [-1.0]], dtype=np.float32)).round(1).tolist()),
)
negated = estimator.deploy(initial_instance_count=1, instance_type="local", entry_point="serve_negated.py")
print("negated:", json.dumps(negated.predict(np.array([[2.0], [-1.0]], dtype=np.float32)).round(1).tolist()))

for each in (predictor, negated):
    each.delete_model()
    each.delete_endpoint()
