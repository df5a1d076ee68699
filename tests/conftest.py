"""Shared fixtures: a real Kiln server on loopback with its own KILN_HOME, and the in-process app.

The server fixture is per test session (starting one costs a second or two); tests that restart
or stop a server start their own with ``start_server``.

Server backends: a server keeps its state either in SQLite and a local folder (``local``, the
default) or in PostgreSQL and S3 (``shared``: a fresh database and a fresh bucket prefix per server
home, made from ``KILN_TEST_DATABASE_URL`` and ``KILN_TEST_ARTIFACT_URL``, which .ci/run sets).
``KILN_TEST_SERVER_BACKEND=shared`` runs every server of the run on the shared backend; a module
that sets ``pytestmark = ON_EVERY_BACKEND`` runs its tests on both in every run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

import kiln
from kiln.sdk.client import KilnClient
from kiln.testing import ARTIFACT_URL_VARIABLE, DATABASE_URL_VARIABLE, service_url

SERVER_START_TIMEOUT = 60.0

# -- server backends --------------------------------------------------------------------------------

BACKEND_VARIABLE = "KILN_TEST_SERVER_BACKEND"  # "local" (default) or "shared": what every server uses
RUN_BACKEND = os.environ.get(BACKEND_VARIABLE) or "local"
if RUN_BACKEND not in ("local", "shared"):
    raise pytest.UsageError(f"{BACKEND_VARIABLE}={RUN_BACKEND!r}: use local or shared")
# The backends a module marked ON_EVERY_BACKEND runs on: both, or only shared when the run is on it.
SERVER_BACKENDS = ["shared"] if RUN_BACKEND == "shared" else ["local", "shared"]
ON_EVERY_BACKEND = pytest.mark.parametrize("server_backend", SERVER_BACKENDS, indirect=True, scope="session")

_active_backend = RUN_BACKEND  # what start_server uses during the current test
_shared_state: dict[Path, dict[str, str]] = {}  # server home → its KILN_DATABASE_URL and KILN_ARTIFACT_URL


def _shared_services() -> tuple[str, str]:
    database, artifacts = service_url(DATABASE_URL_VARIABLE), service_url(ARTIFACT_URL_VARIABLE)
    if not database or not artifacts:
        pytest.skip(
            f"no PostgreSQL and S3 for this run: set {DATABASE_URL_VARIABLE} and {ARTIFACT_URL_VARIABLE} "
            "(.ci/run does)"
        )
    return database, artifacts


def _shared_env(home: Path) -> dict[str, str]:
    """A fresh PostgreSQL database and S3 prefix for the server of ``home``; the same ones when a
    test restarts a server on that home, so a restart finds its state."""
    if home not in _shared_state:
        from sqlalchemy import create_engine, make_url, text

        database, artifacts = _shared_services()
        name = f"kiln_{uuid.uuid4().hex[:16]}"
        engine = create_engine(database, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        _shared_state[home] = {
            "KILN_DATABASE_URL": make_url(database).set(database=name).render_as_string(hide_password=False),
            "KILN_ARTIFACT_URL": f"{artifacts.rstrip('/')}/{name}",
        }
    return _shared_state[home]


def _drop_shared_state() -> None:
    """Drop every database and prefix the run's servers used (their servers are stopped by now)."""
    if not _shared_state:
        return
    import fsspec
    from sqlalchemy import create_engine, make_url, text

    database, _ = _shared_services()
    engine = create_engine(database, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for env in _shared_state.values():
            name = make_url(env["KILN_DATABASE_URL"]).database
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()
    for env in _shared_state.values():
        fs, path = fsspec.core.url_to_fs(env["KILN_ARTIFACT_URL"])
        if fs.exists(path):
            fs.rm(path, recursive=True)
    _shared_state.clear()


@pytest.fixture(scope="session", autouse=True)
def _shared_state_dropped_at_the_end() -> Iterator[None]:
    yield
    _drop_shared_state()


@pytest.fixture(scope="session")
def server_backend(request: pytest.FixtureRequest) -> str:
    """The backend of the session's server: the run's, or each of SERVER_BACKENDS (ON_EVERY_BACKEND)."""
    backend: str = getattr(request, "param", RUN_BACKEND)
    if backend == "shared":
        _shared_services()
    return backend


@pytest.fixture
def database_url(server_backend: str, tmp_path: Path) -> str:
    """An empty metadata database of the test's backend: a SQLite file, or a fresh PostgreSQL database."""
    if server_backend == "shared":
        return _shared_env(tmp_path.resolve())["KILN_DATABASE_URL"]
    return f"sqlite:///{tmp_path / 'kiln.db'}"


@pytest.fixture(autouse=True)
def _servers_on_backend(server_backend: str) -> Iterator[None]:
    """Servers a test starts itself (start_server) use the backend of its parameter."""
    global _active_backend
    _active_backend = server_backend
    yield
    _active_backend = RUN_BACKEND


@dataclass
class RunningServer:
    url: str
    home: Path
    process: subprocess.Popen[bytes]
    token: str | None = None
    backend: str = "local"  # "shared": PostgreSQL and S3 (see the module's docstring)

    @property
    def default_bucket(self) -> str:
        """The bucket SageMaker's ``default_bucket()`` names on this server: the S3 store's own
        bucket, or the folder store's ``kiln``."""
        if self.backend == "shared":
            return _shared_state[self.home.resolve()]["KILN_ARTIFACT_URL"].split("/")[2]
        return "kiln"

    @property
    def database_url(self) -> str:
        """Where this server keeps its metadata: its SQLite file, or its PostgreSQL database."""
        if self.backend == "shared":
            return _shared_state[self.home.resolve()]["KILN_DATABASE_URL"]
        return f"sqlite:///{self.home / 'kiln.db'}"

    def needs_local_store(self, why: str) -> None:
        """Skip a test of the folder store's own behaviour (its files, its names) on S3."""
        if self.backend != "local":
            pytest.skip(f"the local folder store's own behaviour: {why}")

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
    home: Path,
    *,
    extra_env: dict[str, str] | None = None,
    token: str | None = None,
    backend: str | None = None,
) -> RunningServer:
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.pop("KILN_URL", None)
    env["KILN_HOME"] = str(home)
    backend = backend or _active_backend
    if backend == "shared":
        env.update(_shared_env(home.resolve()))  # extra_env below may still name its own
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
                        return RunningServer(data["url"], home, process, token, backend)
                except httpx.HTTPError:
                    pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("server did not start in time")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, server_backend: str) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("kiln-home"), backend=server_backend)
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
