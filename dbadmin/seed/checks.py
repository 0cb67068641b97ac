"""Understand CHECK constraints (of tables and of domains) well enough to generate valid rows.

Expressions are parsed with pglast (PostgreSQL's own parser), from the server's normalised text
(``pg_get_constraintdef``) or a model's text. Understood, joined by AND:

- ``col IN (...)``, ``col = ANY (ARRAY[...])``, ``col = c``, ``col <> c``;
- ``col op c`` and ``c op col`` with ``< <= > >=`` (numbers, or text such as dates), BETWEEN;
- comparisons of two columns (``ends_at > starts_at``): an ordered pair, generated together;
- ``length(col)`` / ``char_length(col)`` / ``octet_length(col)`` against a number, ``col <> ''``
  (for arrays ``cardinality(col)`` and ``array_length(col, 1)``: the number of elements);
- ``col ~ 'regex'`` (a value matching the regex is generated), ``col LIKE 'pattern'``;
- ``col IS NOT NULL``; ``col IS NULL OR <rule>`` (the rule applies to non-NULL values);
- an OR of equalities on one column (an IN list).

Casts are looked through. Anything else raises :class:`CheckNotUnderstood`, so the table is
reported with the constraint instead of failing half-way through a COPY. Domain CHECKs name the
value ``VALUE``: parse them with ``column="value"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OPS = {"<", "<=", ">", ">="}
FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "<>": "<>"}
LENGTH_FUNCS = {"length", "char_length", "character_length", "octet_length", "cardinality"}


class CheckNotUnderstood(ValueError):
    pass


@dataclass
class ColumnCheck:
    """What the CHECK constraints allow for one column (bounds are numbers or literal text)."""

    values: list[str] | None = None  # allowed values (IN / =), as text
    lo: float | str | None = None
    lo_strict: bool = False
    hi: float | str | None = None
    hi_strict: bool = False
    excluded: set[str] = field(default_factory=set)
    min_length: int = 0
    max_length: int | None = None
    patterns: list[str] = field(default_factory=list)  # POSIX regexes a value must match
    likes: list[str] = field(default_factory=list)  # LIKE patterns
    not_null: bool = False

    def allow(self, values: list[str]) -> None:
        self.values = values if self.values is None else [v for v in self.values if v in values]

    def bound(self, op: str, value: float | str) -> None:
        def tighter(new: float | str, old: float | str | None, larger: bool) -> bool:
            if old is None:
                return True
            try:
                # a number against a text bound is possible: the TypeError below handles it
                return (new > old) if larger else (new < old)  # type: ignore[operator]
            except TypeError:
                return True

        if op in (">", ">="):
            if tighter(value, self.lo, True) or (value == self.lo and op == ">"):
                self.lo, self.lo_strict = value, op == ">"
        elif op in ("<", "<=") and (
            tighter(value, self.hi, False) or (value == self.hi and op == "<")
        ):
            self.hi, self.hi_strict = value, op == "<"

    def length_rule(self, op: str, n: int) -> None:
        if op in (">", ">="):
            self.min_length = max(self.min_length, n + (op == ">"))
        elif op in ("<", "<="):
            top = n - (op == "<")
            self.max_length = top if self.max_length is None else min(self.max_length, top)
        elif op == "=":
            self.min_length = max(self.min_length, n)
            self.max_length = n if self.max_length is None else min(self.max_length, n)
        else:
            raise CheckNotUnderstood(f"length(...) {op} {n}")


@dataclass(frozen=True)
class OrderedPair:
    """``high op low`` between two columns of a row: ``high`` after ``low`` (or equal)."""

    low: str
    high: str
    strict: bool


def parse_check(
    sqltext: str,
    columns: set[str],
    into: dict[str, ColumnCheck],
    pairs: list[OrderedPair] | None = None,
) -> None:
    """Fold one CHECK expression into per-column rules (and ordered pairs of columns)."""
    from pglast import ast, parse_sql
    from pglast.parser import ParseError

    text = sqltext.strip()
    if text.upper().startswith("CHECK"):
        text = text[5:].strip()
    if text.upper().endswith("NOT VALID"):
        text = text[: -len("NOT VALID")].strip()
    try:
        stmt = parse_sql(f"SELECT {text}")[0].stmt
        if not isinstance(stmt, ast.SelectStmt) or not stmt.targetList:
            raise CheckNotUnderstood(f"{sqltext}: not one expression")
        expr = stmt.targetList[0].val
    except (ParseError, AttributeError, IndexError) as exc:
        raise CheckNotUnderstood(f"{sqltext}: {exc}") from None
    _Folder(sqltext, columns, into, pairs if pairs is not None else []).fold(expr)


class _Folder:
    def __init__(
        self,
        sqltext: str,
        columns: set[str],
        into: dict[str, ColumnCheck],
        pairs: list[OrderedPair],
    ) -> None:
        self.sqltext = sqltext
        self.columns = columns
        self.into = into
        self.pairs = pairs

    def fail(self, why: str = "") -> CheckNotUnderstood:
        return CheckNotUnderstood(f"{self.sqltext}{': ' + why if why else ''}")

    def check(self, column: str) -> ColumnCheck:
        return self.into.setdefault(column, ColumnCheck())

    def fold(self, node: Any) -> None:
        kind = type(node).__name__
        if kind == "BoolExpr":
            op = int(node.boolop)
            if op == 0:  # AND
                for arg in node.args:
                    self.fold(arg)
                return
            if op == 1:  # OR
                self._fold_or(node.args)
                return
            raise self.fail("NOT of a condition")
        if kind == "NullTest":
            column = self.column(node.arg)
            if int(node.nulltesttype) != 1:
                raise self.fail(f"{column} IS NULL")
            self.check(column).not_null = True
            return
        if kind == "A_Expr":
            self._fold_expr(node)
            return
        raise self.fail(f"{kind} is not a supported condition")

    def _fold_or(self, args: tuple[Any, ...]) -> None:
        # "col IS NULL OR <rule>": the rule constrains the non-NULL values
        nulls = [a for a in args if type(a).__name__ == "NullTest" and int(a.nulltesttype) == 0]
        rest = [a for a in args if a not in nulls]
        if nulls and len(rest) == 1:
            self.fold(rest[0])
            return
        # an OR of equalities / IN lists on one column is an IN list
        values: list[str] = []
        column = None
        for arg in args:
            scratch: dict[str, ColumnCheck] = {}
            _Folder(self.sqltext, self.columns, scratch, []).fold(arg)
            if len(scratch) != 1:
                raise self.fail("OR over several columns")
            ((name, rule),) = scratch.items()
            if rule.values is None or (column is not None and name != column):
                raise self.fail("OR of conditions that are not equalities")
            column = name
            values += [v for v in rule.values if v not in values]
        assert column is not None
        self.check(column).allow(values)

    def column(self, node: Any) -> str:
        node = _uncast(node)
        if type(node).__name__ != "ColumnRef":
            raise self.fail(f"{type(node).__name__} where a column was expected")
        name = node.fields[-1].sval
        if name not in self.columns:
            raise self.fail(f"{name!r} is not a column")
        return name

    def _fold_expr(self, node: Any) -> None:
        kind = int(node.kind)
        op = node.name[-1].sval if node.name else ""
        if kind == 10:  # BETWEEN
            column = self.column(node.lexpr)
            low, high = (_const(v) for v in node.rexpr)
            if low is None or high is None:
                raise self.fail("BETWEEN with a non-constant bound")
            self.check(column).bound(">=", _number_or_text(low))
            self.check(column).bound("<=", _number_or_text(high))
            return
        if kind == 6 or (kind == 1 and op == "="):  # IN (...), = ANY (ARRAY[...])
            column = self.column(node.lexpr)
            items = node.rexpr if kind == 6 else getattr(_uncast(node.rexpr), "elements", None)
            values = [_const(v) for v in items or ()]
            if not values or any(v is None for v in values):
                raise self.fail("IN list with a non-constant item")
            self.check(column).allow([str(v) for v in values])
            return
        if kind == 7 or op in ("~~", "~"):  # LIKE / regex
            column = self.column(node.lexpr)
            pattern = _const(node.rexpr)
            if not isinstance(pattern, str):
                raise self.fail("pattern is not a constant")
            rule = self.check(column)
            (rule.likes if kind == 7 or op == "~~" else rule.patterns).append(pattern)
            return
        if kind != 0 or op not in (*OPS, "=", "<>", "!="):
            raise self.fail(f"operator {op or kind}")
        op = "<>" if op == "!=" else op
        left, right = _uncast(node.lexpr), _uncast(node.rexpr)
        if _is_length(left) or _is_length(right):
            if _is_length(right):
                left, right, op = right, left, FLIP[op]
            column = self.column(left.args[0])
            n = _const(right)
            if not isinstance(n, int):
                raise self.fail("length compared with a non-integer")
            self.check(column).length_rule(op, n)
            return
        left_col = type(left).__name__ == "ColumnRef"
        right_col = type(right).__name__ == "ColumnRef"
        if left_col and right_col:
            a, b = self.column(left), self.column(right)
            if op in (">", ">="):
                self.pairs.append(OrderedPair(b, a, op == ">"))
            elif op in ("<", "<="):
                self.pairs.append(OrderedPair(a, b, op == "<"))
            else:
                raise self.fail(f"{a} {op} {b}")
            return
        if right_col and not left_col:
            left, right, op = right, left, FLIP[op]
        column = self.column(left)
        value = _const(right)
        if value is None:
            raise self.fail("comparison with a non-constant")
        rule = self.check(column)
        if op == "=":
            rule.allow([str(value)])
        elif op == "<>":
            if value == "":
                rule.min_length = max(rule.min_length, 1)
            rule.excluded.add(str(value))
        else:
            rule.bound(op, _number_or_text(value))


def _uncast(node: Any) -> Any:
    while type(node).__name__ in ("TypeCast", "CollateClause"):
        node = node.arg
    return node


def _is_length(node: Any) -> bool:
    """length(col), char_length(col)...; for arrays cardinality(col), array_length(col, 1)."""
    if type(node).__name__ != "FuncCall":
        return False
    name = node.funcname[-1].sval
    args: tuple[Any, ...] = node.args or ()
    if name == "array_length":
        return len(args) == 2 and _const(args[1]) == 1
    return name in LENGTH_FUNCS and len(args) == 1


def _const(node: Any) -> int | float | str | None:
    """A constant's value (numbers as numbers, text as text, booleans as t/f); else None."""
    node = _uncast(node)
    name = type(node).__name__
    if name == "A_Expr" and int(node.kind) == 0 and node.name[-1].sval == "-" and not node.lexpr:
        inner = _const(node.rexpr)
        return -inner if isinstance(inner, int | float) else None
    if name != "A_Const" or node.isnull:
        return None
    val = node.val
    kind = type(val).__name__
    if kind == "Integer":
        return int(val.ival)
    if kind == "Float":
        return float(val.fval)
    if kind == "Boolean":
        return "t" if val.boolval else "f"
    if kind == "String":
        return str(val.sval)
    return None


def _number_or_text(value: int | float | str) -> float | str:
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except ValueError:
        return value
