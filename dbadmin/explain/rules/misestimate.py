"""Row estimates that are off where the error originates, on nodes that ran to completion.

A node whose parent stops reading early returns fewer rows than planned without any estimate
being wrong: the input of a Limit, both inputs of a Merge Join (the merge ends when one side
runs out), the inner side of a semi/anti join (it stops at the first match), and a sub-plan
used as EXISTS/ANY/IN (it stops at the first row). "Fewer rows than planned" is not judged
there, nor anywhere below such a node.
"""

from __future__ import annotations

import re

from dbadmin.explain.model import Finding, NodeMetrics, Severity
from dbadmin.explain.rules import node_rule
from dbadmin.explain.rules.context import Context, object_name, qualified
from dbadmin.explain.rules.predicates import filter_columns
from dbadmin.render import human_rows
from dbadmin.sqltext import quote_ident

MISESTIMATE_LEVELS = ((1000.0, Severity.CRITICAL), (100.0, Severity.WARNING), (10.0, Severity.INFO))
MISESTIMATE_MIN_ROWS = 100
_PASS_THROUGH = {"Limit", "Hash", "Materialize", "Memoize", "Gather", "Gather Merge"}
_PREDICATE_KEYS = ("Filter", "Join Filter", "One-Time Filter", "Hash Cond", "Index Cond",
                   "Recheck Cond", "Merge Cond")  # fmt: skip


def stopped_early(ctx: Context, node: NodeMetrics) -> str | None:
    """Why this node may not have run to completion (None when it did)."""
    current = node
    for parent in ctx.ancestors(node):
        reason = _stops_child(ctx, parent, current)
        if reason:
            return reason
        current = parent
    return None


def _stops_child(ctx: Context, parent: NodeMetrics, child: NodeMetrics) -> str | None:
    if parent.node_type == "Limit":
        return "it feeds a Limit, which stops reading early"
    if parent.node_type == "Merge Join" and child.parent_relationship in {"Outer", "Inner"}:
        return "it feeds a Merge Join, which stops when the other input runs out"
    join_type = ctx.raw(parent).get("Join Type")
    if join_type in {"Semi", "Anti"} and child.parent_relationship == "Inner":
        return f"it is the inner side of a {join_type.lower()} join, which stops at the first match"
    if child.parent_relationship == "SubPlan" and child.subplan_name:
        number = re.search(r"SubPlan (\d+)", child.subplan_name)
        if number and _used_as_predicate(ctx, parent, f"SubPlan {number.group(1)}"):
            return "it is an EXISTS/ANY sub-plan, which stops at the first row"
    return None


def _used_as_predicate(ctx: Context, node: NodeMetrics, name: str) -> bool:
    raw = ctx.raw(node)
    for key in _PREDICATE_KEYS:
        value = raw.get(key)
        if isinstance(value, str) and re.search(rf"{name}(?!\d)", value):
            return True
    return False


@node_rule
def misestimate(ctx: Context, node: NodeMetrics) -> list[Finding]:
    factor = node.misestimate_factor
    if factor is None or factor < MISESTIMATE_LEVELS[-1][0] or node.never_executed:
        return []
    if node.node_type in _PASS_THROUGH:
        return []
    if node.misestimate_direction == "over" and stopped_early(ctx, node):
        return []  # fewer rows than planned because its consumer stopped reading
    rows = max(node.actual_rows_total or 0.0, (node.plan_rows or 0.0) * (node.loops or 1.0))
    if rows < MISESTIMATE_MIN_ROWS:
        return []
    child_factors = [c.misestimate_factor or 1.0 for c in ctx.children(node)]
    if child_factors and max(child_factors) * 3 > factor:
        return []  # inherited from below: the child's finding names the cause
    severity = next(level for limit, level in MISESTIMATE_LEVELS if factor >= limit)
    direction = "more" if node.misestimate_direction == "under" else "fewer"
    detail = (
        f"planned {human_rows(node.plan_rows)} rows per loop, got {human_rows(node.actual_rows)} "
        f"({factor:,.0f}x {direction} than planned); plan choices above this node rest on it"
    )
    return [
        Finding(
            kind="misestimate",
            severity=severity,
            node_id=node.id,
            title=f"Row estimate off by {factor:,.0f}x at {node.label}",
            detail=detail,
            action=_action(ctx, node),
        )
    ]


def _action(ctx: Context, node: NodeMetrics) -> str:
    if not node.relation:
        tables = []
        for scan in ctx.subtree(node):
            if scan.relation and qualified(scan) not in tables:
                tables.append(qualified(scan))
        listed = ", ".join(tables) if tables else "the joined tables"
        return (
            f"ANALYZE {listed}; if the join estimate stays off, the join/filter columns are "
            "correlated: CREATE STATISTICS (dependencies, ndistinct, mcv) on them"
        )
    table = qualified(node)
    names = {node.relation, *([node.alias] if node.alias else [])}
    cols = [c.column for c in filter_columns(node.filter or node.index_cond, names)]
    action = f"ANALYZE {table};{_staleness(ctx, node)}"
    if len(cols) >= 2:
        stat = object_name("st", node.relation, cols[:3])
        schema = f"{quote_ident(node.schema)}." if node.schema else ""
        action += (
            f" If it stays off, the columns are correlated: CREATE STATISTICS "
            f"{schema}{quote_ident(stat)} (dependencies, ndistinct, mcv) ON "
            f"{', '.join(quote_ident(c) for c in cols[:3])} FROM {table}; ANALYZE {table};"
        )
    elif cols:
        action += (
            f" If it stays off, raise the sample for the column: ALTER TABLE {table} ALTER COLUMN "
            f"{quote_ident(cols[0])} SET STATISTICS 1000; ANALYZE {table};"
        )
    return action


def _staleness(ctx: Context, node: NodeMetrics) -> str:
    stats = ctx.table_stats(node)
    if not stats:
        return ""
    if not stats.get("last_analyze"):
        return " (never analysed)"
    changed = stats.get("n_mod_since_analyze")
    if changed:
        return f" ({changed:,} rows changed since the last ANALYZE at {stats['last_analyze']})"
    return ""
