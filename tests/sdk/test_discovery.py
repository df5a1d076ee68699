"""The embedded default: with no KILN_URL, the SDK finds the server of KILN_HOME or starts one."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import psutil
import pytest

import kiln

if TYPE_CHECKING:
    from conftest import RunningServer

SERVER_STOP_TIMEOUT = 15.0
PROGRAM_TIMEOUT = 90


def servers_for(home: Path) -> list[psutil.Process]:
    """Live ``kiln.server`` processes serving ``home`` (by their KILN_HOME)."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        try:
            if process.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if "kiln.server" not in (process.info["cmdline"] or []):
                continue
            if process.environ().get("KILN_HOME") == str(home):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def _gone(pid: int) -> bool:
    with suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if this process started it
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def stop_servers(home: Path) -> None:
    pids = {p.pid for p in servers_for(home)}
    with suppress(FileNotFoundError, ValueError, KeyError):
        pids.add(int(json.loads((home / "server.json").read_text())["pid"]))
    for pid in pids:
        if not _gone(pid):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + SERVER_STOP_TIMEOUT
    while not all(_gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in pids:
        if not _gone(pid):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _record(home: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((home / "server.json").read_text())
    return data


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh KILN_HOME and no KILN_URL: this process's SDK must find or start its own server."""
    home = tmp_path / "home"
    monkeypatch.setenv("KILN_HOME", str(home))
    for name in (
        "KILN_URL",
        "KILN_API_TOKEN",
        "KILN_HOST",
        "KILN_PORT",
        "KILN_DATABASE_URL",
        "KILN_ARTIFACT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    yield home
    stop_servers(home)


def test_a_session_starts_a_background_server_and_a_second_session_finds_it(home: Path) -> None:
    session = kiln.Session()

    url = session.url

    record = _record(home)
    assert record["url"] == url
    assert url.startswith("http://127.0.0.1:")
    pid = int(str(record["pid"]))
    assert [p.pid for p in servers_for(home)] == [pid]
    assert os.getsid(pid) == pid  # its own session: it outlives the program that started it
    health = httpx.get(f"{url}/api/v1/health", timeout=10).json()
    assert (health["pid"], health["home"]) == (pid, str(home))
    assert session.default_bucket() == "kiln"
    assert session.bucket_uri() == (home / "artifacts").as_uri() + "/kiln"
    session.close()

    assert kiln.Session().url == url
    assert _record(home)["pid"] == pid
    assert len(servers_for(home)) == 1


def test_a_record_of_a_dead_process_is_replaced(home: Path) -> None:
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    home.mkdir(parents=True)
    stale_url = f"http://127.0.0.1:{_free_port()}"
    (home / "server.json").write_text(json.dumps({"url": stale_url, "pid": finished.pid}))

    url = kiln.Session().url

    assert url != stale_url
    record = _record(home)
    assert record["url"] == url
    assert record["pid"] != finished.pid
    assert [p.pid for p in servers_for(home)] == [record["pid"]]
    assert httpx.get(f"{url}/api/v1/health", timeout=10).status_code == 200


def test_an_unreadable_record_is_replaced(home: Path) -> None:
    home.mkdir(parents=True)
    (home / "server.json").write_text('{"url": "http://127.0.0.1:9", "pid": ')  # cut short

    url = kiln.Session().url

    assert _record(home)["url"] == url
    assert httpx.get(f"{url}/api/v1/health", timeout=10).status_code == 200


def test_a_live_process_that_does_not_answer_is_not_taken_for_the_server(home: Path) -> None:
    home.mkdir(parents=True)
    silent_url = f"http://127.0.0.1:{_free_port()}"
    (home / "server.json").write_text(json.dumps({"url": silent_url, "pid": os.getpid()}))

    url = kiln.Session().url

    assert url != silent_url
    assert _record(home)["pid"] != os.getpid()
    assert len(servers_for(home)) == 1


def test_the_server_of_another_home_is_not_used(home: Path, server: RunningServer) -> None:
    home.mkdir(parents=True)
    (home / "server.json").write_text(json.dumps({"url": server.url, "pid": server.process.pid}))

    url = kiln.Session().url

    assert url != server.url
    assert httpx.get(f"{url}/api/v1/health", timeout=10).json()["home"] == str(home)
    assert server.process.poll() is None  # the other home's server is left alone


def test_two_programs_starting_at_once_share_one_server(home: Path) -> None:
    program = [sys.executable, "-c", "import kiln; print(kiln.Session().url)"]
    env = dict(os.environ)  # the fixture's KILN_HOME, no KILN_URL

    running = [
        subprocess.Popen(program, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=PROGRAM_TIMEOUT) for p in running]

    assert [p.returncode for p in running] == [0, 0], outputs
    urls = {out.strip() for out, _ in outputs}
    assert len(urls) == 1
    (url,) = urls
    assert _record(home)["url"] == url
    servers = servers_for(home)
    assert [p.pid for p in servers] == [_record(home)["pid"]]
    # Both programs have exited; the server they started keeps serving.
    assert httpx.get(f"{url}/api/v1/health", timeout=10).json()["home"] == str(home)
    assert kiln.Session().url == url
