"""examples/builtin runs end to end against a server: each algorithm trained, tuned, deployed, asked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import RunningServer

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("xgboost")


@pytest.mark.slow
def test_the_builtin_example_runs(server: RunningServer) -> None:
    env = server.env()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples/builtin/builtin_algorithms.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    for line in ("XGBoost scores:", "Linear Learner:", "K-Means:", "PCA:"):
        assert line in result.stdout
    assert "best trial" in result.stdout
