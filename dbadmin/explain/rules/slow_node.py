"""Where the time goes: nodes above 10 / 40 / 90 % of the execution time (exclusive)."""

from __future__ import annotations

from dbadmin.explain.model import SLOW_SHARES, Finding, NodeMetrics, Severity
from dbadmin.explain.rules import plan_rule
from dbadmin.explain.rules.context import Context, fmt_ms
from dbadmin.explain.rules.top_n import (
    computed_order_advice,
    indexable_order,
    unindexable_keys,
)

_SLOW_ADVICE = {
    "Seq Scan": "reads the whole table: an index for its filter or fewer rows scanned",
    "Hash Join": "builds a hash table: check the row estimates of both sides",
    "Nested Loop": "runs its inner side once per outer row",
    "Aggregate": "aggregates many rows: pre-aggregate or filter earlier",
    "Bitmap Heap Scan": "visits many heap pages: a more selective or covering index helps",
}


@plan_rule
def slow_nodes(ctx: Context, others: list[Finding]) -> list[Finding]:
    if not ctx.analyzed or not ctx.total_ms:
        return []
    findings = []
    for node in ctx.nodes:
        share = node.share or 0.0
        level = next((lvl for limit, lvl in SLOW_SHARES if share > limit), None)
        if level is None:
            continue
        if (ctx.total_ms or 0.0) < 10.0:
            level = Severity.INFO  # a 3 ms query: where the time goes, nothing to worry about
        related = [f for f in others if f.node_id == node.id]
        if related:
            action = (
                "see the "
                + ", ".join(sorted({f.kind for f in related}))
                + " finding(s) for this node"
            )
        else:
            action = "this node " + _advice(ctx, node)
        findings.append(
            Finding(
                kind="slow_node",
                severity=level,
                node_id=node.id,
                title=f"{node.label} takes {share:.0%} of the execution time",
                detail=f"{fmt_ms(node.exclusive_ms)} exclusive of {fmt_ms(ctx.total_ms)}",
                action=action,
            )
        )
    return findings


def _advice(ctx: Context, node: NodeMetrics) -> str:
    if node.node_type in {"Sort", "Incremental Sort"}:
        computed = unindexable_keys(ctx, node)
        if computed:
            return computed_order_advice(computed)
        if indexable_order(ctx, node):
            return "sorts at run time: an index in the ORDER BY order (after the equality columns) avoids it"
        return "sorts at run time: the keys come from several tables, so no single index avoids it"
    return _SLOW_ADVICE.get(node.node_type, "is where the time goes; start here")
