"""Endpoint metrics: per-variant 10-second periods, added to (never overwritten) and pruned by age."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select

from kiln.metadata.database import Database
from kiln.metadata.tables import EndpointMetricRow
from kiln.records import EndpointMetricPeriod

__all__ = ["add_metric_periods", "delete_metric_periods_before", "list_metric_periods"]


def _histogram(stored: dict[str, int]) -> dict[int, int]:
    return {int(index): count for index, count in stored.items()}  # JSON keys come back as strings


def _stored(histogram: dict[int, int]) -> dict[str, int]:
    return {str(index): count for index, count in sorted(histogram.items())}


def _added(row_histogram: dict[str, int], more: dict[int, int]) -> dict[str, int]:
    total = _histogram(row_histogram)
    for index, count in more.items():
        total[index] = total.get(index, 0) + count
    return _stored(total)


def add_metric_periods(db: Database, periods: Sequence[EndpointMetricPeriod]) -> None:
    """Store periods; one already stored (a period flushed in parts, e.g. across a restart) is added to.

    Callers write from one thread at a time (the recorder's flush lock): read-then-write is safe."""
    if not periods:
        return
    with db.session() as session:
        for period in periods:
            row = session.scalars(
                select(EndpointMetricRow).where(
                    EndpointMetricRow.endpoint_name == period.endpoint,
                    EndpointMetricRow.variant_name == period.variant,
                    EndpointMetricRow.period_start == period.start,
                )
            ).one_or_none()
            if row is None:
                session.add(
                    EndpointMetricRow(
                        endpoint_name=period.endpoint,
                        variant_name=period.variant,
                        period_start=period.start,
                        invocations=period.invocations,
                        errors_4xx=period.errors_4xx,
                        errors_5xx=period.errors_5xx,
                        instances=period.instances,
                        model_latency=_stored(period.model_latency),
                        overhead_latency=_stored(period.overhead_latency),
                        model_latency_sum_us=period.model_latency_sum_us,
                        overhead_latency_sum_us=period.overhead_latency_sum_us,
                    )
                )
                continue
            row.invocations += period.invocations
            row.errors_4xx += period.errors_4xx
            row.errors_5xx += period.errors_5xx
            row.instances = max(row.instances, period.instances)
            row.model_latency = _added(row.model_latency, period.model_latency)
            row.overhead_latency = _added(row.overhead_latency, period.overhead_latency)
            row.model_latency_sum_us += period.model_latency_sum_us
            row.overhead_latency_sum_us += period.overhead_latency_sum_us


def list_metric_periods(db: Database, endpoint: str, start: int, end: int) -> list[EndpointMetricPeriod]:
    """The endpoint's periods that start in ``[start, end)`` (epoch seconds), oldest first."""
    with db.session() as session:
        rows = session.scalars(
            select(EndpointMetricRow)
            .where(
                EndpointMetricRow.endpoint_name == endpoint,
                EndpointMetricRow.period_start >= start,
                EndpointMetricRow.period_start < end,
            )
            .order_by(EndpointMetricRow.period_start, EndpointMetricRow.variant_name)
        ).all()
        return [
            EndpointMetricPeriod(
                endpoint=row.endpoint_name,
                variant=row.variant_name,
                start=row.period_start,
                invocations=row.invocations,
                errors_4xx=row.errors_4xx,
                errors_5xx=row.errors_5xx,
                instances=row.instances,
                model_latency=_histogram(row.model_latency),
                overhead_latency=_histogram(row.overhead_latency),
                model_latency_sum_us=row.model_latency_sum_us,
                overhead_latency_sum_us=row.overhead_latency_sum_us,
            )
            for row in rows
        ]


def delete_metric_periods_before(db: Database, cutoff: int) -> int:
    """Drop every period that started before ``cutoff`` (epoch seconds): the retention limit."""
    with db.session() as session:
        result = session.execute(delete(EndpointMetricRow).where(EndpointMetricRow.period_start < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)
