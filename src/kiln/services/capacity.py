"""Capacity as use-cases: the account limits with current use, usage and cost, and the instance types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from kiln import metadata
from kiln.errors import ValidationError
from kiln.metadata import Database
from kiln.metadata import capacity as reservations
from kiln.records import CapacityUse, utcnow
from kiln.scheduler import (
    CapacitySnapshot,
    InstanceType,
    Scheduler,
    Sizing,
    UsageLine,
    limit_name,
    summarize_usage,
)

__all__ = ["CapacityService", "LimitUsage", "TypeFit", "parse_since"]

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
USAGE_JOBS_MAX = 1_000_000  # every job since the date; a summary row each, no transitions


@dataclass(frozen=True)
class LimitUsage:
    name: str  # SageMaker's quota name: 'ml.p2.xlarge for training job usage'
    instance_type: str
    use: CapacityUse
    limit: int | None  # None: no limit (local mode)
    current: int  # instances held or waited for


@dataclass(frozen=True)
class TypeFit:
    instance_type: InstanceType
    sizing: Sizing | None  # what one instance gets here; None where strict mode refuses it
    refusal: str | None


def parse_since(value: str | None) -> datetime:
    """A date (2026-11-01) or ISO time; naive means UTC. Empty: the beginning of time."""
    if not value:
        return EPOCH
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(
            f"since={value!r} is not a date; use YYYY-MM-DD or an ISO time like 2026-11-01T09:00:00Z"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


@dataclass
class CapacityService:
    db: Database
    scheduler: Scheduler

    def snapshot(self) -> CapacitySnapshot:
        return self.scheduler.snapshot()

    def limits(self) -> list[LimitUsage]:
        """Every use of every type (``local`` has no limit and is left out), by type then use."""
        found = []
        for name in self.scheduler.catalog:
            itype = self.scheduler.instance_type(name)
            if itype.is_local:
                continue
            for use in CapacityUse:
                found.append(
                    LimitUsage(
                        limit_name(name, use),
                        name,
                        use,
                        self.scheduler.limits.limit(use, itype),
                        self.scheduler.utilization(use, name),
                    )
                )
        return found

    def usage(self, *, since: str | None, by: str) -> tuple[datetime, list[UsageLine]]:
        start = parse_since(since)
        now = utcnow()
        jobs = metadata.list_training_jobs(self.db, created_since=start, limit=USAGE_JOBS_MAX)
        endpoints = reservations.list_reservations(self.db, use=CapacityUse.ENDPOINT, since=start)
        endpoints += reservations.list_reservations(self.db, use=CapacityUse.TRANSFORM, since=start)
        lines = summarize_usage(jobs, endpoints, by=by, since=start, now=now, price_of=self._reference_price)
        return start, lines

    def instance_types(self) -> list[TypeFit]:
        fits = []
        for name in self.scheduler.catalog:
            itype = self.scheduler.instance_type(name)
            try:
                fits.append(TypeFit(itype, self.scheduler.size(name, 1), None))
            except ValidationError as e:
                fits.append(TypeFit(itype, None, e.message))
        return fits

    def _reference_price(self, instance_type: str) -> float:
        try:
            return self.scheduler.instance_type(instance_type).price_per_hour
        except ValidationError:
            return 0.0  # a type the operator has since removed
