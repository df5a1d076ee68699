"""Shared fixtures: a real Kiln server on loopback with its own KILN_HOME, and the in-process app.

The server fixture is per test session (starting one costs a second or two); tests that restart
or stop a server start their own with ``start_server``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

import kiln
from kiln.sdk.client import KilnClient

SERVER_START_TIMEOUT = 60.0


@dataclass
class RunningServer:
    url: str
    home: Path
    process: subprocess.Popen[bytes]
    token: str | None = None

    def env(self) -> dict[str, str]:
        """The environment a client program of this server runs with."""
        env = dict(os.environ)
        env["KILN_HOME"] = str(self.home)
        env["KILN_URL"] = self.url
        if self.token:
            env["KILN_API_TOKEN"] = self.token
        else:
            env.pop("KILN_API_TOKEN", None)
        return env

    def session(self) -> kiln.Session:
        return kiln.Session(self.url, token=self.token)

    def client(self) -> KilnClient:
        return KilnClient(self.url, token=self.token)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(
    home: Path, *, extra_env: dict[str, str] | None = None, token: str | None = None
) -> RunningServer:
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.pop("KILN_URL", None)
    env["KILN_HOME"] = str(home)
    env["KILN_STOP_GRACE_SECONDS"] = env.get("KILN_STOP_GRACE_SECONDS", "5")
    if token:
        env["KILN_API_TOKEN"] = token
    else:
        env.pop("KILN_API_TOKEN", None)
    env.update(extra_env or {})
    record = home / "server.json"
    record.unlink(missing_ok=True)
    log = (home / "server.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "kiln.server"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {(home / 'server.log').read_text()[-2000:]}")
        if record.exists():
            data = json.loads(record.read_text())
            if data["pid"] == process.pid:
                try:
                    if httpx.get(f"{data['url']}/api/v1/health", timeout=2).status_code == 200:
                        return RunningServer(data["url"], home, process, token)
                except httpx.HTTPError:
                    pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("server did not start in time")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("kiln-home"))
    yield running
    running.stop()


@pytest.fixture
def session(server: RunningServer) -> Iterator[kiln.Session]:
    s = server.session()
    yield s
    s.close()


@pytest.fixture
def write_script(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write a training script (dedented) into its own source folder; returns the folder."""

    def write(body: str, name: str = "train.py", folder: str = "src") -> Path:
        source = tmp_path / folder
        source.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(textwrap.dedent(body))
        return source

    return write


def processes_mentioning(marker: str) -> list[psutil.Process]:
    """Live processes whose command line contains ``marker`` (a job's unique folder or name)."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        try:
            if process.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if any(marker in part for part in process.info["cmdline"] or []):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")
