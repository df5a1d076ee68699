"""Capacity: the instance-type catalog (and, later, the queue and account limits)."""

from kiln.scheduler.instance_types import CATALOG, InstanceType, get_instance_type

__all__ = ["CATALOG", "InstanceType", "get_instance_type"]
