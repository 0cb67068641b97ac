"""Sorts: an index in ORDER BY order helps only when every sort key is a plain column of one
table. ``ORDER BY ts_rank(...)`` or any computed key must be evaluated for every row; no index
returns rows in that order, and the advice says so instead of proposing one."""

from __future__ import annotations

import re

from dbadmin.explain.model import Finding, NodeMetrics, Severity
from dbadmin.explain.rules import node_rule
from dbadmin.explain.rules.context import Context
from dbadmin.explain.rules.indexes import key_columns, propose_index
from dbadmin.explain.rules.predicates import classify_filter
from dbadmin.sqltext import unquote_ident

TOP_N_SHARE = 0.10
_KEY = re.compile(
    r'^(?:(?P<qual>"(?:[^"]|"")+"|[A-Za-z_][\w$]*)\.)?(?P<col>"(?:[^"]|"")+"|[A-Za-z_][\w$]*)'
    r"(?P<order>\s+DESC)?(?:\s+NULLS\s+(?:FIRST|LAST))?$",
    re.IGNORECASE,
)


def sort_keys(raw: dict[str, object]) -> list[str]:
    keys = raw.get("Sort Key") or []
    return [str(k) for k in keys] if isinstance(keys, list) else []


def indexable_order(ctx: Context, sort: NodeMetrics) -> tuple[NodeMetrics, list[str]] | None:
    """(the scan, its key columns with DESC) when an index on one table can give this order."""
    columns: list[str] = []
    quals: set[str] = set()
    for key in sort_keys(ctx.raw(sort)):
        match = _KEY.match(key.strip())
        if match is None:
            return None  # an expression: computed per row
        quals.add(unquote_ident(match.group("qual") or ""))
        columns.append(
            unquote_ident(match.group("col")) + (" DESC" if match.group("order") else "")
        )
    if not columns or len(quals) != 1:
        return None
    qual = quals.pop()
    scans = [
        n for n in ctx.subtree(sort) if n.relation and (qual == "" or qual in {n.alias, n.relation})
    ]
    return (scans[0], columns) if len(scans) == 1 else None


def computed_order_advice(keys: list[str]) -> str:
    return (
        f"sorts by {', '.join(keys)}, computed for every row: no index can return rows in this "
        "order; filter more rows out before the sort, or store the value in an indexed column"
    )


def unindexable_keys(ctx: Context, sort: NodeMetrics) -> list[str]:
    return [k for k in sort_keys(ctx.raw(sort)) if _KEY.match(k.strip()) is None]


@node_rule
def top_n(ctx: Context, node: NodeMetrics) -> list[Finding]:
    parent = ctx.parent(node)
    if node.node_type != "Sort" or parent is None or parent.node_type != "Limit":
        return []
    if (node.share or 0.0) < TOP_N_SHARE:
        return []
    found = indexable_order(ctx, node)
    if found is None:
        computed = unindexable_keys(ctx, node)
        if not computed:
            return []  # plain keys of several tables: no single index, nothing more to say
        return [
            Finding(
                kind="top_n",
                severity=Severity.INFO,
                node_id=node.id,
                title=f"Top-N sort by a computed key ({(node.share or 0):.0%} of the time)",
                detail=f"the Limit needs the first rows in {', '.join(computed)} order",
                action=computed_order_advice(computed),
            )
        ]
    scan, order = found
    names = {scan.relation or "", *([scan.alias] if scan.alias else [])}
    terms = [t for t in classify_filter(scan.filter or scan.index_cond, names) if t.sargable]
    equal = [t for t in terms if t.kind in {"eq", "join"}]
    _, predicate = key_columns([t for t in terms if t.kind in {"null", "bool"}])
    keys = [t.column for t in equal if t.column][:3] + order
    proposal = propose_index(ctx, scan, keys, predicate)
    if proposal is None or proposal.existing is not None:
        return []
    return [
        Finding(
            kind="top_n",
            severity=Severity.WARNING,
            node_id=node.id,
            title=f"Top-N sort of {scan.label} could read the rows already in order",
            detail=(
                f"the Limit needs the first rows in {', '.join(sort_keys(ctx.raw(node)))} order; "
                f"the sort reads every matching row first ({(node.share or 0):.0%} of the time)"
            ),
            action=proposal.statement
            + " -- equality columns first, then the ORDER BY columns: the scan stops after "
            "the Limit's rows",
            index_sql=proposal.hypothetical,
        )
    ]
