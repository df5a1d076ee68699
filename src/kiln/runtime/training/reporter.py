"""Ships a host's log lines, metric values, status changes and final result to the control plane.

Lines are batched (a flush every FLUSH_SECONDS, or sooner when many wait) and numbered, so a batch
whose answer was lost is re-sent and recognised. While the server is away (restarting), batches wait
and are retried; nothing is dropped; a server that comes back on another port is found again through
its record (``$KILN_HOME/server.json``). An empty batch every HEARTBEAT_SECONDS is the host's heartbeat.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

__all__ = ["Reporter"]

FLUSH_SECONDS = 0.2  # how long a printed line may wait before it is visible to followers
HEARTBEAT_SECONDS = 5.0
MAX_BATCH_LINES = 2000
RETRY_FOR_SECONDS = 900.0  # keep retrying through a server restart for this long, then give up
REQUEST_TIMEOUT_SECONDS = 30.0


@dataclass
class _Pending:
    lines: list[dict[str, Any]]
    metrics: list[dict[str, Any]]
    statuses: list[dict[str, Any]]

    def empty(self) -> bool:
        return not self.lines and not self.metrics and not self.statuses


class Reporter:
    def __init__(
        self,
        server_url: str,
        job_name: str,
        host: str,
        token: str | None = None,
        *,
        server_record: Path | None = None,
    ) -> None:
        parsed = urlparse(server_url)
        self._netloc = parsed.netloc
        self._https = parsed.scheme == "https"
        self._server_record = server_record
        self._base = f"/api/v1/internal/training-jobs/{quote(job_name)}/hosts/{quote(host)}"
        self._headers = {"Content-Type": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._pending = _Pending([], [], [])
        self._pending_lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._batch = 0
        self._last_sent = time.monotonic()
        self._conn: http.client.HTTPConnection | None = None
        self._thread = threading.Thread(target=self._loop, name="kiln-reporter", daemon=True)
        self._thread.start()

    # -- producers ----------------------------------------------------------------------------------

    def line(self, message: str, stream: str = "stdout", timestamp: float | None = None) -> None:
        with self._pending_lock:
            self._pending.lines.append({"t": timestamp or time.time(), "s": stream, "m": message})
            if len(self._pending.lines) >= MAX_BATCH_LINES:
                self._wake.set()

    def metric(self, name: str, value: float, timestamp: float | None = None) -> None:
        with self._pending_lock:
            self._pending.metrics.append({"name": name, "value": value, "t": timestamp or time.time()})

    def status(self, status: str, message: str) -> None:
        """Record a secondary status change. It travels with the next batch of lines, stamped with
        the time it happened, so statuses cost the control plane no request of their own."""
        with self._pending_lock:
            self._pending.statuses.append({"status": status, "message": message, "t": time.time()})

    def finish(self, result: dict[str, Any]) -> None:
        """Report the host's ending; the last lines and statuses travel in the same request."""
        with self._pending_lock:
            fits = len(self._pending.lines) <= MAX_BATCH_LINES
        if not fits:
            self.flush()
        with self._send_lock:
            with self._pending_lock:
                pending, self._pending = self._pending, _Pending([], [], [])
            body = dict(result)
            if not pending.empty():
                self._batch += 1
                body["events"] = {
                    "batch": self._batch,
                    "lines": pending.lines,
                    "metrics": pending.metrics,
                    "statuses": pending.statuses,
                }
            self._post_locked("/finish", body)

    # -- sending ------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Send every pending line, metric and status now (statuses with the last batch)."""
        with self._send_lock:
            while True:
                with self._pending_lock:
                    if self._pending.empty():
                        return
                    pending = self._pending
                    rest = pending.lines[MAX_BATCH_LINES:]
                    self._pending = _Pending(rest, [], pending.statuses if rest else [])
                self._batch += 1
                body: dict[str, Any] = {
                    "batch": self._batch,
                    "lines": pending.lines[:MAX_BATCH_LINES],
                    "metrics": pending.metrics,
                }
                if not rest and pending.statuses:
                    body["statuses"] = pending.statuses
                self._post_locked("/events", body)

    def close(self) -> None:
        self._closed.set()
        self._wake.set()
        self._thread.join(timeout=5)
        self.flush()

    def _loop(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            try:
                with self._pending_lock:
                    idle = self._pending.empty()
                if idle and time.monotonic() - self._last_sent >= HEARTBEAT_SECONDS:
                    with self._send_lock:
                        self._batch += 1
                        self._post_locked("/events", {"batch": self._batch, "lines": [], "metrics": []})
                elif not idle:
                    self.flush()
            except Exception as e:  # the reporter must never take the job down
                _warn(f"kiln: could not report to the control plane: {e}")

    def _post(self, path: str, body: dict[str, Any]) -> None:
        with self._send_lock:
            self._post_locked(path, body)

    def _post_locked(self, path: str, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        deadline = time.monotonic() + RETRY_FOR_SECONDS
        delay = 0.1
        while True:
            try:
                status, text = self._request(self._base + path, payload)
                if status < 300:
                    self._last_sent = time.monotonic()
                    return
                if status < 500 and status != 429:
                    _warn(f"kiln: the control plane refused a report ({status}): {text[:300]}")
                    return
            except (OSError, http.client.HTTPException):
                self._drop_connection()
                self._find_server_again()
            if time.monotonic() > deadline:
                raise ConnectionError(
                    f"the Kiln server at {self._netloc} did not answer for {RETRY_FOR_SECONDS}s"
                )
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _request(self, path: str, payload: bytes) -> tuple[int, str]:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._netloc, timeout=REQUEST_TIMEOUT_SECONDS)
        self._conn.request("POST", path, body=payload, headers=self._headers)
        response = self._conn.getresponse()
        return response.status, response.read().decode(errors="replace")

    def _find_server_again(self) -> None:
        """Follow a restarted local server to the address its record now names."""
        if self._server_record is None:
            return
        try:
            record = json.loads(self._server_record.read_text())
            parsed = urlparse(str(record["url"]))
        except (OSError, ValueError, KeyError, TypeError):
            return
        if parsed.netloc and parsed.scheme in ("http", "https"):
            self._netloc = parsed.netloc
            self._https = parsed.scheme == "https"

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _warn(message: str) -> None:
    os.write(2, (message + "\n").encode())
