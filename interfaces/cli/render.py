"""Turning views into something a person reads (rich tables) or a machine reads (JSON)."""

from __future__ import annotations

import os
import sys
from datetime import date, datetime
from fractions import Fraction
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from domain.money import format_exact_fen, format_fen, format_ratio

__all__ = ["format_exact_fen"]

# Piped output (logs, CI) gets wide tables instead of rich's 80-column default.
_WIDTH = int(os.environ.get("COLUMNS", "0")) or (None if sys.stdout.isatty() else 160)
console = Console(width=_WIDTH)
err_console = Console(stderr=True)


def _default(obj: Any) -> Any:
    if isinstance(obj, Fraction):
        return format_exact_fen(obj)
    if hasattr(obj, "__dataclass_fields__"):
        return {k: getattr(obj, k) for k in obj.__dataclass_fields__}
    raise TypeError(type(obj))


def print_json(data: Any) -> None:
    console.print_json(orjson.dumps(data, default=_default).decode())


def amount(fen: int | None) -> str:
    return "" if fen is None else format_fen(fen)


def ratio(value: int | None) -> str:
    return "" if value is None else format_ratio(value)


def text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def key_values(title: str, pairs: list[tuple[str, Any]]) -> None:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in pairs:
        table.add_row(key, text(value))
    console.print(table)


def rows(title: str, headers: list[str], body: list[list[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for header in headers:
        table.add_column(header)
    for row in body:
        table.add_row(*(text(v) for v in row))
    console.print(table)
