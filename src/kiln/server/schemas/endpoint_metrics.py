"""The answer of ``GET /api/v1/endpoints/{name}/metrics``: CloudWatch's metric names, per variant."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from kiln.services.endpoint_metrics import LatencyStatistics, MetricDatapoint, VariantMetrics

__all__ = ["UNITS", "describe_endpoint_metrics"]

UNITS = {
    "Invocations": "None",
    "Invocation4XXErrors": "None",
    "Invocation5XXErrors": "None",
    "InvocationsPerInstance": "None",
    "ModelLatency": "Microseconds",
    "OverheadLatency": "Microseconds",
}


def _latency(statistics: LatencyStatistics | None) -> dict[str, float] | None:
    if statistics is None:
        return None
    return {"Average": round(statistics.average, 1)} | {
        name: round(value, 1) for name, value in statistics.percentiles.items()
    }


def _datapoint(point: MetricDatapoint) -> dict[str, Any]:
    return {
        "Timestamp": point.timestamp.isoformat(),
        "Invocations": point.invocations,
        "Invocation4XXErrors": point.errors_4xx,
        "Invocation5XXErrors": point.errors_5xx,
        "InvocationsPerInstance": round(point.invocations_per_instance, 3),
        "ModelLatency": _latency(point.model_latency),
        "OverheadLatency": _latency(point.overhead_latency),
    }


def _when(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat()


def describe_endpoint_metrics(
    name: str, period: int, start: int, end: int, variants: list[VariantMetrics]
) -> dict[str, Any]:
    return {
        "EndpointName": name,
        "Namespace": "AWS/SageMaker",
        "Period": period,
        "StartTime": _when(start),
        "EndTime": _when(end),
        "Units": UNITS,
        "Variants": [
            {"VariantName": v.variant, "Datapoints": [_datapoint(p) for p in v.datapoints]} for v in variants
        ],
    }
