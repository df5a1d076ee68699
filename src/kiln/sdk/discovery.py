"""The embedded default: find the local server in ``$KILN_HOME/server.json``, or start one.

Like ``ray.init()``: with no ``KILN_URL``, the first program that needs a server starts one in the
background, bound to 127.0.0.1, and every later program finds it. A lock file makes two programs
starting at once share one server; a record whose process died is replaced.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psutil

from kiln.config import Settings
from kiln.errors import ServerUnavailable

__all__ = [
    "ensure_local_server",
    "find_local_server",
    "read_server_record",
    "rediscover_server",
    "start_local_server",
]

START_TIMEOUT_SECONDS = 60.0
HEALTH_TIMEOUT_SECONDS = 2.0


@contextmanager
def _start_lock(settings: Settings) -> Iterator[None]:
    settings.home.mkdir(parents=True, exist_ok=True)
    with (settings.home / "server.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read_server_record(settings: Settings) -> dict[str, Any] | None:
    """``server.json`` of this KILN_HOME if it names a url and a pid (it may be stale: check the pid)."""
    try:
        record = json.loads(settings.server_record_path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) and "url" in record and "pid" in record else None


def _answers(url: str, settings: Settings) -> bool:
    # With a token the server names its home (to anyone else it only says "ok").
    headers = {"Authorization": f"Bearer {settings.api_token}"} if settings.api_token else {}
    try:
        response = httpx.get(f"{url}/api/v1/health", headers=headers, timeout=HEALTH_TIMEOUT_SECONDS)
        return response.status_code == 200 and response.json().get("home") == str(settings.home)
    except (httpx.HTTPError, ValueError):
        return False


def find_local_server(settings: Settings) -> str | None:
    """The URL of the live server recorded for this KILN_HOME, or None."""
    record = read_server_record(settings)
    if record is None or not psutil.pid_exists(int(record["pid"])):
        return None
    url = str(record["url"])
    return url if _answers(url, settings) else None


def rediscover_server(settings: Settings, current_url: str, *, follow_any: bool) -> str | None:
    """Where the server a client lost is now, from ``server.json``; None while none is recorded.

    ``follow_any``: the client found its server through this KILN_HOME, so whatever server runs for
    it now is its server. Otherwise (a URL the user named) only a server that records the client's
    URL as its own or as its ``previous_url`` (it restarted on another port) is the same one.
    """
    record = read_server_record(settings)
    if record is None or not psutil.pid_exists(int(record["pid"])):
        return None
    url = str(record["url"])
    if follow_any or current_url.rstrip("/") in (url, str(record.get("previous_url", ""))):
        return url
    return None


def start_local_server(settings: Settings) -> str:
    """Start a background server for this KILN_HOME and wait until it answers."""
    settings.home.mkdir(parents=True, exist_ok=True)  # `kiln server start --daemon` on a fresh home
    log_path = settings.home / "server.log"
    env = dict(os.environ)
    env["KILN_HOME"] = str(settings.home)
    env.pop("KILN_URL", None)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "kiln.server"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the server outlives the program that started it
        )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            running = find_local_server(settings)
            if running is not None:
                return running  # another program started this home's server first: use it
            tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
            raise ServerUnavailable(
                f"the Kiln server exited at start (code {process.returncode}); {log_path} says: "
                + " | ".join(tail)
            )
        record = read_server_record(settings)
        if record is not None and record.get("pid") == process.pid and _answers(str(record["url"]), settings):
            return str(record["url"])
        time.sleep(0.05)
    process.terminate()
    raise ServerUnavailable(
        f"the Kiln server did not answer within {START_TIMEOUT_SECONDS:.0f} s; see {log_path}"
    )


def ensure_local_server(settings: Settings) -> str:
    url = find_local_server(settings)
    if url is not None:
        return url
    with _start_lock(settings):
        url = find_local_server(settings)  # another program may have started it while we waited
        return url if url is not None else start_local_server(settings)
