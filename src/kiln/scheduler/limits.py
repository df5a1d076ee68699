"""Account limits: how many instances of each type each use (training, endpoints, tuning) may hold.

SageMaker-like defaults (docs/contracts.md §5): ``ml.p2.xlarge`` 1, other GPU types 2, general-purpose
types 20, ``local`` unlimited. The operator changes them in ``config.toml``; ``"*"`` sets every type
of a use::

    [limits.training]
    "ml.p2.xlarge" = 2
    "*" = 10

A request that would go over is refused at once, in SageMaker's words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kiln.config import CapacitySettings
from kiln.errors import ResourceLimitExceeded, ValidationError
from kiln.records import CapacityUse
from kiln.scheduler.instance_types import Catalog, InstanceType

__all__ = ["AccountLimits", "limit_name", "resolve_limits"]

GENERAL_PURPOSE_LIMIT = 20  # instances per type and use, as SageMaker grants general-purpose types
GPU_LIMIT = 2  # GPU types (ml.p3.2xlarge: 2 in amazon-sagemaker-examples PR #1358)
DEFAULT_LIMITS = {"ml.p2.xlarge": 1}  # the 2018 tutorial's type: 1 concurrent instance (PR #1358)
EVERY_TYPE = "*"


def limit_name(instance_type: str, use: CapacityUse) -> str:
    """SageMaker's quota name, e.g. 'ml.p2.xlarge for training job usage'."""
    return f"{instance_type} for {use.usage_name}"


@dataclass(frozen=True)
class AccountLimits:
    configured: Mapping[CapacityUse, Mapping[str, int]]  # what config.toml says, "*" included
    source: str  # the config file, for messages

    def limit(self, use: CapacityUse, instance_type: InstanceType) -> int | None:
        """Instances of this type this use may hold at once; None: no limit (``local``)."""
        if instance_type.is_local:
            return None
        table = self.configured.get(use, {})
        if instance_type.name in table:
            return table[instance_type.name]
        if EVERY_TYPE in table:
            return table[EVERY_TYPE]
        if instance_type.name in DEFAULT_LIMITS:
            return DEFAULT_LIMITS[instance_type.name]
        return GPU_LIMIT if instance_type.is_gpu else GENERAL_PURPOSE_LIMIT

    def check(self, use: CapacityUse, instance_type: InstanceType, utilization: int, delta: int) -> None:
        """Raise ResourceLimitExceeded if ``delta`` more instances would go over the limit."""
        limit = self.limit(use, instance_type)
        if limit is None or utilization + delta <= limit:
            return
        name = limit_name(instance_type.name, use)
        raise ResourceLimitExceeded(
            f"The account-level service limit '{name}' is {limit} Instances, with current utilization "
            f"of {utilization} Instances and a request delta of {delta} Instances. To raise it, set "
            f'[limits.{use.value}] "{instance_type.name}" = {utilization + delta} in {self.source} '
            "and restart the server, or wait for running work to end; `kiln limits` shows limits "
            "and current use."
        )


def resolve_limits(capacity: CapacitySettings, catalog: Catalog) -> AccountLimits:
    """The operator's limits, checked against the known uses and instance types."""
    configured: dict[CapacityUse, dict[str, int]] = {}
    uses = ", ".join(u.value for u in CapacityUse)
    source = capacity.source if capacity.source.endswith(".toml") else "$KILN_HOME/config.toml"
    for use_name, table in capacity.limits.items():
        try:
            use = CapacityUse(use_name)
        except ValueError:
            raise ValidationError(
                f"config file {capacity.source}: [limits.{use_name}] names no use; use one of: {uses}"
            ) from None
        for type_name in table:
            if type_name != EVERY_TYPE and type_name not in catalog:
                raise ValidationError(
                    f"config file {capacity.source}: limits.{use_name}.{type_name!r} names no known "
                    f'instance type; use a name from `kiln instance-types`, or "*" for every type'
                )
        configured[use] = dict(table)
    return AccountLimits(configured, source)
