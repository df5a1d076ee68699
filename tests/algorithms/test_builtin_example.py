"""examples/builtin runs end to end against a server: each algorithm trained, tuned, deployed, asked,
batch-scored, and its batch output checked against the endpoint's answers."""

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
    print(result.stdout)  # the example's summary, shown with -s
    for line in ("XGBoost scores:", "Linear Learner:", "K-Means:", "PCA:"):
        assert line in result.stdout
    assert result.stdout.count("best trial") == 4
    summaries = {line.split(" batch:")[0]: line for line in result.stdout.splitlines() if " batch: " in line}
    assert set(summaries) == {"XGBoost", "Linear Learner", "K-Means", "PCA"}, result.stdout[-3000:]
    assert "143 rows scored" in summaries["XGBoost"]  # the held-out quarter of 569 rows, one line each
    assert "equal to the endpoint's: True" in summaries["Linear Learner"]
    assert "equal to the endpoint's: True" in summaries["K-Means"]
    for line in summaries.values():  # batch and endpoint agree to float32 input rounding
        assert float(line.rsplit("= ", 1)[1]) < 1e-3, line
