"""Index proposals as an expert writes them, checked against the indexes the table already has.

Key columns go equality first (including join/correlation columns), then one range column
(a B-tree cannot use a second range); ``IS NULL`` and boolean-constant terms become the partial
predicate (``WHERE deleted_at IS NULL``) instead of key columns. On a partition the index goes
on the partitioned parent, where it cascades to every partition. Every name is schema-qualified
and quoted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dbadmin.explain.model import NodeMetrics
from dbadmin.explain.rules.context import (
    Context,
    ExistingIndex,
    object_name,
    qualified,
    qualify_name,
)
from dbadmin.explain.rules.predicates import Term
from dbadmin.sqltext import quote_ident, unquote_ident


@dataclass(frozen=True)
class IndexProposal:
    table: str  # schema-qualified, quoted
    columns: tuple[str, ...]  # key columns (unquoted names; "col DESC" for sort keys)
    predicate: str | None
    statement: str
    hypothetical: str  # the same index for hypopg: no name, no CONCURRENTLY, no comment
    partitioned: bool
    existing: ExistingIndex | None  # an index that already has these leading columns
    leading: ExistingIndex | None  # an index that starts with the first column only


def key_columns(
    terms: list[Term], few_values: set[str] | None = None
) -> tuple[list[str], str | None]:
    """(key columns, partial predicate) from the sargable terms of one table's filter.

    ``few_values``: columns with a handful of distinct values; when a constant equality on one
    of them (``status = 'pending'``) is the whole filter, it selects few rows only for that
    value, so it becomes the partial predicate.
    """
    equal: list[str] = []
    ranged: list[str] = []
    partial: list[str] = []
    rare: list[Term] = []
    for term in terms:
        if term.column is None:
            continue
        column = term.column
        if term.kind == "eq" and column in (few_values or set()) and _literal(term.value):
            rare.append(term)
        elif term.kind in {"eq", "join"} and column not in equal:
            equal.append(column)
        elif term.kind == "range" and column not in ranged:
            ranged.append(column)
        elif term.kind == "null":
            partial.append(f"{quote_ident(column)} IS NULL")
        elif term.kind == "bool":
            partial.append(
                quote_ident(column) if term.value == "true" else f"NOT {quote_ident(column)}"
            )
    if rare and not (equal or ranged or partial):
        partial = [f"{quote_ident(t.column or '')} = {t.value}" for t in rare]
    else:  # with other conditions, the few-valued column is an equality key like any other
        equal = [t.column for t in rare if t.column] + equal
    keys = equal[:3] + [c for c in ranged if c not in equal][:1]
    if not keys and partial:
        keys = [t.column for t in terms if t.kind in {"null", "bool", "eq"} and t.column][:1]
    return keys, " AND ".join(partial) if partial else None


def propose_index(
    ctx: Context, node: NodeMetrics, keys: list[str], predicate: str | None
) -> IndexProposal | None:
    if not keys or node.relation is None:
        return None
    parent = ctx.partition_parent(node)
    table = qualify_name(parent) if parent else qualified(node)
    base = parent.partition(".")[2] if parent else node.relation
    names = [_column(k) for k in keys]
    name = quote_ident(object_name("ix", base, names))
    cols = ", ".join(_quote_key(k) for k in keys)
    where = f" WHERE {predicate}" if predicate else ""
    if parent:
        statement = (
            f"CREATE INDEX {name} ON {table} ({cols}){where}; -- {qualified(node)} is a "
            f"partition of {table}: the index cascades to every partition (CONCURRENTLY is not "
            "possible on a partitioned table: to avoid the lock, CREATE INDEX ON ONLY the parent, "
            "CREATE INDEX CONCURRENTLY on each partition and ALTER INDEX ... ATTACH PARTITION)"
        )
    else:
        statement = f"CREATE INDEX CONCURRENTLY {name} ON {table} ({cols}){where};"
    existing, leading = _existing(ctx.indexes(node), keys, predicate)
    return IndexProposal(
        table=table,
        columns=tuple(keys),
        predicate=predicate,
        statement=statement,
        hypothetical=f"CREATE INDEX ON {table} ({cols}){where}",
        partitioned=parent is not None,
        existing=existing,
        leading=leading,
    )


def _literal(value: str | None) -> bool:
    """A quoted or numeric constant (not a $n parameter, an ANY array or a sub-plan)."""
    return value is not None and re.match(r"^(?:'|-?\d)", value) is not None


def _column(key: str) -> str:
    """A key is a column name, or ``name DESC`` for a descending sort key."""
    return key[: -len(" DESC")] if key.endswith(" DESC") else key


def _quote_key(key: str) -> str:
    return quote_ident(_column(key)) + (" DESC" if key.endswith(" DESC") else "")


def _existing(
    indexes: list[ExistingIndex], keys: list[str], predicate: str | None
) -> tuple[ExistingIndex | None, ExistingIndex | None]:
    wanted = [_column(k) for k in keys]
    covering = leading = None
    for index in indexes:
        if not index.valid or index.method != "btree":
            continue
        have = [unquote_ident(c) for c in index.columns]
        if index.predicate and (predicate is None or _norm(index.predicate) != _norm(predicate)):
            continue  # a partial index the query's filter may not imply
        if sorted(have[: len(wanted)]) == sorted(wanted) and covering is None:
            covering = index
        elif have and have[0] == wanted[0] and leading is None:
            leading = index
    return covering, leading


def _norm(predicate: str) -> str:
    return "".join(ch for ch in predicate.lower() if ch not in '() "')


def indexes_on(ctx: Context, node: NodeMetrics, column: str) -> list[ExistingIndex]:
    """Valid indexes whose first key is this column (used by why-not-used explanations)."""
    return [
        i
        for i in ctx.indexes(node)
        if i.valid and i.columns and unquote_ident(i.columns[0]) == column
    ]
