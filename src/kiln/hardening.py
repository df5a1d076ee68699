"""Keeping secrets out of reach of the processes a server or runtime starts.

User code runs as the same user as Kiln. Two doors would let it read a secret from an ancestor:
``/proc/<pid>/environ`` (the environment the process was started with, which ``os.environ.pop``
does not erase) and ``/proc/<pid>/mem``. ``forget_environment_variable`` overwrites the variable in
the process's original environment block and removes it from ``os.environ``; ``make_undumpable``
sets ``PR_SET_DUMPABLE`` to 0, which closes ``environ``, ``mem`` and ``maps`` (and ptrace) to
processes of the same user. Both are Linux-only and do nothing elsewhere.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["forget_argument", "forget_environment_variable", "make_undumpable"]

PR_SET_DUMPABLE = 4  # <linux/prctl.h>
# /proc/self/stat, 1-based: the start and end of the argument and environment blocks
_ARG_FIELDS = (48, 49)
_ENV_FIELDS = (50, 51)


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    except OSError:  # pragma: no cover - every Linux has a libc
        return None


def make_undumpable() -> bool:
    """Close this process's memory and environment to same-user processes; True if it took."""
    libc = _libc()
    return libc is not None and libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0


def _block(fields: tuple[int, int]) -> tuple[int, int] | None:
    if _libc() is None:
        return None
    try:
        with open("/proc/self/stat", "rb") as stat_file:
            stat = stat_file.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; the fields after its closing ')' are numbers.
    numbers = stat[stat.rindex(b")") + 2 :].split()
    try:
        start, end = int(numbers[fields[0] - 3]), int(numbers[fields[1] - 3])
    except (IndexError, ValueError):
        return None
    return (start, end) if 0 < start < end else None


def _overwrite(block: tuple[int, int] | None, needle: bytes, *, entry_start: bool, keep: int) -> None:
    """Overwrite each NUL-separated entry starting with (or equal to) ``needle``, past ``keep`` bytes."""
    if block is None or not needle:
        return
    start, end = block
    raw = ctypes.string_at(start, end - start)
    at = 0
    while (found := raw.find(needle, at)) >= 0:
        stop = raw.find(b"\0", found)
        stop = len(raw) if stop < 0 else stop
        whole = found == 0 or raw[found - 1] == 0
        if whole and (entry_start or stop == found + len(needle)):
            ctypes.memset(start + found + keep, ord("x"), stop - found - keep)
        at = found + len(needle)


def forget_environment_variable(name: str) -> str | None:
    """Remove ``name`` from the environment, overwriting its value where the kernel reads
    ``/proc/self/environ``; returns the value it had (None if it was not set)."""
    value = os.environ.pop(name, None)
    prefix = name.encode() + b"="
    _overwrite(_block(_ENV_FIELDS), prefix, entry_start=True, keep=len(prefix))
    return value


def forget_argument(value: str) -> None:
    """Overwrite a command-line argument equal to ``value`` (``--token X``) in ``/proc/self/cmdline``."""
    _overwrite(_block(_ARG_FIELDS), value.encode(), entry_start=False, keep=0)
