"""Small models the serving tests build on the fly (no downloads), saved the way users save theirs."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

MNIST_SHAPE = (28, 28)


def build_cnn(model_dir: Path) -> Any:
    """A CNN that, like the tutorial's MNIST network, reshapes any input to (-1, 1, 28, 28).

    It is saved as TorchScript ``model.pt``; the eager module comes back for computing expectations.
    Big enough (≈1 ms a forward on one core) that concurrent requests queue up and get batched.
    """
    import torch

    class Cnn(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = torch.nn.Conv2d(1, 16, 5, padding=2)
            self.conv2 = torch.nn.Conv2d(16, 32, 5, padding=2)
            self.fc = torch.nn.Linear(32 * 7 * 7, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x.reshape(-1, 1, 28, 28)
            x = torch.max_pool2d(torch.relu(self.conv1(x)), 2, 2)
            x = torch.max_pool2d(torch.relu(self.conv2(x)), 2, 2)
            return self.fc(x.flatten(1))

    torch.manual_seed(0)
    net = Cnn().eval()
    model_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # TorchScript is deprecated upstream, yet it is what SageMaker serves
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(net), str(model_dir / "model.pt"))
    return net


def build_forest(model_dir: Path) -> tuple[Any, Any]:
    """A scikit-learn random forest on the iris data that ships with scikit-learn, as model.joblib."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    features, labels = load_iris(return_X_y=True)
    model = RandomForestClassifier(n_estimators=30, random_state=0).fit(features, labels)
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / "model.joblib")
    return model, features
