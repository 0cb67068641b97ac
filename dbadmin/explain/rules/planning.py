"""Planning that takes longer than execution."""

from __future__ import annotations

from dbadmin.explain.model import Finding, Severity
from dbadmin.explain.rules import plan_rule
from dbadmin.explain.rules.context import Context, fmt_ms


@plan_rule
def planning(ctx: Context, findings: list[Finding]) -> list[Finding]:
    planning, execution = ctx.planning_ms, ctx.execution_ms
    if planning is None or execution is None or planning < 5.0 or planning <= execution:
        return []
    severity = (
        Severity.CRITICAL if planning >= 100.0 and planning >= 10 * execution else Severity.WARNING
    )
    return [
        Finding(
            kind="planning",
            severity=severity,
            node_id=None,
            title=f"Planning ({fmt_ms(planning)}) takes longer than execution ({fmt_ms(execution)})",
            detail="the planner's work dominates: many joins, many partitions, or bloated catalogs",
            action=(
                "reuse plans with prepared statements (protocol-level ones work through Neon's "
                "pooler), cut the partitions scanned (filter on the partition key), and for "
                "many-way joins consider join_collapse_limit; VACUUM the system catalogs if "
                "planning buffers are high"
            ),
        )
    ]
