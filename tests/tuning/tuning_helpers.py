"""What the tuning tests share: tiny trial scripts (plain Python, no torch) and ways to wait and look."""

from __future__ import annotations

import textwrap
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import kiln
from kiln.sdk.tuning_client import TuningClient

# Prints its arguments, then the objective among decoy numbers, so only the metric's regex finds it.
# (Hyperparameter names are longer than one letter: SageMaker passes those as -x, not --x.)
SCORE_SCRIPT = """
import argparse
import time

parser = argparse.ArgumentParser()
parser.add_argument("--rate", type=float, default=0.5)
parser.add_argument("--count", type=int, default=1)
parser.add_argument("--kind", type=str, default="a")
parser.add_argument("--steps", type=int, default=3)
parser.add_argument("--pause", type=float, default=0.02)
args, _ = parser.parse_known_args()
print(f"args rate={args.rate!r} count={args.count!r} kind={args.kind!r}", flush=True)
bonus = {"a": 0.0, "b": 0.5, "c": 1.0, "x": 0.0, "y": 0.25}.get(args.kind, 0.0)
for step in range(1, args.steps + 1):
    score = (args.rate * args.count + bonus) * step / args.steps
    print(f"step={step} loss=77.5 score={score:.6f} elapsed=12", flush=True)
    time.sleep(args.pause)
"""

SCORE_METRICS = [
    {"Name": "score", "Regex": r"score=([0-9.\-]+)"},
    {"Name": "loss", "Regex": r"loss=([0-9.]+)"},
]

TUNING_END_TIMEOUT = 60.0


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def write_source(folder: Path, body: str = SCORE_SCRIPT) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.py").write_text(textwrap.dedent(body))
    return folder


def estimator(session: kiln.Session, source: Path, **hyperparameters: Any) -> kiln.Estimator:
    return kiln.Estimator(
        "train.py",
        source_dir=str(source),
        hyperparameters=hyperparameters,
        metric_definitions=SCORE_METRICS,
        sagemaker_session=session,
    )


def wait_for_tuning_job(
    session: kiln.Session, name: str, timeout: float = TUNING_END_TIMEOUT
) -> dict[str, Any]:
    client = TuningClient(session.client)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        description = client.describe_tuning_job(name)
        if description["HyperParameterTuningJobStatus"] in ("Completed", "Failed", "Stopped"):
            return description
        time.sleep(0.1)
    raise AssertionError(f"tuning job {name} did not end within {timeout} s")


def trials(session: kiln.Session, name: str, **filters: Any) -> list[dict[str, Any]]:
    return TuningClient(session.client).list_training_jobs_for_tuning_job(name, **filters)


def when(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


def most_at_once(summaries: list[dict[str, Any]]) -> int:
    """The most trials that ran at the same moment (from CreationTime to TrainingEndTime)."""
    spans = [(when(s["CreationTime"]), when(s["TrainingEndTime"])) for s in summaries]
    return max(sum(1 for start, end in spans if start <= moment < end) for moment, _ in spans)
