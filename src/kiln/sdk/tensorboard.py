"""TensorBoard over training jobs' summaries, refreshed while the jobs run.

Event files reach the artifact store while a job runs (the host uploads ``/opt/ml/output/tensorboard``).
This module mirrors them into a local folder through the API — appending only the new bytes, since
event files only grow and TensorBoard keeps them open — and serves that folder with the
``tensorboard`` package, one run per job.
"""

from __future__ import annotations

import atexit
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from kiln.errors import NotFound, ValidationError
from kiln.sdk.client import KilnClient

__all__ = ["TensorBoardSession", "tensorboard_uri"]

REFRESH_SECONDS = 2.0
START_TIMEOUT_SECONDS = 60.0
FIRST_PORT = 6006  # TensorBoard's own default, and where SageMaker's 2018 SDK looked first


def tensorboard_uri(description: dict[str, Any]) -> str:
    """Where a job's event files are stored (TensorBoardOutputConfig, else <output>/<job>/tensorboard)."""
    configured = (description.get("TensorBoardOutputConfig") or {}).get("S3OutputPath")
    if configured:
        return str(configured).rstrip("/")
    output = description["OutputDataConfig"]["S3OutputPath"].rstrip("/")
    return f"{output}/{description['TrainingJobName']}/tensorboard"


def _free_port(start: int) -> int:
    for port in range(start, start + 100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise ValidationError(f"no free port for TensorBoard between {start} and {start + 99}")


class TensorBoardSession:
    def __init__(
        self, client: KilnClient, job_names: list[str], *, port: int | None = None, logdir: Path | None = None
    ):
        if not job_names:
            raise ValidationError("name at least one training job to show in TensorBoard")
        self._client = client
        self._jobs = {name: tensorboard_uri(client.describe_training_job(name)) for name in job_names}
        self._own_dir = tempfile.TemporaryDirectory(prefix="kiln-tensorboard-") if logdir is None else None
        self.logdir = logdir or Path(self._own_dir.name)  # type: ignore[union-attr]
        self.port = port or _free_port(FIRST_PORT)
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._refresh_loop, name="kiln-tensorboard-sync", daemon=True)
        self._process: subprocess.Popen[bytes] | None = None

    def refresh(self) -> int:
        """Bring every job's local copy up to date; returns the number of files that grew."""
        grown = 0
        for job, uri in self._jobs.items():
            try:
                entries = self._client.list_artifacts(uri, recursive=True)
            except NotFound:
                continue  # no event file yet
            for entry in entries:
                if entry["IsFolder"]:
                    continue
                relative = entry["Uri"][len(uri) + 1 :]
                local = self.logdir / job / relative
                have = local.stat().st_size if local.exists() else 0
                if entry["Size"] <= have:
                    continue
                data = self._client.download(entry["Uri"])
                local.parent.mkdir(parents=True, exist_ok=True)
                with local.open("ab") as out:  # event files only grow: append what is new
                    out.write(data[have:])
                grown += 1
        return grown

    def _refresh_loop(self) -> None:
        while not self._stop.wait(REFRESH_SECONDS):
            try:
                self.refresh()
            except Exception as e:  # keep serving what is there; try again next time
                print(f"kiln tensorboard: refresh failed: {e}", file=sys.stderr)

    def start(self) -> str:
        self.logdir.mkdir(parents=True, exist_ok=True)
        for job in self._jobs:
            (self.logdir / job).mkdir(exist_ok=True)
        self.refresh()
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tensorboard.main",
                "--logdir",
                str(self.logdir),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--reload_interval",
                "1",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ValidationError(
                    "TensorBoard did not start; install it with `pip install tensorboard` (kiln[tensorboard])"
                )
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    break
            time.sleep(0.1)
        self._thread.start()
        atexit.register(self.stop)
        return self.url

    def stop(self) -> None:
        self._stop.set()
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        if self._own_dir is not None:
            self._own_dir.cleanup()
            self._own_dir = None
