"""Executors start and watch work processes; ``resolve_executor`` picks one by name.

The contract is ``Executor``'s docstring (``executors/_base.py``); ``kiln.testing.executors`` checks
that an executor keeps it.
"""

from kiln.errors import ValidationError
from kiln.executors._base import UNKNOWN_EXIT, Executor, LaunchUnit
from kiln.executors.local import RESULT_FILE_VARIABLE, LocalExecutor

__all__ = [
    "RESULT_FILE_VARIABLE",
    "UNKNOWN_EXIT",
    "Executor",
    "LaunchUnit",
    "LocalExecutor",
    "resolve_executor",
]


def resolve_executor(name: str) -> Executor:
    if name in ("", "local"):
        return LocalExecutor()
    raise ValidationError(f"unknown executor {name!r}; this version of Kiln runs work with 'local'")
