"""Reading the filters PostgreSQL deparses into EXPLAIN (``Filter``, ``Index Cond``...).

Each top-level AND term is classified the way an expert reads it: a column compared with a
constant (index key: equality first, then one range), ``IS NULL`` or a boolean constant (a
partial index predicate), a column compared with another table's column (a join or a
correlated sub-query: an index key too, across loops), or a term no B-tree can serve as written
(a cast or a function on the column, a leading-wildcard LIKE, an OR across columns), which
calls for a rewrite rather than an index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dbadmin.sqltext import split_top_level, strip_parens, unquote_ident

_IDENT = r'"(?:[^"]|"")+"|[A-Za-z_][\w$]*'
_TYPE = r'[\w ."\[\]]+?'
_COLREF = rf"\(?(?:(?P<qual>{_IDENT})\.)?(?P<col>{_IDENT})\)?(?:::{_TYPE})?"
_CONJUNCT = re.compile(
    rf"^{_COLREF}\s*(?P<op>=|<=|>=|<|>|IS NULL)\s*(?P<rhs>.*)$", re.IGNORECASE | re.DOTALL
)
_CONST = re.compile(
    r"""^(?:'(?:[^']|'')*'(?:::[\w ."\[\]]+)?|-?\d[\d.e+-]*(?:::[\w ."\[\]]+)?|\$\d+|true|false|NULL|"""
    r"""ANY\s*\(.*\)|\(InitPlan \d+\)\.col\d+|\(SubPlan \d+\)|\(\$\d+\)(?:::[\w ."\[\]]+)?)$""",
    re.IGNORECASE | re.DOTALL,
)
_KEYWORDS = {"true", "false", "null", "not", "any", "all"}
_OPERATORS = re.compile(r"\s(=|<>|<=|>=|<|>|!~~\*?|~~\*?)\s")
_PLAIN = re.compile(rf"^\(?(?:(?P<qual>{_IDENT})\.)?(?P<col>{_IDENT})\)?$")
_CAST = re.compile(rf"^\((?:(?P<qual>{_IDENT})\.)?(?P<col>{_IDENT})\)::(?P<type>{_TYPE})$")
_CALL = re.compile(r"^(?P<func>[A-Za-z_][\w.]*)\((?P<args>.*)\)$", re.DOTALL)
_RANGE_OPS = {"<", "<=", ">", ">="}

# Functions known to be IMMUTABLE: an expression index on them is possible.
IMMUTABLE_FUNCTIONS = {"lower", "upper", "btrim", "ltrim", "rtrim", "md5", "abs", "left", "right",
                       "substr", "substring", "length", "char_length", "reverse"}  # fmt: skip


@dataclass(frozen=True)
class FilterColumn:
    column: str
    equality: bool


@dataclass(frozen=True)
class Term:
    """One AND term of a filter.

    kind: ``eq`` / ``range`` (column vs constant), ``null`` (IS NULL), ``bool`` (a boolean
    column or its negation), ``join`` (column vs another table's column), ``cast`` (a cast on
    the column), ``function`` (a function of the column), ``wildcard`` (LIKE '%...'), ``or``
    (an OR across columns), ``other``.
    """

    kind: str
    text: str
    column: str | None = None
    other: str | None = None  # join: the other side; cast: the target type; function: its name
    value: str | None = None  # the constant compared with (eq/range/cast/function)
    operator: str | None = None

    @property
    def sargable(self) -> bool:
        return self.kind in {"eq", "range", "join", "null", "bool"}


def filter_columns(expr: str | None, names: set[str]) -> list[FilterColumn]:
    """Columns compared with a constant in a simple AND of ``col op value`` terms.

    ``names`` are the table's name and alias (a qualifier must be one of them). An expression
    on the column (``lower(email)``), an OR, or a comparison with another column gives nothing.
    """
    if not expr:
        return []
    text = strip_parens(expr)
    if len(split_top_level(text, "OR")) > 1:
        return []  # an OR: no simple index suggestion
    out: list[FilterColumn] = []
    for conjunct in split_top_level(text, "AND"):
        match = _CONJUNCT.match(strip_parens(conjunct))
        if not match:
            continue
        qual, col = match.group("qual"), match.group("col")
        if qual is not None and unquote_ident(qual) not in names:
            continue
        if col.lower() in _KEYWORDS:
            continue
        op = match.group("op").upper()
        rhs = strip_parens(match.group("rhs")) if op != "IS NULL" else ""
        if op != "IS NULL" and not _CONST.match(rhs):
            continue
        column = unquote_ident(col)
        if all(c.column != column for c in out):
            out.append(FilterColumn(column, op in {"=", "IS NULL"}))
    return out


def classify_filter(expr: str | None, names: set[str]) -> list[Term]:
    """The AND terms of a filter on the table known by ``names`` (its name and alias)."""
    if not expr:
        return []
    text = strip_parens(expr)
    if len(split_top_level(text, "OR")) > 1:
        return [_or_term(text, names)]
    return [_term(strip_parens(c), names) for c in split_top_level(text, "AND")]


def _own_column(qual: str | None, col: str, names: set[str]) -> str | None:
    if qual is not None and unquote_ident(qual) not in names:
        return None
    if col.lower() in _KEYWORDS:
        return None
    return unquote_ident(col)


def _or_term(text: str, names: set[str]) -> Term:
    columns = []
    for branch in split_top_level(text, "OR"):
        for term in classify_filter(branch, names):
            if term.column and term.column not in columns:
                columns.append(term.column)
    kind = "or" if len(columns) > 1 else "other"
    return Term(kind, text, column=columns[0] if columns else None, other=", ".join(columns))


def _term(term: str, names: set[str]) -> Term:
    upper = term.upper()
    if upper.endswith(" IS NULL"):
        plain = _PLAIN.match(term[: -len(" IS NULL")].strip())
        column = plain and _own_column(plain.group("qual"), plain.group("col"), names)
        return Term("null", term, column=column) if column else Term("other", term)
    if upper.startswith("NOT "):
        plain = _PLAIN.match(term[4:].strip())
        column = plain and _own_column(plain.group("qual"), plain.group("col"), names)
        return Term("bool", term, column=column, value="false") if column else Term("other", term)
    plain = _PLAIN.match(term)
    if plain and plain.group("col").lower() not in _KEYWORDS:
        column = _own_column(plain.group("qual"), plain.group("col"), names)
        return Term("bool", term, column=column, value="true") if column else Term("other", term)
    found = _top_level_operator(term)
    if found is None:
        return Term("other", term)
    op, start, end = found
    lhs, rhs = strip_parens(term[:start]), strip_parens(term[end:])
    if op in {"~~", "~~*"}:
        left = _CAST.match(lhs) or _PLAIN.match(lhs)
        column = left and _own_column(left.group("qual"), left.group("col"), names)
        if column and re.match(r"^'[%_]", rhs):
            return Term("wildcard", term, column=column, value=rhs, operator=op)
        return Term("other", term, column=column, operator=op)
    simple = _CONJUNCT.match(term)
    if simple and op in {"=", *_RANGE_OPS}:
        column = _own_column(simple.group("qual"), simple.group("col"), names)
        cast = _CAST.match(lhs)
        if column and cast and not _harmless(cast.group("type")):
            return Term("cast", term, column=column, other=cast.group("type").strip(), value=rhs,
                        operator=op)  # fmt: skip
        if column and _CONST.match(rhs):
            return Term("eq" if op == "=" else "range", term, column=column, value=rhs, operator=op)
        other = _PLAIN.match(rhs) or _CAST.match(rhs)
        if column and other and op == "=":
            other_qual = other.group("qual")
            if other_qual is not None and unquote_ident(other_qual) not in names:
                return Term("join", term, column=column, other=rhs, operator=op)
    call = _CALL.match(lhs)
    if call and op in {"=", *_RANGE_OPS}:
        for arg in split_top_level(call.group("args"), ","):
            inner = _CAST.match(strip_parens(arg)) or _PLAIN.match(strip_parens(arg))
            column = inner and _own_column(inner.group("qual"), inner.group("col"), names)
            if column:
                name = call.group("func").split(".")[-1].lower()
                return Term("function", term, column=column, other=name, value=rhs, operator=op)
    return Term("other", term)


def _harmless(cast_type: str) -> bool:
    target = cast_type.strip().lower()
    return target in {"text", "character varying", "name", "bpchar"}


def _top_level_operator(term: str) -> tuple[str, int, int] | None:
    """The first comparison operator outside parentheses and quotes."""
    depth = 0
    quoted = False
    for i, ch in enumerate(term):
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch in "([":
            depth += 1
        elif not quoted and ch in ")]":
            depth -= 1
        elif not quoted and depth == 0 and ch == " ":
            match = _OPERATORS.match(term, i)
            if match:
                return match.group(1), match.start(), match.end()
    return None


def range_rewrite(term: Term) -> str | None:
    """``(col)::date = 'D'`` -> ``col >= 'D' AND col < 'D'::date + 1``: the sargable form."""
    if term.kind != "cast" or term.column is None or term.value is None:
        return None
    target = (term.other or "").lower()
    if target != "date" or term.operator != "=":
        return None
    day = term.value
    from dbadmin.sqltext import quote_ident

    col = quote_ident(term.column)
    return f"{col} >= {day} AND {col} < {day} + 1"
