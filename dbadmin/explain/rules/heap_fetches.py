"""Index-only scans that visit the heap: the visibility map is out of date."""

from __future__ import annotations

from dbadmin.explain.model import Finding, NodeMetrics, Severity
from dbadmin.explain.rules import node_rule
from dbadmin.explain.rules.context import Context, qualified
from dbadmin.render import human_rows

HEAP_FETCH_MIN = 100


@node_rule
def heap_fetches(ctx: Context, node: NodeMetrics) -> list[Finding]:
    if node.node_type != "Index Only Scan" or not node.heap_fetches or node.relation is None:
        return []
    rows = max(node.actual_rows_total or 0.0, 1.0)
    if node.heap_fetches < HEAP_FETCH_MIN or node.heap_fetches < 0.10 * rows:
        return []
    table = qualified(node)
    return [
        Finding(
            kind="heap_fetches",
            severity=Severity.WARNING,
            node_id=node.id,
            title=f"Index-only scan on {table} visits the table ({human_rows(node.heap_fetches)} heap fetches)",
            detail=(
                f"{node.heap_fetches / rows:.0%} of the {human_rows(rows)} rows were checked in the heap: the "
                "visibility map is out of date, so the index-only scan is not index-only"
            ),
            action=(
                f"VACUUM (ANALYZE) {table}; if it degrades again, let autovacuum visit it sooner: "
                f"ALTER TABLE {table} SET (autovacuum_vacuum_scale_factor = 0.02, "
                "autovacuum_vacuum_insert_scale_factor = 0.02);"
            ),
        )
    ]
