"""Starting ``python -m kiln.runtime.serving`` on loopback, and building model directories for it.

Every serving test talks to a real instance process over HTTP, the way the Kiln server's proxy does.
"""

from __future__ import annotations

import contextlib
import io
import os
import selectors
import subprocess
import sys
import tarfile
import textwrap
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

SRC_DIR = Path(__file__).resolve().parents[3] / "src"
START_TIMEOUT_S = 60.0  # torch and scikit-learn imports take seconds on a loaded CI machine
# inference.py of a model whose folder holds factor.txt: it multiplies a JSON list by that factor.
FACTOR_HANDLERS = """
    import json

    def model_fn(model_dir):
        with open(f"{model_dir}/factor.txt") as f:
            return int(f.read())

    def input_fn(body, content_type):
        return json.loads(body)

    def predict_fn(data, factor):
        return [x * factor for x in data]

    def output_fn(prediction, accept):
        return json.dumps(prediction)
"""


@dataclass
class Instance:
    """A running (or finished) endpoint instance process."""

    process: subprocess.Popen[str]
    port: int | None
    stdout: str
    stderr_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0, **kwargs)  # type: ignore[arg-type]

    def post_concurrently(self, payloads: list[Any]) -> list[httpx.Response]:
        """POST each payload as JSON to /invocations, all at once from as many threads."""
        limits = httpx.Limits(max_connections=len(payloads))
        with (
            httpx.Client(base_url=self.url, timeout=60.0, limits=limits) as client,
            ThreadPoolExecutor(max_workers=len(payloads)) as pool,
        ):
            return list(pool.map(lambda payload: client.post("/invocations", json=payload), payloads))

    def stats(self) -> Any:
        return httpx.get(f"{self.url}/stats").json()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_instance(
    tmp_path: Path,
    model_dir: Path | None,
    model_data: Path | None = None,
    env: dict[str, str] | None = None,
    port: int = 0,
    extra_args: list[str] | None = None,
) -> Instance:
    """Start an instance and wait until it prints its ready line, or fails, or exits."""
    stderr_path = tmp_path / f"instance-{time.monotonic_ns()}.stderr"
    command = [sys.executable, "-m", "kiln.runtime.serving", "--port", str(port)]
    if model_dir is not None:  # None: the extra arguments say where the model comes from
        command += ["--model-dir", str(model_dir)]
    if model_data is not None:
        command += ["--model-data", str(model_data)]
    command += extra_args or []
    environment = {**os.environ, "PYTHONPATH": str(SRC_DIR), **(env or {})}
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=environment)
    assert process.stdout is not None
    lines: list[str] = []
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if not selector.select(timeout=0.5):
            continue
        line = process.stdout.readline()
        if not line:  # the process closed stdout: it exited
            process.wait(timeout=10)
            break
        lines.append(line)
        if line.startswith("KILN_SERVING_READY port="):
            selector.close()
            port = int(line.split("port=", 1)[1].split()[0])  # other fields may follow (ipc_port=)
            return Instance(process, port, "".join(lines), stderr_path)
        if line.startswith("KILN_SERVING_FAILED"):
            process.wait(timeout=10)
            break
    else:
        process.kill()
        process.wait()
        pytest.fail(f"instance did not start in {START_TIMEOUT_S:.0f} s:\n{stderr_path.read_text()}")
    selector.close()
    return Instance(process, None, "".join(lines), stderr_path)


@contextlib.contextmanager
def launcher(tmp_dir: Path) -> Iterator[Callable[..., Instance]]:
    """``launch(model_dir, ...)``: starts instances, and stops them all when the block ends.

    Test modules wrap this in their own module-scoped fixture (this folder has no conftest.py: its
    name would shadow the suite's root conftest, which other test folders import from).
    """
    started: list[Instance] = []

    def launch(model_dir: Path, **kwargs: Any) -> Instance:
        instance = start_instance(tmp_dir, model_dir, **kwargs)
        started.append(instance)
        return instance

    try:
        yield launch
    finally:
        for instance in started:
            instance.stop()


def write_module(directory: Path, source: str, name: str = "inference.py") -> Path:
    """``source`` (dedented) as ``code/<name>`` under ``directory``."""
    code = directory / "code"
    code.mkdir(parents=True, exist_ok=True)
    path = code / name
    path.write_text(textwrap.dedent(source))
    return path


def make_archive(source_dir: Path, archive: Path) -> Path:
    """``source_dir``'s contents as a model.tar.gz, paths relative to its root (SageMaker's layout)."""
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(source_dir.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(source_dir)), recursive=False)
    return archive


def tar_with_member(archive: Path, name: str, data: bytes = b"x", link_to: str | None = None) -> Path:
    """A tar.gz holding one member ``name`` (a symlink to ``link_to`` if given)."""
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo(name)
        if link_to is not None:
            info.type = tarfile.SYMTYPE
            info.linkname = link_to
            tar.addfile(info)
        else:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return archive
