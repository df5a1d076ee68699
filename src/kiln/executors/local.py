"""The local executor: work processes on this machine, each the leader of its own session."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections import OrderedDict
from pathlib import Path

import psutil

from kiln.executors._base import ProcessHandle

__all__ = ["UNKNOWN_EXIT", "LocalExecutor"]

UNKNOWN_EXIT = -255  # the process ended while this server was not its parent: its status is lost
CREATE_TIME_TOLERANCE_SECONDS = 0.05
FINISHED_KEPT = 10_000


class LocalExecutor:
    def __init__(self) -> None:
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        # Exit codes of reaped children, by pid and start time (pids are reused); bounded, oldest dropped.
        self._finished: OrderedDict[ProcessHandle, int] = OrderedDict()
        self._started: dict[int, float] = {}
        self._lock = threading.Lock()

    def launch(self, command: list[str], *, env: dict[str, str], cwd: Path, log_path: Path) -> ProcessHandle:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                command,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            started_at = psutil.Process(process.pid).create_time()
        except psutil.NoSuchProcess:
            started_at = 0.0
        with self._lock:
            self._children[process.pid] = process
            self._started[process.pid] = started_at
        return ProcessHandle(process.pid, started_at)

    def reap(self) -> None:
        with self._lock:
            for pid, child in list(self._children.items()):
                code = child.poll()
                if code is not None:
                    del self._children[pid]
                    self._finished[ProcessHandle(pid, self._started.pop(pid, 0.0))] = code
            while len(self._finished) > FINISHED_KEPT:
                self._finished.popitem(last=False)

    def exit_code(self, handle: ProcessHandle) -> int | None:
        self.reap()
        with self._lock:
            if handle.pid in self._children:
                return None
            if handle in self._finished:
                return self._finished[handle]
        # Not our child: a process adopted after a server restart. Watch it through /proc.
        try:
            process = psutil.Process(handle.pid)
            if abs(process.create_time() - handle.started_at) > CREATE_TIME_TOLERANCE_SECONDS:
                return UNKNOWN_EXIT  # the pid now belongs to someone else
            if process.status() == psutil.STATUS_ZOMBIE:
                return UNKNOWN_EXIT
            return None
        except psutil.NoSuchProcess:
            return UNKNOWN_EXIT

    def find(self, command: list[str]) -> ProcessHandle | None:
        for process in psutil.process_iter(["cmdline", "create_time", "status"]):
            try:
                if process.info["cmdline"] == command and process.info["status"] != psutil.STATUS_ZOMBIE:
                    return ProcessHandle(process.pid, float(process.info["create_time"]))
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return None

    def signal(self, handle: ProcessHandle, sig: signal.Signals) -> None:
        if self.exit_code(handle) is not None and sig != signal.SIGKILL:
            return
        try:
            os.killpg(handle.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
