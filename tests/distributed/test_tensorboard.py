"""fit(run_tensorboard_locally=True): TensorBoard serves the job's scalars, growing while it runs."""

from __future__ import annotations

import threading

import httpx
import pytest

import kiln
from conftest import wait_until

pytest.importorskip("tensorboard")

SUMMARY_SCRIPT = """
import os, time
from torch.utils.tensorboard import SummaryWriter

writer = SummaryWriter(log_dir="/opt/ml/output/tensorboard" if os.path.isdir("/opt/ml/output") else os.environ["SM_OUTPUT_DIR"] + "/tensorboard")
for step in range(100):
    writer.add_scalar("loss", 1.0 / (step + 1), step)
    writer.flush()
    time.sleep(0.5)  # 50 s in all: a loaded machine may take 20 s to start TensorBoard itself
writer.close()
print("done")
"""


def _scalar_points(url: str, run: str) -> int:
    try:
        answer = httpx.get(
            f"{url}/data/plugin/scalars/scalars", params={"tag": "loss", "run": run}, timeout=5
        )
    except httpx.HTTPError:
        return 0
    return len(answer.json()) if answer.status_code == 200 else 0


def test_tensorboard_scalars_grow_while_the_job_runs(session: kiln.Session, write_script) -> None:
    source = write_script(SUMMARY_SCRIPT)
    estimator = kiln.PyTorch("train.py", source_dir=str(source), sagemaker_session=session)
    fit = threading.Thread(target=estimator.fit, kwargs={"run_tensorboard_locally": True, "logs": False})
    fit.start()
    board = wait_until(lambda: estimator.tensorboard is not None and estimator.tensorboard, timeout=30)
    run = estimator.latest_training_job.name  # type: ignore[union-attr]

    def seen_while_running() -> int:
        points = _scalar_points(board.url, run)
        running = session.describe_training_job(run)["TrainingJobStatus"] == "InProgress"
        return points if points and running else 0

    early = wait_until(seen_while_running, timeout=60)
    fit.join(timeout=120)
    board.refresh()
    final = wait_until(lambda: (n := _scalar_points(board.url, run)) >= 100 and n, timeout=30)
    assert 0 < early < final == 100
    board.stop()
