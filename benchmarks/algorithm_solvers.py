"""Which solver the built-in algorithms should run on: the timings behind docs/algorithms.md.

Linear Learner's binary problem (rows × features, two Gaussian classes) fitted by scikit-learn's
L-BFGS logistic regression (Kiln's choice), scikit-learn's SGD for ``epochs`` passes, and PyTorch's
Adam over mini-batches of 1000 (SageMaker's own shape); K-Means by a full Lloyd's run with 10
k-means++ restarts against mini-batch k-means (SageMaker's first stage, Kiln's choice). Wall time and
training accuracy, in process, one thread for PyTorch.

    python benchmarks/algorithm_solvers.py [--rows 100000] [--features 50] [--epochs 15]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def timed(fit: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fit()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--skip-lloyd", action="store_true", help="leave out the slow full Lloyd's run")
    args = parser.parse_args()
    from sklearn.cluster import KMeans, MiniBatchKMeans
    from sklearn.linear_model import LogisticRegression, SGDClassifier

    rng = np.random.default_rng(0)
    n, d = args.rows, args.features
    y = rng.integers(0, 2, n).astype(float)
    x = rng.normal(size=(n, d)) + np.outer(y * 2 - 1, np.r_[1.0, np.zeros(d - 1)])
    x = (x - x.mean(0)) / x.std(0)

    seconds, model = timed(lambda: LogisticRegression(C=1e4, max_iter=300).fit(x, y))
    print(f"linear learner, L-BFGS (Kiln)        {seconds:7.2f} s  accuracy {model.score(x, y):.4f}")
    seconds, model = timed(lambda: SGDClassifier(loss="log_loss", max_iter=args.epochs, tol=None).fit(x, y))
    label = f"linear learner, SGD {args.epochs} epochs"
    print(f"{label:<37}{seconds:7.2f} s  accuracy {model.score(x, y):.4f}")
    try:
        import torch
    except ImportError:
        print("linear learner, PyTorch: torch is not installed")
    else:
        torch.set_num_threads(1)

        def torch_fit() -> float:
            features = torch.tensor(x, dtype=torch.float32)
            labels = torch.tensor(y, dtype=torch.float32)
            layer = torch.nn.Linear(d, 1)
            optimizer = torch.optim.Adam(layer.parameters(), lr=0.01)
            for _ in range(args.epochs):
                for i in range(0, n, 1000):
                    optimizer.zero_grad()
                    logits = layer(features[i : i + 1000]).squeeze(1)
                    torch.nn.functional.binary_cross_entropy_with_logits(
                        logits, labels[i : i + 1000]
                    ).backward()
                    optimizer.step()
            return float(((layer(features).squeeze(1) > 0).float() == labels).float().mean())

        seconds, accuracy = timed(torch_fit)
        print(f"linear learner, PyTorch Adam mb1000  {seconds:7.2f} s  accuracy {accuracy:.4f}")

    points = rng.normal(size=(n, 20))
    if not args.skip_lloyd:
        seconds, _ = timed(lambda: KMeans(10, n_init=10, random_state=0).fit(points))
        print(f"k-means, full Lloyd's ×10 restarts   {seconds:7.2f} s")
    seconds, _ = timed(lambda: MiniBatchKMeans(10, batch_size=5000, n_init=3, random_state=0).fit(points))
    print(f"k-means, mini-batch (Kiln)           {seconds:7.2f} s")


if __name__ == "__main__":
    main()
