"""Executors start and watch work processes; ``resolve_executor`` picks one by name."""

from kiln.errors import ValidationError
from kiln.executors._base import Executor, ProcessHandle
from kiln.executors.local import UNKNOWN_EXIT, LocalExecutor

__all__ = ["UNKNOWN_EXIT", "Executor", "LocalExecutor", "ProcessHandle", "resolve_executor"]


def resolve_executor(name: str) -> Executor:
    if name in ("", "local"):
        return LocalExecutor()
    raise ValidationError(f"unknown executor {name!r}; this version of Kiln runs work with 'local'")
