"""How the CLI shows things: rich tables for people, ``--json`` for programs, one ``Error:`` line."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

__all__ = ["console", "error_console", "print_error", "print_json", "print_table"]

console = Console()
error_console = Console(stderr=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def print_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*["" if v is None else escape(str(v)) for v in row])  # values are data, not markup
    console.print(table)


def print_error(message: str) -> None:
    # Messages quote what the user typed ('[/x]', '[red]'); escaped, rich shows it instead of parsing it.
    error_console.print(f"[bold red]Error:[/] {escape(message)}", highlight=False, soft_wrap=True)
