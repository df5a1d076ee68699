"""Counting invocations on the hot path: in memory, per variant and 10-second period.

The runtime router calls ``record`` once per invocation on the event loop's thread; that costs a dict
lookup, a few integer additions and two bucket searches, with no lock, I/O or allocation beyond a new
period's first request. A background thread takes the periods that have ended (``take_ended``) and
stores them. The two threads never touch the same period: the router writes only to the period of
"now", and periods are taken only once they ended ``GRACE_SECONDS`` ago. Dict operations themselves are
atomic under the GIL.
"""

from __future__ import annotations

import bisect
import time

from kiln.records import EndpointMetricPeriod
from kiln.services.latency_histogram import BOUNDS, BUCKETS

__all__ = ["GRACE_SECONDS", "PERIOD_SECONDS", "InvocationMetrics"]

PERIOD_SECONDS = 10  # CloudWatch's high-resolution period; minutes and hours are sums of these
GRACE_SECONDS = 1.0  # a period is taken this long after it ended: no request still writes to it


class _Period:
    __slots__ = (
        "errors_4xx",
        "errors_5xx",
        "instances",
        "invocations",
        "model",
        "model_sum",
        "overhead",
        "overhead_sum",
    )

    def __init__(self) -> None:
        self.invocations = 0
        self.errors_4xx = 0
        self.errors_5xx = 0
        self.instances = 0
        self.model = [0] * BUCKETS
        self.overhead = [0] * BUCKETS
        self.model_sum = 0.0
        self.overhead_sum = 0.0


def _sparse(counts: list[int]) -> dict[int, int]:
    return {index: count for index, count in enumerate(counts) if count}


class InvocationMetrics:
    def __init__(self) -> None:
        self._open: dict[tuple[str, str, int], _Period] = {}

    def record(
        self,
        endpoint: str,
        variant: str,
        instances: int,
        status: int,
        model_us: float | None,
        total_us: float,
    ) -> None:
        """One invocation: ``status`` is the model's (or the platform's, when no model answered),
        ``model_us`` the time the instance took (None when none was reached), ``total_us`` the time
        from the request's arrival to its answer's departure."""
        key = (endpoint, variant, int(time.time()) // PERIOD_SECONDS * PERIOD_SECONDS)
        period = self._open.get(key)
        if period is None:
            period = self._open[key] = _Period()
        period.invocations += 1
        if status >= 500:
            period.errors_5xx += 1
        elif status >= 400:
            period.errors_4xx += 1
        if instances > period.instances:
            period.instances = instances
        overhead_us = total_us
        if model_us is not None:
            period.model[bisect.bisect_right(BOUNDS, model_us)] += 1
            period.model_sum += model_us
            overhead_us = max(0.0, total_us - model_us)
        period.overhead[bisect.bisect_right(BOUNDS, overhead_us)] += 1
        period.overhead_sum += overhead_us

    def take_ended(self, now: float | None = None) -> list[EndpointMetricPeriod]:
        """Remove and return the periods that ended at least ``GRACE_SECONDS`` before ``now``."""
        cutoff = (time.time() if now is None else now) - GRACE_SECONDS - PERIOD_SECONDS
        ended = [key for key in list(self._open) if key[2] <= cutoff]
        return self._take(ended)

    def take_all(self) -> list[EndpointMetricPeriod]:
        """Remove and return every period, the current ones too (at shutdown)."""
        return self._take(list(self._open))

    def _take(self, keys: list[tuple[str, str, int]]) -> list[EndpointMetricPeriod]:
        taken = []
        for key in keys:
            period = self._open.pop(key, None)
            if period is None:
                continue
            endpoint, variant, start = key
            taken.append(
                EndpointMetricPeriod(
                    endpoint=endpoint,
                    variant=variant,
                    start=start,
                    invocations=period.invocations,
                    errors_4xx=period.errors_4xx,
                    errors_5xx=period.errors_5xx,
                    instances=period.instances,
                    model_latency=_sparse(period.model),
                    overhead_latency=_sparse(period.overhead),
                    model_latency_sum_us=period.model_sum,
                    overhead_latency_sum_us=period.overhead_sum,
                )
            )
        return taken
