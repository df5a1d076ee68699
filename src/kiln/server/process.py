"""Running the server: bind, migrate, record ``server.json``, serve until told to stop."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import uvicorn

from kiln.artifacts import resolve_store
from kiln.config import Settings, load_allowed_roots
from kiln.errors import ValidationError
from kiln.executors import resolve_executor
from kiln.hardening import forget_argument, forget_environment_variable, make_undumpable
from kiln.metadata import Database
from kiln.server.address import hold_home, listen, remember_address
from kiln.server.app import create_app
from kiln.server.credentials import MIN_TOKEN_LENGTH, Credentials
from kiln.server.state import state_of
from kiln.server.supervisor import Supervisor

__all__ = ["read_server_record", "serve"]

log = logging.getLogger("kiln.server")

_BACKLOG = 2048  # connections the kernel queues while the loop is busy; load generators open many at once
_KEEP_ALIVE_SECONDS = 75


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _write_record(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, path)


def read_server_record(settings: Settings) -> dict[str, Any] | None:
    try:
        record = json.loads(settings.server_record_path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) else None


class _Server(uvicorn.Server):
    """uvicorn re-raises the SIGTERM it handled once it has shut down, which would end the process
    before ``serve`` removes ``server.json`` and stops the supervisor; this server does not."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()


def _take_token(settings: Settings) -> tuple[Settings, Credentials]:
    """Check the token, keep only its hash and derived keys, and erase it from this process: children
    and same-user processes reading /proc/<pid>/environ, cmdline or mem must not find it."""
    token = settings.api_token
    if not _is_loopback(settings.host) and not token:
        raise ValidationError(
            f"refusing to listen on {settings.host}: it is reachable from other machines and no API "
            "token is set; set KILN_API_TOKEN (or KILN_API_TOKEN_FILE, or --token) first, or listen on "
            "127.0.0.1"
        )
    if token and not _is_loopback(settings.host) and len(token) < MIN_TOKEN_LENGTH:
        raise ValidationError(
            f"refusing to listen on {settings.host} with an API token of {len(token)} characters: a "
            f"public address needs at least {MIN_TOKEN_LENGTH}; make one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        )
    credentials = Credentials(token)
    forget_environment_variable("KILN_API_TOKEN")
    if token:
        forget_argument(token)
    make_undumpable()
    return replace(settings, api_token=None, api_token_sha256=credentials.token_sha256), credentials


def serve(settings: Settings) -> None:
    """Serve in this process until SIGTERM/SIGINT. Refuses a public address without an API token."""
    settings, credentials = _take_token(settings)
    settings.home.mkdir(parents=True, exist_ok=True)
    home_lock = hold_home(settings)  # one server per KILN_HOME, before touching its state
    db = Database(settings.database_url)
    db.migrate()
    store = resolve_store(settings.artifact_url, load_allowed_roots(settings))
    # Before listening: a cluster that cannot be reached is an error to report, not a server to start.
    executor = resolve_executor(settings.executor, settings)
    listener = listen(settings)  # the previous address when it is free: clients outlive a restart
    sock, port = listener.sock, listener.port
    shown_host = f"[{settings.host}]" if ":" in settings.host else settings.host
    if settings.host in ("0.0.0.0", "::"):
        # Hosts on other machines of a cluster reach the server at this machine's own address.
        shown_host = executor.server_address() if executor.remote else "127.0.0.1"
    url = f"http://{shown_host}:{port}"
    previous_url = f"http://{shown_host}:{listener.previous_port}" if listener.previous_port else None
    app = create_app(settings, db, store, executor, server_url=url, credentials=credentials)
    state = state_of(app)
    state.endpoints.restore_routes()  # endpoints that were serving keep serving
    state.transform_jobs.resume_interrupted()  # transform jobs the previous server ran, run again
    supervisor = Supervisor(state.training_jobs, state.endpoints, state.tuning_jobs, state.pipeline_engine)
    state.training_jobs.on_job_ended = supervisor.wake  # a trial's end starts the next one at once
    state.pipelines.wake = supervisor.wake  # a started execution's first steps start at once
    supervisor.start()
    state.endpoint_metrics.start()  # stores each 10-second period of invocation counts
    record: dict[str, Any] = {"url": url, "pid": os.getpid(), "host": settings.host, "port": port}
    if previous_url:
        record["previous_url"] = previous_url  # clients of the old address follow it here
    _write_record(settings.server_record_path, record)
    remember_address(settings, port)
    print(f"Kiln server listening on {url} (home {settings.home})", flush=True)
    config = uvicorn.Config(
        state.asgi,
        log_level="warning",
        access_log=False,  # a log line per request costs more than routing the request
        timeout_graceful_shutdown=3,
        lifespan="off",
        loop="auto",  # uvloop and httptools (uvicorn[standard]): each far cheaper per request than
        http="auto",  # asyncio's loop and h11, and the invocation path is per-request work
        # No X-Forwarded-* rewriting: nothing reads the client address, and the middleware it adds
        # is one more ASGI layer on every invocation.
        proxy_headers=False,
        backlog=_BACKLOG,
        # Longer than an HTTP client's idle pool timeout, so the client closes first and never
        # sends on a connection the server is closing.
        timeout_keep_alive=_KEEP_ALIVE_SECONDS,
    )
    try:
        _Server(config).run(sockets=[sock])
    finally:
        supervisor.stop()
        state.endpoint_metrics.stop()  # the periods counted so far are stored too
        current = read_server_record(settings)
        if current is not None and current.get("pid") == os.getpid():
            settings.server_record_path.unlink(missing_ok=True)
        db.dispose()
        os.close(home_lock)
