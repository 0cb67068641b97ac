"""Rendering in one place: Rich renderables for people (tables that fit the terminal:
:func:`fit_table`), JSON documents for machines.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.text import Text

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
) -> FittedTable:
    """A table of plain columns: those named in ``numeric`` are numbers (right-aligned, never
    broken), the others text folded to fit. Tables with priorities use :func:`fit_table`."""
    cols = [num_col(c) if c in numeric else text_col(c, min_width=12) for c in columns]
    return fit_table(title, cols, rows)


def key_value_table(title: str | None, rows: Iterable[Sequence[Any]]) -> FittedTable:
    """A two-column summary (measure, value): the names never wrap, the values fold."""
    return fit_table(title, (key_col(""), text_col("value", min_width=20)), rows)


# --- tables that fit the terminal ----------------------------------------------------------------
# One layout for every table of human output (:func:`fit_table`; docs/output.md).
#
# Each column says what it holds (:class:`Col`): numbers, status words and identifiers a user
# copies (backup names, revisions) are never wrapped or cut; free text (queries, messages, paths)
# shrinks, folded onto more lines or cut with ``…``. When even the narrowest layout is wider than
# the terminal, the columns with the highest ``priority`` go first. ``wide`` shows every column in
# full at its natural width (lines may then be longer than the terminal: ``--wide``). The width
# comes from the console at render time (``COLUMNS``, else the terminal), so the same table fits
# 80, 120 or 200 columns. Squeezed further, text goes below its minimum (down to its header) and
# only then is the table drawn wider than asked, never with a broken number or name.

Kind = Literal["text", "number", "key"]
# the borders and padding Rich adds: one bar per column and one more, a space each side of a cell
_PER_COLUMN = 3
_EDGE = 1


@dataclass(frozen=True)
class Col:
    """One column. ``kind``: "number" (right-aligned) and "key" (a name to copy, a status) are
    never wrapped or cut; "text" shrinks down to ``min_width`` (never below its header), folded
    when ``fold`` else cut with ``…``. ``priority`` 0 is always shown; at narrow widths the
    column with the highest priority is dropped first."""

    header: str
    kind: Kind = "text"
    priority: int = 0
    min_width: int = 16
    fold: bool = True
    markup: bool = True


def num_col(header: str, priority: int = 0) -> Col:
    return Col(header, "number", priority)


def key_col(header: str, priority: int = 0) -> Col:
    return Col(header, "key", priority)


def text_col(
    header: str, *, priority: int = 0, min_width: int = 16, fold: bool = True, markup: bool = True
) -> Col:
    return Col(header, "text", priority, min_width, fold, markup)


@dataclass(frozen=True)
class Layout:
    shown: tuple[int, ...]
    widths: tuple[int, ...]  # content width per shown column
    cut: bool  # a text cut with …
    overflow: bool  # wider than asked for even at its narrowest


@dataclass
class FittedTable:
    """A Rich renderable: lays the table out for the width it is given when printed."""

    title: str | None
    columns: Sequence[Col]
    rows: list[list[Text]]
    wide: bool = False
    show_lines: bool = False
    wide_hint: bool = False  # say "--wide shows all" when something was dropped or cut
    _natural: list[int] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self._natural = [
            max([_header_width(col), *(_cell_width(row[i]) for row in self.rows)])
            for i, col in enumerate(self.columns)
        ]

    def layout(self, width: int) -> Layout:
        """Drop columns (highest priority first) until the narrowest layout fits, then share
        the spare width out, the columns needing least first, so short texts show whole."""
        natural = self._natural
        everything = tuple(range(len(self.columns)))
        if self.wide:
            return Layout(everything, tuple(natural), False, _total(natural) > width)
        minimum = [self._minimum(i) for i in everything]
        shown = list(everything)
        while _total([minimum[i] for i in shown]) > width:
            droppable = [i for i in shown if self.columns[i].priority > 0]
            if not droppable:
                break
            shown.remove(max(droppable, key=lambda i: (self.columns[i].priority, i)))
        squeezed = _total([minimum[i] for i in shown]) > width
        if squeezed:  # text goes below its minimum, down to its header, before lines overflow
            for i in shown:
                if self.columns[i].kind == "text":
                    minimum[i] = min(minimum[i], max(_header_width(self.columns[i]), 8))
        widths = {i: minimum[i] for i in shown}
        spare = width - _total(list(widths.values()))
        growing = sorted((i for i in shown if natural[i] > widths[i]), key=lambda i: natural[i])
        for n, i in enumerate(growing):
            share = max(spare, 0) // (len(growing) - n)
            extra = min(natural[i] - widths[i], share)
            widths[i] += extra
            spare -= extra
        cut = any(widths[i] < natural[i] and not self.columns[i].fold for i in shown)
        final = tuple(widths[i] for i in shown)
        return Layout(tuple(shown), final, cut, _total(list(final)) > width)

    def _minimum(self, index: int) -> int:
        col = self.columns[index]
        if col.kind != "text":
            return self._natural[index]
        return min(self._natural[index], max(_header_width(col), col.min_width))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.text import Text

        layout = self.layout(options.max_width)
        if self.title:
            yield Text.from_markup(self.title)
        table = self._table(layout)
        if layout.overflow:
            yield from console.render(table, options.update_width(_total(list(layout.widths))))
        else:
            yield table
        hidden = len(self.columns) - len(layout.shown)
        if self.wide_hint and (hidden or layout.cut):
            what = [plural(hidden, "column") + " hidden"] if hidden else []
            what += ["long text cut"] if layout.cut else []
            yield Text(f"({' and '.join(what)} to fit; --wide shows all)", style="dim")

    def _table(self, layout: Layout) -> Any:
        from rich.table import Table

        table = Table(show_lines=self.show_lines)
        for i, width in zip(layout.shown, layout.widths, strict=True):
            col = self.columns[i]
            folds = col.kind == "text" and col.fold and not self.wide
            table.add_column(
                col.header,
                justify="right" if col.kind == "number" else "left",
                width=width,
                no_wrap=not folds,
                overflow="fold" if folds else "ellipsis",
            )
        for row in self.rows:
            table.add_row(*(row[i] for i in layout.shown))
        return table


def fit_table(
    title: str | None,
    columns: Sequence[Col],
    rows: Iterable[Sequence[Any]],
    *,
    wide: bool = False,
    show_lines: bool = False,
    wide_hint: bool = False,
) -> FittedTable:
    """The one way to build a table of human output (see the module docstring). Cells are
    strings (Rich markup unless the column says ``markup=False``), numbers or None (empty)."""
    cells = [[_cell(value, col) for value, col in zip(row, columns, strict=True)] for row in rows]
    return FittedTable(title, columns, cells, wide, show_lines, wide_hint)


def _cell(value: Any, col: Col) -> Text:
    from rich.text import Text

    if value is None:
        return Text("")
    if not isinstance(value, str):
        return Text(str(value))
    return Text.from_markup(value) if col.markup else Text(value)


def _cell_width(text: Text) -> int:
    from rich.cells import cell_len

    return max((cell_len(line) for line in text.plain.split("\n")), default=0)


def _header_width(col: Col) -> int:
    from rich.cells import cell_len

    return cell_len(col.header)


def _total(widths: Sequence[int]) -> int:
    return sum(widths) + _PER_COLUMN * len(widths) + _EDGE


def plural(count: int, noun: str) -> str:
    """``1 error``, ``2 errors``, ``1,500 queries``: a count with separators and its noun."""
    if count == 1:
        return f"1 {noun}"
    return f"{count:,} " + (noun[:-1] + "ies" if noun.endswith("y") else noun + "s")


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
