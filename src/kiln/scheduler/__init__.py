"""Capacity: the instance-type catalog, account limits, the machine's inventory, the queue, and cost.

``resolve_scheduler(settings, db)`` builds the server's one ``Scheduler``; services and endpoints ask it
for capacity with ``reserve`` and give it back with ``release``.
"""

from kiln.scheduler.capacity import CpuPool, Machine, detect_machine
from kiln.scheduler.instance_types import CATALOG, Catalog, InstanceType, get_instance_type, resolve_catalog
from kiln.scheduler.limits import AccountLimits, limit_name, resolve_limits
from kiln.scheduler.scheduler import CapacitySnapshot, Scheduler, resolve_scheduler
from kiln.scheduler.sizing import Sizing, size_request
from kiln.scheduler.usage import USAGE_GROUPINGS, UsageLine, summarize_usage

__all__ = [
    "CATALOG",
    "USAGE_GROUPINGS",
    "AccountLimits",
    "CapacitySnapshot",
    "Catalog",
    "CpuPool",
    "InstanceType",
    "Machine",
    "Scheduler",
    "Sizing",
    "UsageLine",
    "detect_machine",
    "get_instance_type",
    "limit_name",
    "resolve_catalog",
    "resolve_limits",
    "resolve_scheduler",
    "size_request",
    "summarize_usage",
]
