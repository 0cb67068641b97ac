"""Nested loops with a large outer side: the inner side runs once per outer row."""

from __future__ import annotations

from dbadmin.explain.model import Finding, NodeMetrics, Severity
from dbadmin.explain.rules import node_rule
from dbadmin.explain.rules.context import Context, qualified
from dbadmin.render import human_rows

NESTED_LOOP_OUTER_ROWS = 10_000


@node_rule
def nested_loop(ctx: Context, node: NodeMetrics) -> list[Finding]:
    if node.node_type != "Nested Loop" or not ctx.analyzed or node.never_executed:
        return []
    children = ctx.children(node)
    outer = next((c for c in children if c.parent_relationship == "Outer"), None)
    inner = next((c for c in children if c.parent_relationship == "Inner"), None)
    if outer is None or inner is None:
        return []
    outer_rows = outer.actual_rows_total or 0.0
    if outer_rows < NESTED_LOOP_OUTER_ROWS:
        return []
    inclusive_share = (node.inclusive_ms or 0.0) / ctx.total_ms if ctx.total_ms else 0.0
    if inclusive_share < 0.20:
        return []
    planned_outer = (outer.plan_rows or 0.0) * (outer.loops or 1.0)
    detail = (
        f"the inner side ({inner.label}) ran {human_rows(inner.loops)} times for "
        f"{human_rows(outer_rows)} outer rows (planned {human_rows(planned_outer)}); "
        f"{inclusive_share:.0%} of the time is in this join"
    )
    advice = []
    if planned_outer and outer_rows / max(planned_outer, 1.0) >= 10:
        advice.append(
            "the planner expected far fewer outer rows: fix that estimate first (see the "
            "misestimate finding; ANALYZE the outer tables)"
        )
    if inner.node_type == "Seq Scan" and inner.relation:
        advice.append(f"each inner loop scans {qualified(inner)} in full: index its join column")
    advice.append(
        "a hash or merge join reads each side once: check the join condition is an equality the "
        "planner can hash, and that work_mem fits the smaller side"
    )
    return [
        Finding(
            kind="nested_loop",
            severity=Severity.CRITICAL
            if inclusive_share >= 0.60 and outer_rows >= 100_000
            else Severity.WARNING,
            node_id=node.id,
            title=f"Nested loop with a large outer side ({human_rows(outer_rows)} rows)",
            detail=detail,
            action="; ".join(advice),
        )
    ]
