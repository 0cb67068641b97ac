"""Understand the simple CHECK constraints a generator can honour.

Supported, joined by AND: ``col IN (...)`` (PostgreSQL shows it as ``col = ANY (ARRAY[...])``),
comparisons of a column with a constant (``>= > <= < = <>``), ``BETWEEN``, ``IS NOT NULL`` and
``length(col) > N``. Anything else raises :class:`CheckNotUnderstood` so the table is reported
instead of failing half-way through a COPY.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from dbadmin.explain.sqltext import split_top_level, strip_parens, unquote_ident

_CAST = re.compile(
    r"::\s*(?:\"[^\"]+\"|character varying|double precision|"
    r"timestamp with(?:out)? time zone|time with(?:out)? time zone|bit varying|"
    r"[A-Za-z_][\w.]*)(?:\(\d+(?:,\s*\d+)?\))?(?:\[\])*"
)
_LIT = r"'(?:[^']|'')*'|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false"
_IDENT = r'"(?:[^"]|"")+"|[A-Za-z_][\w$]*'
_WRAPPED = re.compile(rf"(?<![\w$])\(\s*({_IDENT}|{_LIT})\s*\)")
_BETWEEN = re.compile(rf"({_IDENT})\s+BETWEEN\s+({_LIT})\s+AND\s+({_LIT})", re.I)
_IN = re.compile(rf"^({_IDENT})\s+IN\s*\((.*)\)$", re.I | re.S)
_ANY = re.compile(rf"^({_IDENT})\s*=\s*ANY\s*\(\s*\(?\s*ARRAY\s*\[(.*)\]\s*\)?\s*\)$", re.I | re.S)
_CMP = re.compile(rf"^({_IDENT})\s*(>=|<=|<>|!=|>|<|=)\s*({_LIT})$", re.I)
_CMP_REV = re.compile(rf"^({_LIT})\s*(>=|<=|<>|!=|>|<|=)\s*({_IDENT})$", re.I)
_NOT_NULL = re.compile(rf"^({_IDENT})\s+IS\s+NOT\s+NULL$", re.I)
_LENGTH = re.compile(rf"^(?:char_length|length)\s*\(\s*({_IDENT})\s*\)\s*(>=|>)\s*(\d+)$", re.I)
_FLIP = {">=": "<=", "<=": ">=", ">": "<", "<": ">", "=": "=", "<>": "<>", "!=": "!="}


class CheckNotUnderstood(ValueError):
    pass


@dataclass
class ColumnCheck:
    """What the CHECK constraints of a table allow for one column."""

    values: list[str] | None = None  # allowed values (IN / =), as text
    lo: float | None = None
    lo_strict: bool = False
    hi: float | None = None
    hi_strict: bool = False
    excluded: set[str] = field(default_factory=set)
    min_length: int = 0

    def allow(self, values: list[str]) -> None:
        self.values = values if self.values is None else [v for v in self.values if v in values]

    def bound(self, op: str, number: float) -> None:
        if op in (">", ">="):
            if self.lo is None or number > self.lo or (number == self.lo and op == ">"):
                self.lo, self.lo_strict = number, op == ">"
        elif op in ("<", "<=") and (
            self.hi is None or number < self.hi or (number == self.hi and op == "<")
        ):
            self.hi, self.hi_strict = number, op == "<"


def _literal(raw: str) -> str:
    if raw.startswith("'"):
        return raw[1:-1].replace("''", "'")
    low = raw.lower()
    if low in ("true", "false"):
        return "t" if low == "true" else "f"
    return raw


def normalise(sqltext: str) -> str:
    text = _CAST.sub("", sqltext)
    previous = None
    while previous != text:
        previous = text
        text = _WRAPPED.sub(r"\1", text)
    text = _BETWEEN.sub(r"\1 >= \2 AND \1 <= \3", text)
    return strip_parens(text)


def parse_check(sqltext: str, columns: set[str], into: dict[str, ColumnCheck]) -> None:
    """Fold one CHECK constraint into per-column rules; raise when the form is unsupported."""
    text = normalise(sqltext)
    for conjunct in split_top_level(text, "AND"):
        part = strip_parens(conjunct)
        column, apply = _conjunct(part)
        if column not in columns:
            raise CheckNotUnderstood(f"CHECK ({sqltext}) names {column!r}, not a column")
        apply(into.setdefault(column, ColumnCheck()))


def _conjunct(part: str) -> tuple[str, Callable[[ColumnCheck], None]]:
    if match := _IN.match(part) or _ANY.match(part):
        items = split_top_level(match.group(2), ",")
        values = [_literal(v) for v in items]
        if not values or any(not re.fullmatch(_LIT, v) for v in items):
            raise CheckNotUnderstood(part)
        return unquote_ident(match.group(1)), lambda c: c.allow(values)
    if match := _NOT_NULL.match(part):
        return unquote_ident(match.group(1)), lambda c: None
    if match := _LENGTH.match(part):
        need = int(match.group(3)) + (1 if match.group(2) == ">" else 0)

        def set_length(c: ColumnCheck) -> None:
            c.min_length = max(c.min_length, need)

        return unquote_ident(match.group(1)), set_length
    match = _CMP.match(part)
    if match:
        column, op, literal = unquote_ident(match.group(1)), match.group(2), match.group(3)
    elif match := _CMP_REV.match(part):
        column, op, literal = unquote_ident(match.group(3)), _FLIP[match.group(2)], match.group(1)
    else:
        raise CheckNotUnderstood(part)
    value = _literal(literal)
    if op == "=":
        return column, lambda c: c.allow([value])
    if op in ("<>", "!="):
        return column, lambda c: c.excluded.add(value)
    if literal.startswith("'"):
        if value == "" and op == ">":
            return column, lambda c: setattr(c, "min_length", max(c.min_length, 1))
        raise CheckNotUnderstood(part)
    number = float(value)
    return column, lambda c: c.bound(op, number)
