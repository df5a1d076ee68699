"""What every command module of the CLI needs: the SDK's session and client, and NAME=VALUE options.

The SDK is imported on first use, so ``kiln --help`` and ``kiln server …`` start without loading it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kiln.errors import ValidationError

if TYPE_CHECKING:
    from kiln.sdk.client import KilnClient
    from kiln.sdk.session import Session

__all__ = ["client", "pair", "pairs", "session"]


def session() -> Session:
    """A session with the server this machine's settings name (found as the SDK finds it)."""
    from kiln.sdk.session import Session

    return Session()


def client() -> KilnClient:
    return session().client


def pair(value: str, what: str) -> tuple[str, str]:
    """``NAME=VALUE`` split at the first ``=``; ``what`` (the option) names it in the refusal."""
    name, sep, rest = value.partition("=")
    if not sep or not name:
        raise ValidationError(f"{what} {value!r} must look like NAME=VALUE")
    return name, rest


def pairs(values: list[str], what: str) -> dict[str, str]:
    """Repeated ``NAME=VALUE`` options as a mapping (a later name wins)."""
    return dict(pair(value, what) for value in values)
