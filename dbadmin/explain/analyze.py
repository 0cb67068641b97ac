"""Per-node metrics and typed findings for one JSON plan.

Time accounting follows PostgreSQL's instrumentation (and PEV2's reading of it):
- ``Actual Total Time`` is per loop, so a node's inclusive time is ``time x loops``;
- under Gather/Gather Merge the loops are spread over the leader and the launched workers,
  running at the same time, so the wall-clock share is ``time x loops / (workers + 1)``;
- exclusive time is inclusive time minus the children's inclusive time, except InitPlan
  children: an InitPlan (or a CTE) runs inside the node that first reads its value (a CTE Scan,
  or the node whose filter references ``$0`` / ``(InitPlan 1)``), so its time is taken off that
  consumer instead, once. SubPlans run inside the node they hang from and are subtracted there.
The sum of exclusive times then equals the root's inclusive time (nothing counted twice).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dbadmin.explain.model import (
    NODE_FIELDS,
    SEVERITIES,
    SLOW_SHARES,
    Finding,
    NodeMetrics,
    PlanAnalysis,
    share_level,
)
from dbadmin.explain.plan import PlanDocument
from dbadmin.explain.rules import find_problems
from dbadmin.explain.rules.context import Context
from dbadmin.explain.rules.predicates import FilterColumn, filter_columns

__all__ = [
    "SEVERITIES",
    "SLOW_SHARES",
    "FilterColumn",
    "Finding",
    "NodeMetrics",
    "PlanAnalysis",
    "analyze_plan",
    "filter_columns",
    "share_level",
]

_BUFFER_KEYS = {
    "shared_hit": "Shared Hit Blocks",
    "shared_read": "Shared Read Blocks",
    "shared_dirtied": "Shared Dirtied Blocks",
    "shared_written": "Shared Written Blocks",
    "local_hit": "Local Hit Blocks",
    "local_read": "Local Read Blocks",
    "temp_read": "Temp Read Blocks",
    "temp_written": "Temp Written Blocks",
}


# --- metrics -----------------------------------------------------------------------------------
@dataclass
class _Work:
    raw: dict[str, Any]
    id: int
    parent: int | None
    depth: int
    children: list[int]
    workers: int | None  # Gather's launched workers when under a Gather
    inclusive: float | None = None
    exclusive: float | None = None


def _flatten(root: dict[str, Any]) -> list[_Work]:
    out: list[_Work] = []

    def visit(raw: dict[str, Any], parent: int | None, depth: int, workers: int | None) -> int:
        work = _Work(raw=raw, id=len(out), parent=parent, depth=depth, children=[], workers=workers)
        out.append(work)
        child_workers = workers
        if raw.get("Node Type") in {"Gather", "Gather Merge"}:
            planned = raw.get("Workers Planned")
            launched = raw.get("Workers Launched")
            child_workers = int(launched if launched is not None else planned or 0)
        for child in raw.get("Plans", []) or []:
            work.children.append(visit(child, work.id, depth + 1, child_workers))
        return work.id

    visit(root, None, 0, None)
    return out


def _inclusive_ms(work: _Work) -> float | None:
    raw = work.raw
    per_loop = raw.get("Actual Total Time")
    loops = raw.get("Actual Loops")
    if loops is None:
        return None
    if loops == 0 or per_loop is None:
        return 0.0
    total = float(per_loop) * float(loops)
    if work.workers is not None:
        total /= work.workers + 1  # leader + workers ran these loops side by side
    return total


def _param_refs(raw: dict[str, Any]) -> list[str]:
    """How the consumers of an InitPlan refer to it: "$0" (<= PG16) or "(InitPlan 1)" (17+)."""
    name = raw.get("Subplan Name") or ""
    refs = []
    number = re.match(r"InitPlan (\d+)", name)
    if number:
        refs.append(f"(InitPlan {number.group(1)})")
    returns = re.search(r"returns ([^)]*)\)", name)
    if returns:
        refs.extend(p.strip() for p in returns.group(1).split(","))
    return refs


def _node_text(raw: dict[str, Any]) -> str:
    parts = []
    for key, value in raw.items():
        if key == "Plans":
            continue
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            parts.extend(v for v in value if isinstance(v, str))
    return "\n".join(parts)


def _references(text: str, ref: str) -> bool:
    if ref.startswith("$"):
        return re.search(re.escape(ref) + r"(?!\d)", text) is not None
    return ref in text


def _compute_times(works: list[_Work]) -> None:
    for work in reversed(works):  # children before parents
        work.inclusive = _inclusive_ms(work)
    for work in works:
        if work.inclusive is None:
            continue
        children = sum(
            works[c].inclusive or 0.0
            for c in work.children
            if works[c].raw.get("Parent Relationship") != "InitPlan"
        )
        work.exclusive = work.inclusive - children
    # InitPlans and CTEs: take their time off the node(s) that ran them.
    for work in works:
        for c in work.children:
            child = works[c]
            if child.raw.get("Parent Relationship") != "InitPlan" or not child.inclusive:
                continue
            consumers = _consumers(works, work, child)
            budget = child.inclusive
            for consumer in consumers:
                if budget <= 0:
                    break
                available = max(consumer.exclusive or 0.0, 0.0)
                take = min(available, budget)
                consumer.exclusive = (consumer.exclusive or 0.0) - take
                budget -= take
    for work in works:
        if work.exclusive is not None and work.exclusive < 0:
            work.exclusive = 0.0


def _subtree(works: list[_Work], start: _Work, skip: int | None = None) -> list[_Work]:
    out: list[_Work] = []
    stack = [start.id]
    while stack:
        current = works[stack.pop()]
        if current.id == skip:
            continue
        out.append(current)
        stack.extend(reversed(current.children))
    return out


def _consumers(works: list[_Work], owner: _Work, initplan: _Work) -> list[_Work]:
    name = initplan.raw.get("Subplan Name") or ""
    if name.startswith("CTE "):
        cte = name[4:].strip()
        scans = [
            w
            for w in works
            if w.raw.get("Node Type") == "CTE Scan" and w.raw.get("CTE Name") == cte
        ]
        # the scan that first read the CTE ran it: it is the one holding the time
        scans.sort(key=lambda w: -(w.exclusive or 0.0))
        return scans or [owner]
    refs = _param_refs(initplan.raw)
    scope = _subtree(works, owner, skip=initplan.id)
    found = [w for w in scope if refs and any(_references(_node_text(w.raw), r) for r in refs)]
    return found + [owner] + [w for w in scope if w is not owner and w not in found]


def _label(raw: dict[str, Any]) -> str:
    node_type = raw.get("Node Type", "?")
    parts = [node_type]
    if raw.get("Parallel Aware") and not node_type.startswith("Parallel"):
        parts = ["Parallel", node_type]
    if raw.get("Strategy") and node_type == "Aggregate":
        parts = [
            {"Hashed": "HashAggregate", "Sorted": "GroupAggregate"}.get(raw["Strategy"], node_type)
        ]
    if raw.get("Join Type") and raw.get("Join Type") != "Inner":
        parts.append(raw["Join Type"])
    if raw.get("Index Name"):
        parts.append(f"using {raw['Index Name']}")
    if raw.get("Relation Name"):
        rel = raw["Relation Name"]
        if raw.get("Schema"):
            rel = f"{raw['Schema']}.{rel}"
        parts.append(f"on {rel}")
        if raw.get("Alias") and raw["Alias"] != raw["Relation Name"]:
            parts.append(raw["Alias"])
    elif raw.get("CTE Name"):
        parts.append(f"on {raw['CTE Name']}")
        if raw.get("Alias") and raw["Alias"] != raw["CTE Name"]:
            parts.append(raw["Alias"])
    elif raw.get("Function Name"):
        parts.append(f"on {raw['Function Name']}")
    return " ".join(parts)


def _num(value: Any) -> float | None:
    return float(value) if type(value) in (int, float) else None  # not bool


def _spill_info(raw: dict[str, Any]) -> tuple[str | None, str | None, float | None, float | None]:
    """(sort method, sort space type, sort kB, disk kB) over the node and its workers."""
    method = raw.get("Sort Method")
    space_type = raw.get("Sort Space Type")
    space = _num(raw.get("Sort Space Used"))
    disk = space if space_type == "Disk" else None
    for worker in raw.get("Workers", []) or []:
        if not isinstance(worker, dict):
            continue
        if worker.get("Sort Space Type") == "Disk":
            used = _num(worker.get("Sort Space Used")) or 0.0
            disk = max(disk or 0.0, used)
            space_type = "Disk"
            method = worker.get("Sort Method") or method
            space = max(space or 0.0, used)
    if raw.get("Disk Usage"):  # HashAgg (PostgreSQL 13+)
        disk = max(disk or 0.0, _num(raw.get("Disk Usage")) or 0.0)
    if raw.get("Storage") == "Disk":  # Material, CTE Scan, WindowAgg (PostgreSQL 18)
        disk = max(disk or 0.0, _num(raw.get("Maximum Storage")) or 0.0)
    return method, space_type, space, disk


_NODE_FIELD_SET = frozenset(NODE_FIELDS)


def _frozen_node(**values: Any) -> NodeMetrics:
    """``NodeMetrics(**values)`` without the generated ``__init__`` of a frozen dataclass, which
    calls ``object.__setattr__`` once per field: 45 calls a node, most of the analysis time of a
    2,000-node plan. The object is the same (frozen, equal, ``asdict`` works)."""
    if values.keys() != _NODE_FIELD_SET:
        missing = sorted(_NODE_FIELD_SET - values.keys())
        unknown = sorted(values.keys() - _NODE_FIELD_SET)
        raise TypeError(f"NodeMetrics: missing {missing}, unknown {unknown}")
    node = object.__new__(NodeMetrics)
    node.__dict__.update(values)
    return node


def _exclusive_costs(works: list[_Work]) -> list[float | None]:
    """Each node's own estimated cost, after scaling for consumers that stop early.

    A node that costs less than its inputs together (a Limit, a Merge Join that ends with one
    side, a semi join) will only run part of them: the planner's costs say how much, so the
    inputs' costs are scaled by ``parent / sum(inputs)``. Without this a Limit's child shows
    shares of thousands of percent. The results are never negative, so shares over their sum
    stay within 0-100 %.
    """
    effective: list[float | None] = [None] * len(works)
    for work in works:  # pre-order: parents first
        cost = _num(work.raw.get("Total Cost"))
        if work.parent is None or cost is None:
            effective[work.id] = cost
    for work in works:
        own = effective[work.id]
        cost = _num(work.raw.get("Total Cost"))
        inputs = [
            works[c] for c in work.children if works[c].raw.get("Parent Relationship") != "InitPlan"
        ]
        planned = sum(_num(c.raw.get("Total Cost")) or 0.0 for c in inputs)
        fraction = 1.0 if not cost or own is None else own / cost
        if cost is not None and planned > cost > 0:
            fraction *= cost / planned
        for child in (works[c] for c in work.children):
            child_cost = _num(child.raw.get("Total Cost"))
            if child_cost is None:
                continue
            initplan = child.raw.get("Parent Relationship") == "InitPlan"
            effective[child.id] = child_cost if initplan else child_cost * fraction
    out: list[float | None] = []
    for work in works:
        own = effective[work.id]
        if own is None:
            out.append(None)
            continue
        below = sum(
            effective[c] or 0.0
            for c in work.children
            if works[c].raw.get("Parent Relationship") != "InitPlan"
        )
        out.append(max(own - below, 0.0))
    return out


def _metrics(
    works: list[_Work], total_ms: float | None, total_cost: float | None
) -> list[NodeMetrics]:
    exclusive_costs = _exclusive_costs(works)
    cost_sum = sum(c for c in exclusive_costs if c is not None)
    nodes = []
    for work in works:
        raw = work.raw
        loops = _num(raw.get("Actual Loops"))
        rows = _num(raw.get("Actual Rows"))
        plan_rows = _num(raw.get("Plan Rows"))
        never = loops == 0
        factor: float | None = None
        direction: str | None = None
        if rows is not None and plan_rows is not None and not never:
            actual, planned = max(rows, 1.0), max(plan_rows, 1.0)
            factor = max(actual, planned) / min(actual, planned)
            direction = "under" if actual > planned else "over" if planned > actual else None
        removed = _num(raw.get("Rows Removed by Filter"))
        removed_join = _num(raw.get("Rows Removed by Join Filter"))
        method, space_type, space, disk = _spill_info(raw)
        cost = _num(raw.get("Total Cost"))
        excl_cost = exclusive_costs[work.id]
        if work.exclusive is not None and total_ms:
            share: float | None = min(max(work.exclusive / total_ms, 0.0), 1.0)
        elif work.exclusive is None and excl_cost is not None and cost_sum:
            share = min(excl_cost / cost_sum, 1.0)
        else:
            share = None
        batches = raw.get("Hash Batches", raw.get("HashAgg Batches"))
        nodes.append(
            _frozen_node(
                id=work.id,
                parent_id=work.parent,
                depth=work.depth,
                node_type=raw["Node Type"],
                label=_label(raw),
                parent_relationship=raw.get("Parent Relationship"),
                subplan_name=raw.get("Subplan Name"),
                relation=raw.get("Relation Name"),
                schema=raw.get("Schema"),
                alias=raw.get("Alias"),
                index=raw.get("Index Name"),
                cte_name=raw.get("CTE Name"),
                parallel_aware=bool(raw.get("Parallel Aware")),
                under_gather=work.workers is not None,
                startup_cost=_num(raw.get("Startup Cost")),
                total_cost=cost,
                exclusive_cost=excl_cost,
                plan_rows=plan_rows,
                actual_rows=rows,
                actual_rows_total=None if rows is None or loops is None else rows * loops,
                loops=loops,
                never_executed=never,
                inclusive_ms=work.inclusive,
                exclusive_ms=work.exclusive,
                share=share,
                misestimate_factor=factor,
                misestimate_direction=direction,
                filter=raw.get("Filter"),
                index_cond=raw.get("Index Cond") or raw.get("Recheck Cond"),
                join_filter=raw.get("Join Filter") or raw.get("Hash Cond") or raw.get("Merge Cond"),
                rows_removed_by_filter=None if removed is None else removed * (loops or 1),
                rows_removed_by_join_filter=None
                if removed_join is None
                else removed_join * (loops or 1),
                heap_fetches=_num(raw.get("Heap Fetches")),
                buffers={k: int(raw[v]) for k, v in _BUFFER_KEYS.items() if raw.get(v)},
                sort_method=method,
                sort_space_type=space_type,
                sort_space_kb=space,
                hash_batches=int(batches) if isinstance(batches, int) else None,
                original_hash_batches=raw.get("Original Hash Batches"),
                peak_memory_kb=_num(raw.get("Peak Memory Usage")),
                disk_kb=disk,
                workers_planned=raw.get("Workers Planned"),
                workers_launched=raw.get("Workers Launched"),
            )
        )
    return nodes


def _jit_ms(top: dict[str, Any]) -> float | None:
    jit = top.get("JIT")
    if not isinstance(jit, dict):
        return None
    timing = jit.get("Timing")
    if not isinstance(timing, dict):
        return None
    total = timing.get("Total")
    if isinstance(total, int | float):
        return float(total)
    parts = 0.0
    for value in timing.values():  # PostgreSQL 17: {"Generation": {"Total": ...}, ...}
        if isinstance(value, dict):
            parts += _num(value.get("Total")) or 0.0
        else:
            parts += _num(value) or 0.0
    return parts


def analyze_plan(doc: PlanDocument) -> PlanAnalysis:
    top = doc.top
    works = _flatten(doc.root)
    _compute_times(works)
    execution = _num(top.get("Execution Time"))
    planning = _num(top.get("Planning Time"))
    total_ms = execution if execution is not None else works[0].inclusive
    triggers = tuple(t for t in top.get("Triggers", []) or [] if isinstance(t, dict))
    trigger_ms = sum(_num(t.get("Time")) or 0.0 for t in triggers) if triggers else None
    total_cost = _num(doc.root.get("Total Cost"))
    nodes = _metrics(works, total_ms, total_cost)
    settings = {str(k): str(v) for k, v in (top.get("Settings") or {}).items()}
    context = Context(
        nodes=nodes,
        raws=[w.raw for w in works],
        child_ids=[w.children for w in works],
        workers=[w.workers for w in works],
        total_ms=total_ms,
        planning_ms=planning,
        execution_ms=execution,
        jit_ms=_jit_ms(top),
        settings=settings,
        stats=doc.relation_stats,
        version_num=doc.server_version_num,
        analyzed=doc.analyzed,
        total_cost=total_cost,
    )
    findings = find_problems(context)
    return PlanAnalysis(
        source=doc.source,
        query_text=doc.query_text,
        server_version=doc.server_version,
        analyzed=doc.analyzed,
        planning_ms=planning,
        execution_ms=execution,
        total_ms=total_ms,
        jit_ms=context.jit_ms,
        trigger_ms=trigger_ms,
        total_cost=total_cost,
        nodes=tuple(nodes),
        findings=tuple(findings),
        settings=settings,
        triggers=triggers,
        plan=top,
    )
