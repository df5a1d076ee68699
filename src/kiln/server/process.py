"""Running the server: bind, migrate, record ``server.json``, serve until told to stop."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import socket
import uuid
from pathlib import Path
from typing import Any

import uvicorn

from kiln.artifacts import resolve_store
from kiln.config import Settings
from kiln.errors import ValidationError
from kiln.executors import resolve_executor
from kiln.metadata import Database
from kiln.server.app import create_app
from kiln.server.supervisor import Supervisor

__all__ = ["read_server_record", "serve"]

log = logging.getLogger("kiln.server")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise ValidationError(f"cannot listen on {host}:{port}: {e.strerror}; choose another --port") from e
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


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


def serve(settings: Settings) -> None:
    """Serve in this process until SIGTERM/SIGINT. Refuses a public address without an API token."""
    if not _is_loopback(settings.host) and not settings.api_token:
        raise ValidationError(
            f"refusing to listen on {settings.host}: it is reachable from other machines and no API "
            "token is set; set KILN_API_TOKEN (or --token) first, or listen on 127.0.0.1"
        )
    settings.home.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url)
    db.migrate()
    store = resolve_store(settings.artifact_url)
    sock = _bind(settings.host, settings.port)
    port = sock.getsockname()[1]
    shown_host = f"[{settings.host}]" if ":" in settings.host else settings.host
    if settings.host in ("0.0.0.0", "::"):
        shown_host = "127.0.0.1"
    url = f"http://{shown_host}:{port}"
    app = create_app(settings, db, store, resolve_executor("local"), server_url=url)
    supervisor = Supervisor(app.state.training_jobs)
    supervisor.start()
    record = {"url": url, "pid": os.getpid(), "host": settings.host, "port": port}
    _write_record(settings.server_record_path, record)
    print(f"Kiln server listening on {url} (home {settings.home})", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=3)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        supervisor.stop()
        current = read_server_record(settings)
        if current is not None and current.get("pid") == os.getpid():
            settings.server_record_path.unlink(missing_ok=True)
        db.dispose()
