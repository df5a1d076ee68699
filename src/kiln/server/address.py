"""Where the server listens: the address it had before, so that clients outlive a restart.

A server started without a port (the embedded default) would get a new random port each time, and
every client holding the old URL (a notebook's ``Session``, a training host, ``kiln jobs logs
--follow``) would lose it. So the address is remembered in ``$KILN_HOME/server-address.json``, which
outlives the server (``server.json``, the live record, is removed when it stops), and a restarted
server binds the same port again. Only when that port is taken by another program does it take a
new one, and it says so: on stderr, in its log, and as ``previous_url`` in ``server.json``, where
clients that knew the old address look.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from kiln.config import Settings
from kiln.errors import Conflict, ValidationError

__all__ = ["Listener", "hold_home", "listen", "remember_address"]

log = logging.getLogger("kiln.server")

_BACKLOG = 2048  # connections the kernel queues while the loop is busy; load generators open many at once


@dataclass(frozen=True)
class Listener:
    sock: socket.socket
    port: int
    previous_port: int | None = None  # set when the remembered port was taken and a new one was chosen


def hold_home(settings: Settings) -> int:
    """Become the one server of this KILN_HOME, or refuse to start; returns the lock's descriptor.

    Two servers on one home would both supervise the same jobs and fight over its address. The
    lock is released by the kernel when the process ends, however it ends (kill -9 included), so a
    crashed server never blocks its successor. Keep the descriptor open for the server's life.
    """
    path = settings.home / "server.pid.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # not inherited by children (O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise Conflict(
            f"another Kiln server already runs for {settings.home} (see {settings.server_record_path}); "
            "use it, or stop it first with `kiln server stop`"
        ) from None
    return fd


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # A killed server's connections linger in TIME_WAIT; without this its port could not be reused.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(_BACKLOG)
    sock.set_inheritable(True)
    return sock


def _remembered_port(path: Path, host: str) -> int | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("host") != host:
        return None  # another interface is another address: nothing to keep
    port = record.get("port")
    return port if isinstance(port, int) and 0 < port < 65536 else None


def listen(settings: Settings) -> Listener:
    """A listening socket on the configured port, else on the remembered one, else on any free one."""
    if settings.port:
        try:
            return Listener(_bind(settings.host, settings.port), settings.port)
        except OSError as e:
            raise ValidationError(
                f"cannot listen on {settings.host}:{settings.port}: {e.strerror}; choose another --port"
            ) from e
    previous = _remembered_port(settings.server_address_path, settings.host)
    if previous is not None:
        try:
            return Listener(_bind(settings.host, previous), previous)
        except OSError as e:
            reason = e.strerror or str(e)
            message = (
                f"Kiln: the previous address {settings.host}:{previous} is not free ({reason}); "
                "listening on a new port. Clients find it in "
                f"{settings.server_record_path}; set KILN_PORT to fix the port."
            )
            log.warning("%s", message)
            print(message, file=sys.stderr, flush=True)
    try:
        sock = _bind(settings.host, 0)
    except OSError as e:
        raise ValidationError(f"cannot listen on {settings.host}: {e.strerror}; choose another --host") from e
    return Listener(sock, int(sock.getsockname()[1]), previous)


def remember_address(settings: Settings, port: int) -> None:
    """Record ``port`` for the next start (atomically: a crash never leaves half a file)."""
    path = settings.server_address_path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    tmp.write_text(json.dumps({"host": settings.host, "port": port}))
    os.replace(tmp, path)
