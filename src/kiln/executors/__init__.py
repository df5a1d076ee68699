"""Executors start and watch work processes; ``resolve_executor`` picks one by name.

The contract is ``Executor``'s docstring (``executors/_base.py``); ``kiln.testing.executors`` checks
that an executor keeps it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kiln.errors import ValidationError
from kiln.executors._base import UNKNOWN_EXIT, Executor, GroupNotPlaced, LaunchUnit, Placement, UnitResources
from kiln.executors.local import RESULT_FILE_VARIABLE, LocalExecutor

__all__ = [
    "RESULT_FILE_VARIABLE",
    "UNKNOWN_EXIT",
    "Executor",
    "GroupNotPlaced",
    "LaunchUnit",
    "LocalExecutor",
    "Placement",
    "UnitResources",
    "resolve_executor",
]

if TYPE_CHECKING:
    from kiln.config import Settings


def resolve_executor(name: str, settings: Settings | None = None) -> Executor:
    """The executor called ``name``: ``local`` (this machine) or ``ray`` (the Ray cluster at
    ``settings.ray_address``; Ray is imported only then)."""
    if name in ("", "local"):
        return LocalExecutor()
    if name == "ray":
        from kiln.executors.ray import RayExecutor

        if settings is None:
            return RayExecutor()
        return RayExecutor(
            settings.ray_address or "auto",
            strategy=settings.ray_placement_strategy,
            placement_timeout_seconds=settings.ray_placement_timeout_seconds,
            linger_seconds=settings.ray_linger_seconds,
        )
    raise ValidationError(
        f"unknown executor {name!r}; choose 'local' (this machine) or 'ray' (a Ray cluster)"
    )
