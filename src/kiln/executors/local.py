"""The local executor: work processes on this machine, each the leader of its own session.

A handle is ``local:`` followed by JSON naming the process (pid and start time, so a recycled pid is
never mistaken for ours) and the unit's folder (where its log and result file are). It holds all a
restarted server needs, so units are re-attached by their handles alone.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from kiln.config import RESULT_FILE_VARIABLE
from kiln.errors import InternalError
from kiln.executors._base import UNKNOWN_EXIT, Executor, LaunchUnit, Placement
from kiln.machine import Machine, detect_machine

__all__ = ["RESULT_FILE_VARIABLE", "LocalExecutor", "write_unit_files"]

RESULT_FILE_NAME = "result.json"
HANDLE_PREFIX = "local:"
CREATE_TIME_TOLERANCE_SECONDS = 0.05
FINISHED_KEPT = 10_000


@dataclass(frozen=True)
class _Process:
    """What a local handle names."""

    pid: int
    started_at: float  # psutil's create_time
    workdir: Path | None  # None: a process adopted from before handles named their folder (0009)
    log_name: str

    def handle(self) -> str:
        fields = {
            "pid": self.pid,
            "started_at": self.started_at,
            "dir": str(self.workdir),
            "log": self.log_name,
        }
        return HANDLE_PREFIX + json.dumps(fields, separators=(",", ":"))

    def file(self, name: str) -> Path | None:
        return None if self.workdir is None or not name else self.workdir / name

    @classmethod
    def parse(cls, handle: str) -> _Process:
        if not handle.startswith(HANDLE_PREFIX):
            raise InternalError(f"{handle!r} is not a handle of the local executor")
        try:
            fields = json.loads(handle[len(HANDLE_PREFIX) :])
            folder = fields.get("dir")
            return cls(
                int(fields["pid"]),
                float(fields["started_at"]),
                None if folder is None else Path(folder),
                str(fields.get("log", "")),
            )
        except (ValueError, KeyError, TypeError) as e:
            raise InternalError(f"the local executor cannot read handle {handle!r}: {e}") from e


def write_unit_files(unit: LaunchUnit) -> None:
    """The unit's files in its folder, each new and 0600 (a credential is for its unit alone)."""
    for name, content in unit.files.items():
        path = unit.workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(content)


class LocalExecutor(Executor):
    name = "local"

    def __init__(self) -> None:
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        # Exit codes of reaped children, by pid and start time (pids are reused); bounded, oldest dropped.
        self._finished: OrderedDict[tuple[int, float], int] = OrderedDict()
        self._started: dict[int, float] = {}
        self._lock = threading.Lock()

    # -- starting ---------------------------------------------------------------------------------

    def launch_group(self, units: Sequence[LaunchUnit], placement: Placement | None = None) -> list[str]:
        handles: list[str] = []
        try:
            for unit in units:
                handles.append(self._launch(unit))
        except BaseException:
            for handle in handles:
                self.stop(handle, force=True)
            raise
        return handles

    def _launch(self, unit: LaunchUnit) -> str:
        unit.workdir.mkdir(parents=True, exist_ok=True)
        write_unit_files(unit)
        result_file = unit.workdir / RESULT_FILE_NAME
        result_file.unlink(missing_ok=True)  # a result left by an earlier attempt is not this one's
        env = {**unit.env, RESULT_FILE_VARIABLE: str(result_file)}
        with (unit.workdir / unit.log_name).open("ab") as log:
            process = subprocess.Popen(
                unit.command,
                env=env,
                cwd=unit.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own session: a server restart does not kill it
            )
        try:
            started_at = psutil.Process(process.pid).create_time()
        except psutil.NoSuchProcess:
            started_at = 0.0
        with self._lock:
            self._children[process.pid] = process
            self._started[process.pid] = started_at
        return _Process(process.pid, started_at, unit.workdir, unit.log_name).handle()

    # -- watching ---------------------------------------------------------------------------------

    def _reap(self) -> None:
        """Collect the exit status of every child that ended, so none lingers as a zombie."""
        with self._lock:
            for pid, child in list(self._children.items()):
                code = child.poll()
                if code is not None:
                    del self._children[pid]
                    self._finished[(pid, self._started.pop(pid, 0.0))] = code
            while len(self._finished) > FINISHED_KEPT:
                self._finished.popitem(last=False)

    def poll(self, handle: str) -> int | None:
        process = _Process.parse(handle)
        self._reap()
        with self._lock:
            if process.pid in self._children:
                return None
            finished = self._finished.get((process.pid, process.started_at))
            if finished is not None:
                return finished
        # Not our child: a unit re-attached after a server restart. Watch it through /proc.
        try:
            found = psutil.Process(process.pid)
            if abs(found.create_time() - process.started_at) > CREATE_TIME_TOLERANCE_SECONDS:
                return UNKNOWN_EXIT  # the pid now belongs to someone else
            if found.status() == psutil.STATUS_ZOMBIE:
                return UNKNOWN_EXIT
            return None
        except psutil.NoSuchProcess:
            return UNKNOWN_EXIT

    def find(self, unit: LaunchUnit) -> str | None:
        for process in psutil.process_iter(["cmdline", "create_time", "status"]):
            try:
                if process.info["cmdline"] == unit.command and process.info["status"] != psutil.STATUS_ZOMBIE:
                    found = _Process(
                        process.pid, float(process.info["create_time"]), unit.workdir, unit.log_name
                    )
                    return found.handle()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return None

    def read_unrecorded_result(self, unit: LaunchUnit) -> dict[str, Any] | None:
        try:
            result = json.loads((unit.workdir / RESULT_FILE_NAME).read_text())
        except (OSError, ValueError):
            return None
        return result if isinstance(result, dict) else None

    def stop(self, handle: str, *, force: bool = False) -> None:
        process = _Process.parse(handle)
        if not force and self.poll(handle) is not None:
            return
        try:
            # The whole group: what the unit started in its session (a training script) goes too.
            os.killpg(process.pid, signal.SIGKILL if force else signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass

    def read_log(self, handle: str, *, max_bytes: int = 64 * 1024) -> str:
        process = _Process.parse(handle)
        path = process.file(process.log_name)
        if path is None:
            return ""
        try:
            with path.open("rb") as log:
                size = log.seek(0, os.SEEK_END)
                log.seek(max(0, size - max_bytes))
                return log.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def read_result(self, handle: str) -> dict[str, Any] | None:
        path = _Process.parse(handle).file(RESULT_FILE_NAME)
        if path is None:
            return None
        try:
            result = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return result if isinstance(result, dict) else None

    # -- capacity ---------------------------------------------------------------------------------

    def rendezvous_address(self) -> tuple[str, int]:
        # Every host of a local job shares loopback; a port free now is the job's rendezvous port.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            return "127.0.0.1", int(sock.getsockname()[1])

    def inventory(self) -> Machine:
        return detect_machine()
