"""Parallel nodes that launched fewer workers than planned."""

from __future__ import annotations

from dbadmin.explain.model import Finding, NodeMetrics, Severity
from dbadmin.explain.rules import node_rule
from dbadmin.explain.rules.context import Context


@node_rule
def workers(ctx: Context, node: NodeMetrics) -> list[Finding]:
    planned, launched = node.workers_planned, node.workers_launched
    if planned is None or launched is None or launched >= planned:
        return []
    return [
        Finding(
            kind="workers",
            severity=Severity.WARNING,
            node_id=node.id,
            title=f"{node.label} launched {launched} of {planned} planned workers",
            detail=(
                "the parallel worker pool was exhausted (max_parallel_workers / "
                "max_worker_processes) by concurrent queries, so this part ran with less "
                "parallelism than planned"
            ),
            action=(
                "raise max_parallel_workers (and max_worker_processes, which needs a restart), "
                "or lower max_parallel_workers_per_gather for the other workloads; on Neon the "
                "limits follow the compute size"
            ),
        )
    ]
