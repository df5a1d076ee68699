"""Usage and estimated cost: instance-seconds at each type's reference price, by type, job or endpoint.

Training jobs are billed as SageMaker bills them: ``BillableTimeInSeconds`` (instances × seconds of
training, every attempt). Endpoints accrue from the moment their capacity is reserved until it is
released (instances × seconds), clipped to the period asked about.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from kiln.errors import ValidationError
from kiln.records import CapacityUse, Reservation, TrainingJob

__all__ = ["USAGE_GROUPINGS", "UsageLine", "summarize_usage"]

USAGE_GROUPINGS = ("type", "job", "endpoint")
SECONDS_PER_HOUR = 3600


@dataclass(frozen=True)
class UsageLine:
    key: str  # the instance type, job name or endpoint this line adds up
    kind: str  # "training-job", "endpoint", or "all" for a line by type
    instance_type: str
    instance_seconds: int
    estimated_cost: float  # USD at the type's reference price


@dataclass
class _Sum:
    kind: str
    instance_type: str
    seconds: float = 0.0
    cost: float = 0.0


def summarize_usage(
    jobs: Iterable[TrainingJob],
    endpoints: Iterable[Reservation],
    *,
    by: str,
    since: datetime,
    now: datetime,
    price_of: Callable[[str], float],
) -> list[UsageLine]:
    """Usage lines grouped ``by`` "type", "job" or "endpoint", sorted by key.

    ``jobs`` are the training jobs created since ``since``; ``endpoints`` the endpoint reservations live
    at some time since then. ``price_of`` prices a type whose job did not record one.
    """
    if by not in USAGE_GROUPINGS:
        raise ValidationError(f"by={by!r} is not a grouping; use one of: {', '.join(USAGE_GROUPINGS)}")
    sums: dict[str, _Sum] = {}

    def add(key: str, kind: str, instance_type: str, seconds: float, price: float) -> None:
        line = sums.setdefault(key, _Sum(kind, instance_type))
        line.seconds += seconds
        line.cost += seconds / SECONDS_PER_HOUR * price
        if line.instance_type != instance_type:
            line.instance_type = "(several)"

    if by in ("type", "job"):
        for job in jobs:
            price = job.price_per_hour if job.price_per_hour is not None else price_of(job.instance_type)
            key = job.instance_type if by == "type" else job.name
            add(
                key,
                "all" if by == "type" else "training-job",
                job.instance_type,
                job.billable_seconds_at(now),
                price,
            )
    for reservation in endpoints:
        # Reservations are endpoints' and, billed the same way (instance-seconds held), transform jobs'.
        is_endpoint = reservation.use is not CapacityUse.TRANSFORM
        if by == "type" or (by == "endpoint") == is_endpoint:
            seconds = reservation.instance_seconds(since, now)
            key = reservation.instance_type if by == "type" else reservation.owner
            kind = "all" if by == "type" else "endpoint" if is_endpoint else "transform-job"
            add(key, kind, reservation.instance_type, seconds, reservation.price_per_hour)
    return [
        UsageLine(key, s.kind, s.instance_type, int(s.seconds), round(s.cost, 6))
        for key, s in sorted(sums.items())
    ]
