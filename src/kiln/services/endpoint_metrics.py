"""Endpoint metrics as SageMaker publishes them to CloudWatch (namespace AWS/SageMaker), per variant.

Invocations, Invocation4XXErrors, Invocation5XXErrors, InvocationsPerInstance (invocations divided
by the variant's instances), ModelLatency (the instance's time, as the router sees it) and
OverheadLatency (the rest of the time from a request's arrival to its answer), in microseconds with
their average and p50 / p90 / p99. Periods are 10 seconds (high resolution) or whole minutes.

The router counts in memory (``InvocationMetrics``); the flusher thread stores each 10-second period
a second after it ends and drops periods older than the retention limit. Counting starts when a
request reaches a variant: requests refused before that (unknown endpoint, body too large) have no
variant to count against.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from kiln.errors import ValidationError
from kiln.metadata import Database, hosting
from kiln.metadata.endpoint_metrics import (
    add_metric_periods,
    delete_metric_periods_before,
    list_metric_periods,
)
from kiln.records import EndpointMetricPeriod
from kiln.services.invocation_metrics import PERIOD_SECONDS, InvocationMetrics
from kiln.services.latency_histogram import merge, percentile

__all__ = ["EndpointMetrics", "LatencyStatistics", "MetricDatapoint", "VariantMetrics"]

log = logging.getLogger("kiln.endpoint_metrics")

FLUSH_EVERY_SECONDS = 1.0  # a 10-second period is stored at most this long after its grace ends
PRUNE_EVERY_SECONDS = 60.0
MAX_DATAPOINTS = 1440  # per variant and request, CloudWatch's GetMetricStatistics limit
DEFAULT_DATAPOINTS = 60  # without a start: the last 60 periods (10 minutes at 10 s, an hour at 60 s)
PERCENTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))


@dataclass(frozen=True)
class LatencyStatistics:
    average: float
    percentiles: dict[str, float]  # "p50", "p90", "p99" → microseconds


@dataclass(frozen=True)
class MetricDatapoint:
    timestamp: datetime
    invocations: int
    errors_4xx: int
    errors_5xx: int
    invocations_per_instance: float
    model_latency: LatencyStatistics | None  # None when no request reached a model
    overhead_latency: LatencyStatistics


@dataclass(frozen=True)
class VariantMetrics:
    variant: str
    datapoints: tuple[MetricDatapoint, ...]


def _statistics(histograms: list[dict[int, int]], total_us: float) -> LatencyStatistics | None:
    merged = merge(histograms)
    count = sum(merged.values())
    if count == 0:
        return None
    return LatencyStatistics(
        average=total_us / count,
        percentiles={name: percentile(merged, q) or 0.0 for name, q in PERCENTILES},
    )


def _datapoint(start: int, periods: list[EndpointMetricPeriod]) -> MetricDatapoint:
    invocations = sum(p.invocations for p in periods)
    # InvocationsPerInstance: each 10-second period's invocations over its instances, summed.
    per_instance = sum(p.invocations / max(1, p.instances) for p in periods)
    overhead = _statistics(
        [p.overhead_latency for p in periods], sum(p.overhead_latency_sum_us for p in periods)
    )
    return MetricDatapoint(
        timestamp=datetime.fromtimestamp(start, timezone.utc),
        invocations=invocations,
        errors_4xx=sum(p.errors_4xx for p in periods),
        errors_5xx=sum(p.errors_5xx for p in periods),
        invocations_per_instance=per_instance,
        model_latency=_statistics(
            [p.model_latency for p in periods], sum(p.model_latency_sum_us for p in periods)
        ),
        overhead_latency=overhead or LatencyStatistics(0.0, {name: 0.0 for name, _ in PERCENTILES}),
    )


def check_period(period: int) -> None:
    if period != PERIOD_SECONDS and (period < 60 or period % 60):
        raise ValidationError(
            f"Period {period} is not valid: use 10 (high resolution) or a multiple of 60 seconds"
        )


class EndpointMetrics:
    """Endpoint metrics for one server: the router's recorder, its flusher thread, and queries."""

    def __init__(self, db: Database, retention_seconds: float, enabled: bool = True) -> None:
        self.db = db
        self.retention_seconds = retention_seconds
        self.recorder: InvocationMetrics | None = InvocationMetrics() if enabled else None
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pruned_at = 0.0

    # -- storing -------------------------------------------------------------------------------------

    def flush(self, now: float | None = None, everything: bool = False) -> int:
        """Store the periods that ended (or all of them); returns how many were stored."""
        if self.recorder is None:
            return 0
        with self._flush_lock:
            periods = self.recorder.take_all() if everything else self.recorder.take_ended(now)
            add_metric_periods(self.db, periods)
        return len(periods)

    def prune(self, now: float | None = None) -> int:
        cutoff = int((time.time() if now is None else now) - self.retention_seconds)
        return delete_metric_periods_before(self.db, cutoff)

    def start(self) -> None:
        if self.recorder is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="kiln-endpoint-metrics", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the flusher and store what was counted, the current periods too."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self.flush(everything=True)
        except Exception:  # a server shutting down must not fail on its last metrics
            log.exception("storing the last endpoint metrics failed")

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_EVERY_SECONDS):
            try:
                self.flush()
                if time.monotonic() - self._pruned_at >= PRUNE_EVERY_SECONDS:
                    self._pruned_at = time.monotonic()
                    self.prune()
            except Exception:  # one failed write (a locked database) must not end the flusher
                log.exception("storing endpoint metrics failed; the periods are retried")

    # -- reading -------------------------------------------------------------------------------------

    def query(
        self,
        endpoint: str,
        period: int = 60,
        start: datetime | None = None,
        end: datetime | None = None,
        variant: str | None = None,
    ) -> tuple[int, int, list[VariantMetrics]]:
        """(start, end, variants): datapoints of ``period`` seconds in ``[start, end)`` (epoch seconds,
        ``start`` aligned down to the period), oldest first; periods without invocations are left out."""
        check_period(period)
        described = hosting.get_endpoint(self.db, endpoint)  # NotFound names the endpoint
        until = int((end or datetime.now(timezone.utc)).timestamp())
        since = int(start.timestamp()) if start is not None else until - DEFAULT_DATAPOINTS * period
        since -= since % period
        if since >= until:
            raise ValidationError(
                f"StartTime {_iso(since)} is not before EndTime {_iso(until)}; give an earlier start"
            )
        if (until - since) / period > MAX_DATAPOINTS:
            raise ValidationError(
                f"{(until - since) // period} datapoints of {period} s asked for, "
                f"more than {MAX_DATAPOINTS}; shorten the time range or use a longer period"
            )
        grouped: dict[str, dict[int, list[EndpointMetricPeriod]]] = {}
        for stored in list_metric_periods(self.db, endpoint, since, until):
            if variant is not None and stored.variant != variant:
                continue
            bucket = stored.start - stored.start % period
            grouped.setdefault(stored.variant, {}).setdefault(bucket, []).append(stored)
        names = {name for name in described.weights if variant is None or name == variant} | set(grouped)
        variants = [
            VariantMetrics(
                name, tuple(_datapoint(s, periods) for s, periods in sorted(grouped.get(name, {}).items()))
            )
            for name in sorted(names)
        ]
        return since, until, variants


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat()
