"""How work runs: the narrow contract every executor (local processes today, Ray on a cluster) meets."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

__all__ = ["Executor", "ProcessHandle"]


@dataclass(frozen=True)
class ProcessHandle:
    """A started work process. ``started_at`` tells it apart from a later process given the same pid."""

    pid: int
    started_at: float


class Executor(Protocol):
    def launch(self, command: list[str], *, env: dict[str, str], cwd: Path, log_path: Path) -> ProcessHandle:
        """Start ``command`` in its own process session (a server restart must not kill it)."""
        ...

    def exit_code(self, handle: ProcessHandle) -> int | None:
        """None while the process runs; its exit code once it ended (negative: killed by that signal;
        ``UNKNOWN_EXIT`` when it ended while nobody was watching)."""
        ...

    def signal(self, handle: ProcessHandle, sig: signal.Signals) -> None:
        """Send ``sig`` to the process's whole group; a process already gone is not an error."""
        ...

    def reap(self) -> None:
        """Collect the exit status of every child that ended, so none lingers as a zombie."""
        ...

    def find(self, command: list[str]) -> ProcessHandle | None:
        """A live process running exactly ``command``, launched by this executor or by an earlier
        server that died before it could record the handle; None if there is none."""
        ...
