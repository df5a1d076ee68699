"""Jinja filters: durations, money, times and sizes the way the CLI prints them."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from kiln.codecs.hyperparameters import display_hyperparameter

__all__ = ["decoded_hyperparameter", "duration", "money", "short_time"]


def duration(seconds: float | int | None) -> str:
    if seconds is None or seconds <= 0:
        return "—"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def money(value: float | None) -> str:
    if value is None:
        return "—"
    if 0 < value < 0.01:
        return f"${value:.4f}"
    return f"${value:,.2f}"


def short_time(value: datetime | None) -> str:
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def decoded_hyperparameter(value: Any) -> str:
    """The SDK JSON-encodes hyperparameter values; show ``0.1`` rather than ``"0.1"``-style noise."""
    return display_hyperparameter(value)
