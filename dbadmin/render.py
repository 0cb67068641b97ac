"""Rendering in one place: Rich renderables for people, JSON documents for machines.

Nothing here prints; the CLI decides where output goes (stdout for results, stderr for notices).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import json
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.table import Table

STATUS_STYLES = {
    "ok": "green",
    "info": "cyan",
    "warn": "yellow",
    "warning": "yellow",
    "fail": "bold red",
    "critical": "bold red",
    "error": "bold red",
    "unknown": "magenta",
}


def _default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, Path | uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if hasattr(value, "masked"):  # DbUrl: never the password
        return value.masked()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def to_json(document: Any) -> str:
    """One JSON document (stable key order as built by the caller)."""
    return json.dumps(document, indent=2, default=_default, ensure_ascii=False)


def styled_status(status: str) -> str:
    style = STATUS_STYLES.get(status.lower(), "")
    return f"[{style}]{status.upper()}[/{style}]" if style else status.upper()


def simple_table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    numeric: Sequence[str] = (),
) -> Table:
    """A Rich table; columns named in ``numeric`` are right-aligned."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, justify="right" if column in numeric else "left", overflow="fold")
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    return table


def human_bytes(size: float | None) -> str:
    if size is None:
        return "-"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(size) < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def human_rows(value: float | None) -> str:
    """A row count (or loops): whole numbers with separators, a fraction only below 10."""
    if value is None:
        return "?"
    if value >= 10 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def human_ms(ms: float | None) -> str:
    if ms is None:
        return "-"
    if ms < 1:
        return f"{ms:.3f} ms"
    if ms < 1000:
        return f"{ms:.1f} ms"
    return f"{ms / 1000:.2f} s"
