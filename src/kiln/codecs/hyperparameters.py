"""Hyperparameter values: strings on the wire, JSON inside them wherever the SDK put JSON.

SageMaker's API carries every hyperparameter as a string. Its Python SDK JSON-encodes each value
(``0.1`` → ``'0.1'``, ``"adam"`` → ``'"adam"'``), and its training toolkit decodes each one where it
parses and keeps the raw string where it does not ("Failed to parse hyperparameter"), so a value typed
by hand (``adam``) still arrives. Every layer that reads hyperparameters back — the training runtime,
the server's checks, the CLI, the console — follows that one rule, written here once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "decode_hyperparameter",
    "decode_hyperparameters",
    "display_hyperparameter",
    "encode_hyperparameter",
]


def encode_hyperparameter(value: Any) -> str:
    """The wire form of one value, as SageMaker's SDK writes it (JSON, strings quoted)."""
    return json.dumps(value)


def decode_hyperparameter(value: str) -> Any:
    """One value as the script sees it: JSON-decoded where it parses, else the string unchanged."""
    try:
        return json.loads(value)
    except (json.JSONDecodeError, TypeError):
        return value


def decode_hyperparameters(raw: Mapping[str, str]) -> dict[str, Any]:
    """Every value of a ``HyperParameters`` map, decoded as :func:`decode_hyperparameter` does."""
    return {key: decode_hyperparameter(value) for key, value in raw.items()}


def display_hyperparameter(value: Any) -> str:
    """One value for a person to read or edit: ``0.1`` and ``adam`` rather than ``"adam"``."""
    decoded = decode_hyperparameter(value) if isinstance(value, str) else value
    return decoded if isinstance(decoded, str) else json.dumps(decoded)
