"""The typed results of plan analysis: per-node metrics, findings, the whole analysis.

Rules (:mod:`dbadmin.explain.rules`) and renderers read these; nothing here computes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from dbadmin.severity import Severity

SEVERITIES = (Severity.INFO, Severity.WARNING, Severity.CRITICAL)  # a finding's, mildest first
SLOW_SHARES = ((0.90, Severity.CRITICAL), (0.40, Severity.WARNING), (0.10, Severity.INFO))


def share_level(share: float | None) -> Severity | None:
    """The SLOW_SHARES level a node's share of the time reaches (limit included), else None.

    The plan renderers colour their bars by it; a slow-node finding needs the share to exceed
    the limit.
    """
    if share is None:
        return None
    return next((level for limit, level in SLOW_SHARES if share >= limit), None)


@dataclass(frozen=True)
class NodeMetrics:
    id: int
    parent_id: int | None
    depth: int
    node_type: str
    label: str
    parent_relationship: str | None
    subplan_name: str | None
    relation: str | None
    schema: str | None
    alias: str | None
    index: str | None
    cte_name: str | None
    parallel_aware: bool
    under_gather: bool
    startup_cost: float | None
    total_cost: float | None
    exclusive_cost: float | None
    plan_rows: float | None
    actual_rows: float | None  # per loop, as PostgreSQL reports it
    actual_rows_total: float | None  # x loops
    loops: float | None
    never_executed: bool
    inclusive_ms: float | None
    exclusive_ms: float | None
    share: float | None  # exclusive / total (time when analysed, else cost)
    misestimate_factor: float | None
    misestimate_direction: str | None  # "under" (more rows than planned) / "over"
    filter: str | None
    index_cond: str | None
    join_filter: str | None
    rows_removed_by_filter: float | None  # total over loops
    rows_removed_by_join_filter: float | None
    heap_fetches: float | None
    buffers: dict[str, int]  # inclusive of children, as PostgreSQL reports
    sort_method: str | None
    sort_space_type: str | None
    sort_space_kb: float | None
    hash_batches: int | None
    original_hash_batches: int | None
    peak_memory_kb: float | None
    disk_kb: float | None
    workers_planned: int | None
    workers_launched: int | None


@dataclass(frozen=True)
class Finding:
    kind: str  # the rule that made it (see dbadmin/explain/rules/)
    severity: Severity  # INFO, WARNING or CRITICAL (in JSON: "info", "warning", "critical")
    node_id: int | None
    title: str
    detail: str
    action: str
    index_sql: str | None = None  # a proposed index, as hypopg_create_index() takes it
    verification: str | None = None  # "verified" (hypopg: the planner uses it) / "unverified"


@dataclass(frozen=True)
class PlanAnalysis:
    source: str
    query_text: str | None
    server_version: str | None
    analyzed: bool
    planning_ms: float | None
    execution_ms: float | None
    total_ms: float | None  # execution time (or the root's inclusive time)
    jit_ms: float | None
    trigger_ms: float | None
    total_cost: float | None
    nodes: tuple[NodeMetrics, ...]
    findings: tuple[Finding, ...]
    settings: dict[str, str] = field(default_factory=dict)
    triggers: tuple[dict[str, Any], ...] = ()
    plan: dict[str, Any] = field(default_factory=dict, repr=False)

    def node(self, node_id: int) -> NodeMetrics:
        return self.nodes[node_id]

    def as_dict(self) -> dict[str, Any]:
        """The stable JSON shape (documented in the README)."""
        return {
            "source": self.source,
            "query": self.query_text,
            "server_version": self.server_version,
            "analyzed": self.analyzed,
            "planning_ms": _round(self.planning_ms),
            "execution_ms": _round(self.execution_ms),
            "total_ms": _round(self.total_ms),
            "jit_ms": _round(self.jit_ms),
            "trigger_ms": _round(self.trigger_ms),
            "total_cost": self.total_cost,
            "settings": self.settings,
            "triggers": list(self.triggers),
            "nodes": [_node_dict(n) for n in self.nodes],
            "findings": [asdict(f) for f in self.findings],
            "plan": self.plan,
        }


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


NODE_FIELDS = tuple(f.name for f in fields(NodeMetrics))


def _node_dict(node: NodeMetrics) -> dict[str, Any]:
    # a shallow copy: asdict() deep-copies every value, 40x slower on a 2,000-node plan
    data = {name: getattr(node, name) for name in NODE_FIELDS}
    data["buffers"] = dict(node.buffers)
    for key in ("inclusive_ms", "exclusive_ms", "exclusive_cost", "actual_rows_total"):
        data[key] = _round(data[key])
    data["share"] = _round(data["share"], 4)
    data["misestimate_factor"] = _round(data["misestimate_factor"], 1)
    return data
