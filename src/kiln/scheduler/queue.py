"""The admission queue: reservations within their limits that wait for free capacity.

Order is higher priority first, then first come first served (the reservation id). Admission is strict:
while the head does not fit, nothing behind it starts, so a large job is never starved by small ones.
"""

from __future__ import annotations

import bisect
import sys
from collections.abc import Iterator

from kiln.records import Reservation
from kiln.scheduler.capacity import CpuPool

__all__ = ["AdmissionQueue", "Placement"]

Placement = list[tuple[tuple[int, ...], tuple[int, ...]]]  # per instance: (CPU ids, GPU ids)


def _order(reservation: Reservation) -> tuple[int, int]:
    return (-reservation.priority, reservation.id)


class AdmissionQueue:
    """Pending reservations in start order. Not thread-safe: the scheduler holds its lock."""

    def __init__(self) -> None:
        self._keys: list[tuple[int, int]] = []
        self._items: list[Reservation] = []

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Reservation]:
        return iter(list(self._items))

    def push(self, reservation: Reservation) -> int:
        """Queue ``reservation``; returns how many wait ahead of it."""
        key = _order(reservation)
        at = bisect.bisect(self._keys, key)
        self._keys.insert(at, key)
        self._items.insert(at, reservation)
        return at

    def would_lead(self, priority: int) -> bool:
        """Whether a new reservation (newest, so last among equals) would be at the head."""
        return not self._keys or -priority < self._keys[0][0]

    def ahead_of(self, priority: int) -> int:
        """How many wait ahead of a new reservation (newest, so last among equals) of ``priority``."""
        return bisect.bisect(self._keys, (-priority, sys.maxsize))

    def remove(self, owner: str) -> Reservation | None:
        for at, item in enumerate(self._items):
            if item.owner == owner:
                del self._items[at]
                del self._keys[at]
                return item
        return None

    def position(self, owner: str) -> int | None:
        for at, item in enumerate(self._items):
            if item.owner == owner:
                return at
        return None

    def admit(self, pool: CpuPool) -> list[tuple[Reservation, Placement]]:
        """Take from the head every reservation that now fits, in order; stop at the first that does not."""
        admitted = []
        while self._items:
            head = self._items[0]
            placed = pool.take(
                head.instance_count, head.cpus_per_instance, head.slots, head.gpus_per_instance
            )
            if placed is None:
                break
            del self._items[0]
            del self._keys[0]
            admitted.append((head, placed))
        return admitted
