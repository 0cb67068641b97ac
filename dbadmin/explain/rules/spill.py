"""Sorts, hashes and materialisations that spill to disk: work_mem sized from the measurement,
per session or role, never globally."""

from __future__ import annotations

import math

from dbadmin.explain.model import Finding, NodeMetrics, Severity
from dbadmin.explain.rules import node_rule
from dbadmin.explain.rules.context import Context


def _work_mem_setting(ctx: Context) -> str:
    return ctx.settings.get("work_mem", "4MB (default)")


def _suggest_mb(needed_kb: float) -> int:
    mb = max(needed_kb / 1024.0, 1.0)
    return max(4, 2 ** math.ceil(math.log2(mb)))


def _hash_mem_multiplier(ctx: Context) -> float:
    raw = ctx.settings.get("hash_mem_multiplier")
    if raw:
        try:
            return float(raw)
        except ValueError:
            pass
    if ctx.version_num is not None and ctx.version_num < 150000:
        return 1.0
    return 2.0


@node_rule
def spill(ctx: Context, node: NodeMetrics) -> list[Finding]:
    needed_kb: float | None = None
    what = ""
    if node.sort_space_type == "Disk" or (
        node.node_type in {"Sort", "Incremental Sort"} and node.disk_kb
    ):
        disk = node.disk_kb or node.sort_space_kb or 0.0
        needed_kb = disk * 2  # an in-memory sort takes more room than its on-disk runs
        what = f"sort ({node.sort_method or 'external'}) wrote {disk:,.0f} kB to disk"
    elif node.node_type == "Hash" and (node.hash_batches or 1) > 1:
        peak = node.peak_memory_kb or 0.0
        needed_kb = peak * (node.hash_batches or 1) / _hash_mem_multiplier(ctx)
        orig = node.original_hash_batches
        grew = f", planned {orig}" if orig and orig != node.hash_batches else ""
        what = f"hash split into {node.hash_batches} batches{grew} (peak {peak:,.0f} kB per batch)"
    elif node.node_type == "Aggregate" and (node.hash_batches or 1) > 1 and node.disk_kb:
        peak = node.peak_memory_kb or 0.0
        needed_kb = (peak + node.disk_kb * 2) / _hash_mem_multiplier(ctx)
        what = (
            f"hash aggregate spilled {node.disk_kb:,.0f} kB to disk in {node.hash_batches} batches"
        )
    elif node.disk_kb:
        needed_kb = node.disk_kb * 2
        what = f"{node.node_type} stored {node.disk_kb:,.0f} kB on disk"
    if needed_kb is None:
        return []
    mb = _suggest_mb(needed_kb)
    severity = Severity.WARNING if (node.share or 0) >= 0.10 or not ctx.analyzed else Severity.INFO
    if (node.share or 0) >= 0.40:
        severity = Severity.CRITICAL
    return [
        Finding(
            kind="spill",
            severity=severity,
            node_id=node.id,
            title=f"{node.label} spills to disk",
            detail=f"{what}; work_mem is {_work_mem_setting(ctx)}",
            action=(
                f"SET work_mem = '{mb}MB'; for the session or transaction running this query "
                f"(SET LOCAL in a transaction, or ALTER ROLE ... SET work_mem = '{mb}MB' for "
                "its role), not globally: every sort/hash of every connection may use that much"
                + (
                    "; or add an index that returns the rows already sorted"
                    if node.node_type == "Sort"
                    else ""
                )
            ),
        )
    ]
