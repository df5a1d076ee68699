"""Runs the user's entry point and pumps its output, line by line, to the reporter and a local log.

The script shares the runtime's process group, so a stop from the control plane (SIGTERM to the
group) reaches it directly, as SageMaker's StopTrainingJob does. After the grace period every
process the script left behind is killed: nothing outlives its job.
"""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psutil

from kiln.runtime.training.reporter import Reporter

__all__ = ["MetricScraper", "RunOutcome", "run_user_process"]

STDERR_TAIL_LINES = 30
RUN_MARKER_VARIABLE = "KILN_RUN_MARKER"  # set in the script's environment; its descendants inherit it


ESTIMATOR_PAIR = re.compile(r"(\w[\w/:.-]*) = ([-+0-9.eE]+|nan|inf)")


class MetricScraper:
    """Applies the job's ``MetricDefinitions`` regexes to every line (SageMaker's first group wins).

    For Estimator-function jobs (``estimator_line`` set), every ``name = value`` on the trainer's
    evaluation line is a metric too, so accuracy and loss are recorded with no definitions at all.
    """

    def __init__(self, definitions: list[dict[str, str]], estimator_line: str | None = None) -> None:
        self._patterns = [(d["Name"], re.compile(d["Regex"])) for d in definitions]
        self._estimator_line = estimator_line

    def scan(self, line: str) -> list[tuple[str, float]]:
        found: list[tuple[str, float]] = []
        if self._estimator_line is not None and line.startswith(self._estimator_line):
            found.extend(
                (name, float(value)) for name, value in ESTIMATOR_PAIR.findall(line.split(":", 1)[-1])
            )
        for name, pattern in self._patterns:
            match = pattern.search(line)
            if match is None:
                continue
            text = match.group(1) if pattern.groups else match.group(0)
            try:
                found.append((name, float(text)))
            except (TypeError, ValueError):
                continue
        return found


@dataclass
class RunOutcome:
    exit_code: int
    stopped: bool  # a stop was requested (SIGTERM) while the script ran
    timed_out: bool  # MaxRuntimeInSeconds ran out
    stderr_tail: list[str]


def _pump(
    stream: IO[bytes],
    name: str,
    reporter: Reporter,
    log_file: IO[str],
    log_lock: threading.Lock,
    scraper: MetricScraper,
    tail: deque[str] | None,
) -> None:
    for raw in iter(stream.readline, b""):
        now = time.time()
        line = raw.decode(errors="replace").rstrip("\r\n")
        reporter.line(line, name, now)
        for metric, value in scraper.scan(line):
            reporter.metric(metric, value, now)
        if tail is not None:
            tail.append(line)
        with log_lock:
            log_file.write(f"{now:.6f} {name} {line}\n")
    stream.close()


def _kill_tree(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        try:
            psutil.Process(pid).send_signal(sig)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass


def _descendants(pid: int) -> list[int]:
    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _marked_processes(marker: str) -> list[int]:
    """Every process that inherited this run's marker variable: children, and orphans in their own
    sessions that no parent-child walk can find any more."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(RUN_MARKER_VARIABLE) == marker:
                found.append(process.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            continue
    return found


def run_user_process(
    command: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    reporter: Reporter,
    log_path: Path,
    scraper: MetricScraper,
    stop_event: threading.Event,
    max_run_seconds: float | None,
    grace_seconds: float,
    on_start: Callable[[int], None] | None = None,
    preexec: Callable[[], None] | None = None,
) -> RunOutcome:
    """Run ``command`` to its end; ``preexec`` runs in the child before exec (the memory cap)."""
    marker = uuid.uuid4().hex
    env = {**env, RUN_MARKER_VARIABLE: marker}
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        preexec_fn=preexec,
    )
    if on_start is not None:
        on_start(process.pid)
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    log_lock = threading.Lock()
    started = time.monotonic()
    with log_path.open("a", buffering=1) as log_file:
        assert process.stdout is not None
        assert process.stderr is not None
        pumps = [
            threading.Thread(
                target=_pump,
                args=(process.stdout, "stdout", reporter, log_file, log_lock, scraper, None),
                daemon=True,  # a leftover holding the pipe open must not keep this process alive
            ),
            threading.Thread(
                target=_pump,
                args=(process.stderr, "stderr", reporter, log_file, log_lock, scraper, tail),
                daemon=True,
            ),
        ]
        for pump in pumps:
            pump.start()
        timed_out = False
        term_sent_at: float | None = None
        known_children: set[int] = set()
        next_scan = 0.0
        while process.poll() is None:
            if time.monotonic() >= next_scan:  # /proc walks cost CPU; once a second is enough
                known_children.update(_descendants(process.pid))
                next_scan = time.monotonic() + 1.0
            if term_sent_at is None:
                over_time = max_run_seconds is not None and time.monotonic() - started > max_run_seconds
                if stop_event.is_set() or over_time:
                    timed_out = over_time and not stop_event.is_set()
                    # The group's SIGTERM may already have reached the script; a second one is harmless.
                    _kill_tree([process.pid], signal.SIGTERM)
                    term_sent_at = time.monotonic()
            elif time.monotonic() - term_sent_at > grace_seconds:
                _kill_tree([process.pid, *_descendants(process.pid)], signal.SIGKILL)
            try:
                process.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                pass
        # Whatever the script started and left running goes with it.
        leftovers = {p for p in known_children if psutil.pid_exists(p)} | set(_marked_processes(marker))
        _kill_tree(sorted(leftovers), signal.SIGKILL)
        for pump in pumps:
            pump.join(timeout=10)
    return RunOutcome(
        exit_code=process.returncode,
        stopped=stop_event.is_set(),
        timed_out=timed_out,
        stderr_tail=list(tail),
    )
