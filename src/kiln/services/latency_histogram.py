"""Latency distributions as fixed-bucket histograms: cheap to add to, exact to merge, stored sparse.

Bucket ``i`` holds latencies in ``[BOUNDS[i-1], BOUNDS[i])`` microseconds, the bounds growing by 10 %
from 10 µs to about 10 minutes, so a percentile read back is within 5 % of the true value at any
scale. Histograms of 10-second periods add up to a minute's (or an hour's) exactly, which sketches of
percentiles alone could not.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping

__all__ = ["BOUNDS", "BUCKETS", "Histogram", "bucket_of", "merge", "percentile"]

FIRST_BOUND_US = 10.0  # anything faster is one bucket: below what a Python request path can take
GROWTH = 1.1  # each bucket 10 % wider than the last: a percentile is off by at most half of that
BUCKETS = 190  # 10 µs * 1.1**189 ≈ 680 s, past SageMaker's 60 s model timeout

BOUNDS: tuple[float, ...] = tuple(FIRST_BOUND_US * GROWTH**i for i in range(BUCKETS - 1))

Histogram = dict[int, int]  # bucket index → count; only buckets that were hit


def bucket_of(microseconds: float) -> int:
    """The bucket a latency falls in (the last bucket takes everything past the bounds)."""
    return bisect.bisect_right(BOUNDS, microseconds)


def merge(histograms: Iterable[Mapping[int, int]]) -> Histogram:
    total: Histogram = {}
    for histogram in histograms:
        for index, count in histogram.items():
            total[index] = total.get(index, 0) + count
    return total


def _midpoint(index: int) -> float:
    """A bucket's representative latency: the geometric middle of its bounds."""
    if index <= 0:
        return FIRST_BOUND_US / 2
    if index >= len(BOUNDS):
        return BOUNDS[-1]
    return math.sqrt(BOUNDS[index - 1] * BOUNDS[index])


def percentile(histogram: Mapping[int, int], quantile: float) -> float | None:
    """The latency (µs) below which ``quantile`` of the requests fall; None for no requests."""
    count = sum(histogram.values())
    if count == 0:
        return None
    rank = max(1, math.ceil(quantile * count))  # nearest rank, as CloudWatch's pNN statistics
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            return _midpoint(index)
    return _midpoint(max(histogram))
