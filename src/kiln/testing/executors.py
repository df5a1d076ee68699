"""The executor contract (``kiln.executors.Executor``'s docstring), as tests every executor must pass.

Subclass ``ExecutorConformance`` in a test module and give it two fixtures: ``executor``, an executor
to test, and ``reattach``, a callable that makes a *second* executor object of the same kind (a
restarted server's). Units are small Python programs, so the suite needs nothing but an interpreter.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from kiln.executors import UNKNOWN_EXIT, Executor, LaunchUnit, UnitResources

__all__ = ["ExecutorConformance", "wait_for_exit"]

EXIT_TIMEOUT_SECONDS = 20.0

SLEEPER = "import time\nprint('up', flush=True)\ntime.sleep(60)\n"
# Starts a grandchild in the unit's process group that ignores SIGTERM (as a script busy saving a
# checkpoint may) and then says its pid: only a forced stop ends it.
STUBBORN = (
    "import os, signal, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('child', os.getpid(), flush=True)\n"
    "time.sleep(60)\n"
)
PARENT_OF_STUBBORN = (
    f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', {STUBBORN!r}])\ntime.sleep(60)\n"
)
REPORTER = (
    "import json, os, sys\n"
    "print('line one', flush=True)\n"
    "print('to stderr', file=sys.stderr, flush=True)\n"
    "open(os.environ['KILN_RESULT_FILE'], 'w').write(json.dumps({'state': 'Succeeded', 'n': 7}))\n"
    "sys.exit(3)\n"
)


def wait_for_exit(executor: Executor, handle: str, timeout: float = EXIT_TIMEOUT_SECONDS) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = executor.poll(handle)
        if code is not None:
            return code
        time.sleep(0.02)
    raise AssertionError(f"unit {handle} still runs after {timeout} s")


def _wait_for_line(executor: Executor, handle: str, prefix: str) -> str:
    deadline = time.monotonic() + EXIT_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        for line in executor.read_log(handle).splitlines():
            if line.startswith(prefix):
                return line
        time.sleep(0.02)
    raise AssertionError(f"unit {handle} never printed {prefix!r}; its log: {executor.read_log(handle)!r}")


def _running_with(marker: str) -> bool:
    for process in psutil.process_iter(["cmdline", "status"]):
        if marker in (process.info["cmdline"] or []) and process.info["status"] != psutil.STATUS_ZOMBIE:
            return True
    return False


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class ExecutorConformance:
    """What every executor does. Fixtures: ``executor`` and ``reattach`` (see the module docstring)."""

    @staticmethod
    def unit(folder: Path, program: str, name: str = "unit") -> LaunchUnit:
        return LaunchUnit(
            command=[sys.executable, "-c", program],
            env={"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1"},
            workdir=folder / name,
            labels={"test": name},
            # Small, so that a cluster of a few one-CPU nodes holds every unit of a test at once.
            resources=UnitResources(cpus=0.25),
        )

    def test_a_group_starts_every_unit_and_answers_one_string_handle_each(
        self, executor: Executor, tmp_path: Path
    ) -> None:
        handles = executor.launch_group(
            [self.unit(tmp_path, SLEEPER, "a"), self.unit(tmp_path, SLEEPER, "b")]
        )
        try:
            assert len(handles) == 2
            assert len(set(handles)) == 2
            assert all(isinstance(h, str) and h for h in handles)
            assert all(executor.poll(h) is None for h in handles)
        finally:
            for handle in handles:
                executor.stop(handle, force=True)

    def test_exit_code_output_and_result_come_back_through_the_handle(
        self, executor: Executor, tmp_path: Path
    ) -> None:
        [handle] = executor.launch_group([self.unit(tmp_path, REPORTER)])

        assert wait_for_exit(executor, handle) == 3
        log = executor.read_log(handle)
        assert "line one" in log
        assert "to stderr" in log
        assert executor.read_result(handle) == {"state": "Succeeded", "n": 7}

    def test_a_unit_that_leaves_no_result_has_none(self, executor: Executor, tmp_path: Path) -> None:
        [handle] = executor.launch_group([self.unit(tmp_path, "print('no result')")])

        assert wait_for_exit(executor, handle) == 0
        assert executor.read_result(handle) is None

    def test_the_log_keeps_its_tail_when_asked_for_fewer_bytes(
        self, executor: Executor, tmp_path: Path
    ) -> None:
        program = "for i in range(2000):\n    print(f'line {i:04d}')\nprint('last line', flush=True)\n"
        [handle] = executor.launch_group([self.unit(tmp_path, program)])
        wait_for_exit(executor, handle)

        tail = executor.read_log(handle, max_bytes=100)
        assert tail.rstrip().endswith("last line")
        assert len(tail.encode()) <= 100

    def test_a_relaunch_in_the_same_folder_does_not_see_the_last_result(
        self, executor: Executor, tmp_path: Path
    ) -> None:
        [first] = executor.launch_group([self.unit(tmp_path, REPORTER)])
        wait_for_exit(executor, first)
        [second] = executor.launch_group([self.unit(tmp_path, "print('again')")])

        assert wait_for_exit(executor, second) == 0
        assert executor.read_result(second) is None

    def test_stop_ends_a_unit_and_a_second_stop_or_a_stop_after_exit_is_harmless(
        self, executor: Executor, tmp_path: Path
    ) -> None:
        [handle] = executor.launch_group([self.unit(tmp_path, SLEEPER)])
        _wait_for_line(executor, handle, "up")

        executor.stop(handle)
        code = wait_for_exit(executor, handle)
        executor.stop(handle)
        executor.stop(handle, force=True)

        assert code != 0
        assert executor.poll(handle) == code

    def test_a_forced_stop_ends_what_the_unit_started_too(self, executor: Executor, tmp_path: Path) -> None:
        [handle] = executor.launch_group([self.unit(tmp_path, PARENT_OF_STUBBORN)])
        child = int(_wait_for_line(executor, handle, "child").split()[1])

        executor.stop(handle, force=True)
        wait_for_exit(executor, handle)

        deadline = time.monotonic() + EXIT_TIMEOUT_SECONDS
        while _pid_alive(child) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _pid_alive(child)

    def test_a_second_executor_reattaches_by_handle_alone(
        self, executor: Executor, reattach: Callable[[], Executor], tmp_path: Path
    ) -> None:
        [handle] = executor.launch_group([self.unit(tmp_path, SLEEPER)])
        _wait_for_line(executor, handle, "up")
        stored = json.loads(json.dumps(handle))  # through a database column and back
        restarted = reattach()

        assert restarted.poll(stored) is None
        assert "up" in restarted.read_log(stored)
        restarted.stop(stored, force=True)
        code = wait_for_exit(restarted, stored)
        # Not its child: the status is lost, and it says so instead of inventing one.
        assert code == UNKNOWN_EXIT or code < 0
        executor.poll(handle)  # the first executor collects its child; nothing lingers

    def test_many_threads_may_poll_and_stop_at_once(self, executor: Executor, tmp_path: Path) -> None:
        handles = executor.launch_group([self.unit(tmp_path, SLEEPER, f"u{i}") for i in range(4)])
        errors: list[BaseException] = []

        def hammer() -> None:
            try:
                for _ in range(50):
                    for handle in handles:
                        executor.poll(handle)
                for handle in handles:
                    executor.stop(handle, force=True)
            except BaseException as e:  # reported below, in the test's thread
                errors.append(e)

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert errors == []
        assert all(wait_for_exit(executor, h) is not None for h in handles)

    def test_a_group_that_cannot_start_raises_and_leaves_nothing_running(
        self, executor: Executor, tmp_path: Path
    ) -> None:
        marker = f"kiln-conformance-{uuid.uuid4().hex}"
        good = self.unit(tmp_path, SLEEPER, "good")
        good = replace(good, command=[*good.command, marker])  # findable among this machine's processes
        bad = LaunchUnit(command=[str(tmp_path / "no-such-program")], env={}, workdir=tmp_path / "bad")

        with pytest.raises(OSError, match="no-such-program"):
            executor.launch_group([good, bad])

        deadline = time.monotonic() + EXIT_TIMEOUT_SECONDS
        while _running_with(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running_with(marker)

    def test_the_rendezvous_address_can_be_listened_on(self, executor: Executor) -> None:
        host, port = executor.rendezvous_address()

        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, port))
            sock.listen()

    def test_the_inventory_has_something_to_hand_out(self, executor: Executor) -> None:
        machine = executor.inventory()

        assert len(machine.cpus) >= 1
        assert machine.memory_bytes > 0
        assert all(isinstance(g, int) for g in machine.gpus)
