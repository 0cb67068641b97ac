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

import math
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from dbadmin.explain.plan import PlanDocument
from dbadmin.explain.sqltext import quote_ident, split_top_level, strip_parens, unquote_ident
from dbadmin.render import human_rows

SEVERITIES = ("info", "warning", "critical")
LARGE_TABLE_ROWS = 10_000  # a seq scan reading fewer rows than this is not worth an index
SELECTIVE_FRACTION = 0.10  # the filter keeps at most this share of the rows it reads
NESTED_LOOP_OUTER_ROWS = 10_000
HEAP_FETCH_MIN = 100
SLOW_SHARES = ((0.90, "critical"), (0.40, "warning"), (0.10, "info"))
MISESTIMATE_LEVELS = ((1000.0, "critical"), (100.0, "warning"), (10.0, "info"))
MISESTIMATE_MIN_ROWS = 100


def share_level(share: float | None) -> str | None:
    """The SLOW_SHARES level a node's share of the time reaches (limit included), else None.

    The plan renderers colour their bars by it; a slow-node finding needs the share to exceed
    the limit.
    """
    if share is None:
        return None
    return next((level for limit, level in SLOW_SHARES if share >= limit), None)


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
    kind: str  # slow_node seq_scan misestimate spill nested_loop heap_fetches planning jit workers
    severity: str  # info warning critical
    node_id: int | None
    title: str
    detail: str
    action: str


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


_NODE_FIELDS = tuple(f.name for f in fields(NodeMetrics))


def _node_dict(node: NodeMetrics) -> dict[str, Any]:
    # a shallow copy: asdict() deep-copies every value, 40x slower on a 2,000-node plan
    data = {name: getattr(node, name) for name in _NODE_FIELDS}
    data["buffers"] = dict(node.buffers)
    for key in ("inclusive_ms", "exclusive_ms", "exclusive_cost", "actual_rows_total"):
        data[key] = _round(data[key])
    data["share"] = _round(data["share"], 4)
    data["misestimate_factor"] = _round(data["misestimate_factor"], 1)
    return data


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


_NODE_FIELD_SET = frozenset(_NODE_FIELDS)


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


def _metrics(
    works: list[_Work], total_ms: float | None, total_cost: float | None
) -> list[NodeMetrics]:
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
        excl_cost = None
        if cost is not None:
            children_cost = sum(
                _num(works[c].raw.get("Total Cost")) or 0.0
                for c in work.children
                if works[c].raw.get("Parent Relationship") != "InitPlan"
            )
            excl_cost = max(cost - children_cost, 0.0)
        if work.exclusive is not None and total_ms:
            share: float | None = work.exclusive / total_ms
        elif work.exclusive is None and excl_cost is not None and total_cost:
            share = excl_cost / total_cost
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
    context = _Context(
        nodes=nodes,
        works=works,
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


# --- findings ----------------------------------------------------------------------------------
@dataclass
class _Context:
    nodes: list[NodeMetrics]
    works: list[_Work]
    total_ms: float | None
    planning_ms: float | None
    execution_ms: float | None
    jit_ms: float | None
    settings: dict[str, str]
    stats: dict[str, dict[str, Any]]
    version_num: int | None
    analyzed: bool
    total_cost: float | None

    def children(self, node: NodeMetrics) -> list[NodeMetrics]:
        return [self.nodes[c] for c in self.works[node.id].children]

    def ancestors(self, node: NodeMetrics) -> list[NodeMetrics]:
        out = []
        current = node.parent_id
        while current is not None:
            out.append(self.nodes[current])
            current = self.nodes[current].parent_id
        return out


def find_problems(ctx: _Context) -> list[Finding]:
    findings: list[Finding] = []
    for node in ctx.nodes:
        findings.extend(_seq_scan(ctx, node))
        findings.extend(_misestimate(ctx, node))
        findings.extend(_spill(ctx, node))
        findings.extend(_nested_loop(ctx, node))
        findings.extend(_heap_fetches(node))
        findings.extend(_workers(node))
    findings.extend(_slow_nodes(ctx, findings))
    findings.extend(_planning(ctx))
    findings.extend(_jit(ctx))
    order = {s: i for i, s in enumerate(reversed(SEVERITIES))}
    findings.sort(key=lambda f: (order[f.severity], f.node_id if f.node_id is not None else -1))
    return findings


def _qualified(node: NodeMetrics) -> str:
    assert node.relation is not None
    name = quote_ident(node.relation)
    return f"{quote_ident(node.schema)}.{name}" if node.schema else name


def _fmt_ms(ms: float | None) -> str:
    # not render.human_ms: finding texts (also in --json) keep milliseconds above 1 s
    if ms is None:
        return "-"
    return f"{ms:,.3f} ms" if ms < 1 else f"{ms:,.1f} ms"


def _table_rows(ctx: _Context, node: NodeMetrics) -> float | None:
    if node.relation is None:
        return None
    for key in (f"{node.schema}.{node.relation}", node.relation):
        stats = ctx.stats.get(key)
        if stats and stats.get("reltuples") is not None:
            return float(stats["reltuples"])
    return None


# Filter parsing: "(t.status = 'done'::text)", "((t.email)::text = ANY ('{a,b}'::text[]))" ...
_COLREF = r'\(?(?:(?P<qual>"(?:[^"]|"")+"|[A-Za-z_][\w$]*)\.)?(?P<col>"(?:[^"]|"")+"|[A-Za-z_][\w$]*)\)?(?:::[\w ."\[\]]+?)?'
_CONJUNCT = re.compile(
    rf"^{_COLREF}\s*(?P<op>=|<=|>=|<|>|IS NULL)\s*(?P<rhs>.*)$", re.IGNORECASE | re.DOTALL
)
_CONST = re.compile(
    r"""^(?:'(?:[^']|'')*'(?:::[\w ."\[\]]+)?|-?\d[\d.e+-]*(?:::[\w ."\[\]]+)?|\$\d+|true|false|NULL|"""
    r"""ANY\s*\(.*\)|\(InitPlan \d+\)\.col\d+|\(SubPlan \d+\)|\(\$\d+\)(?:::[\w ."\[\]]+)?)$""",
    re.IGNORECASE | re.DOTALL,
)
_KEYWORDS = {"true", "false", "null", "not", "any", "all"}


@dataclass(frozen=True)
class FilterColumn:
    column: str
    equality: bool


def filter_columns(expr: str | None, names: set[str]) -> list[FilterColumn]:
    """Columns compared with a constant in a simple AND of ``col op value`` terms.

    ``names`` are the table's name and alias (a qualifier must be one of them). An expression
    on the column (``lower(email)``), an OR, or a comparison with another column gives nothing.
    """
    if not expr:
        return []
    text = strip_parens(expr)
    if len(split_top_level(text, "OR")) > 1:
        return []  # an OR: no simple index suggestion
    out: list[FilterColumn] = []
    for conjunct in split_top_level(text, "AND"):
        term = strip_parens(conjunct)
        match = _CONJUNCT.match(term)
        if not match:
            continue
        qual, col = match.group("qual"), match.group("col")
        if qual is not None and unquote_ident(qual) not in names:
            continue
        if col.lower() in _KEYWORDS:
            continue
        op = match.group("op").upper()
        rhs = strip_parens(match.group("rhs")) if op != "IS NULL" else ""
        if op != "IS NULL" and not _CONST.match(rhs):
            continue
        equality = op in {"=", "IS NULL"}
        column = unquote_ident(col)
        if all(c.column != column for c in out):
            out.append(FilterColumn(column, equality))
    return out


def _index_statement(node: NodeMetrics, columns: list[FilterColumn]) -> str | None:
    if not columns or node.relation is None:
        return None
    equal = [c.column for c in columns if c.equality]
    ranged = [c.column for c in columns if not c.equality]
    chosen = (equal + ranged[:1])[:3]
    name = "ix_" + "_".join([node.relation, *chosen])
    name = re.sub(r"[^a-z0-9_]", "_", name.lower())[:63]
    cols = ", ".join(quote_ident(c) for c in chosen)
    return f"CREATE INDEX CONCURRENTLY {quote_ident(name)} ON {_qualified(node)} ({cols});"


def _seq_scan(ctx: _Context, node: NodeMetrics) -> list[Finding]:
    if node.node_type != "Seq Scan" or not node.filter or node.relation is None:
        return []
    names = {node.relation, *([node.alias] if node.alias else [])}
    if ctx.analyzed:
        if node.never_executed or node.actual_rows_total is None:
            return []
        removed = node.rows_removed_by_filter or 0.0
        scanned = node.actual_rows_total + removed
        kept_fraction = node.actual_rows_total / max(scanned, 1.0)
        # one full scan is spread over the leader and workers under a Gather
        processes = (ctx.works[node.id].workers or 0) + 1 if node.under_gather else 1
        scans = max((node.loops or 1.0) / processes, 1.0)
        rows_read = scanned / scans  # per scan of the table, measured
        table_rows = max(_table_rows(ctx, node) or 0.0, rows_read)
    else:
        table_rows = _table_rows(ctx, node)
        if not table_rows or node.plan_rows is None:
            return []
        processes = (ctx.works[node.id].workers or 0) + 1 if node.under_gather else 1
        kept_rows = node.plan_rows * processes  # a parallel node's estimate is per process
        kept_fraction = kept_rows / max(table_rows, 1.0)
        removed = max(table_rows - kept_rows, 0.0)
        rows_read = table_rows  # planned: the whole table per pg_class.reltuples
    if table_rows < LARGE_TABLE_ROWS or kept_fraction > SELECTIVE_FRACTION:
        return []
    columns = filter_columns(node.filter, names)
    statement = _index_statement(node, columns)
    severity = "critical" if (node.share or 0) >= 0.5 and (ctx.total_ms or 0) >= 100 else "warning"
    kept = f"{kept_fraction:.2%}" if kept_fraction >= 0.0001 else "<0.01%"
    detail = (
        f"reads {human_rows(rows_read)} rows of {_qualified(node)} and keeps {kept} "
        f"(filter {node.filter}; {human_rows(removed)} rows removed)"
    )
    if statement:
        action = statement + f" -- then ANALYZE {_qualified(node)};"
    else:
        action = (
            f"add an index matching the filter {node.filter} on {_qualified(node)} "
            "(an expression index if the filter wraps the column in a function)"
        )
    return [
        Finding(
            kind="seq_scan",
            severity=severity,
            node_id=node.id,
            title=f"Sequential scan on {_qualified(node)} with a selective filter",
            detail=detail,
            action=action,
        )
    ]


def _relations_below(ctx: _Context, node: NodeMetrics) -> list[NodeMetrics]:
    seen: dict[str, NodeMetrics] = {}
    for work in _subtree(ctx.works, ctx.works[node.id]):
        scan = ctx.nodes[work.id]
        if scan.relation and _qualified(scan) not in seen:
            seen[_qualified(scan)] = scan
    return list(seen.values())


def _misestimate(ctx: _Context, node: NodeMetrics) -> list[Finding]:
    factor = node.misestimate_factor
    if factor is None or factor < MISESTIMATE_LEVELS[-1][0] or node.never_executed:
        return []
    if node.node_type in {"Limit", "Hash", "Materialize", "Memoize", "Gather", "Gather Merge"}:
        return []
    if (
        any(a.node_type == "Limit" for a in ctx.ancestors(node))
        and node.misestimate_direction == "over"
    ):
        return []  # a Limit stops its input early: fewer rows than planned is expected
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
    if node.relation:
        table = _qualified(node)
        names = {node.relation, *([node.alias] if node.alias else [])}
        cols = [c.column for c in filter_columns(node.filter or node.index_cond, names)]
        stale = _staleness(ctx, node)
        action = f"ANALYZE {table};{stale}"
        if len(cols) >= 2:
            stat = re.sub(r"[^a-z0-9_]", "_", "st_" + "_".join([node.relation, *cols[:3]]).lower())[
                :63
            ]
            action += (
                f" If it stays off, the columns are correlated: CREATE STATISTICS {quote_ident(stat)} "
                f"(dependencies, ndistinct, mcv) ON {', '.join(quote_ident(c) for c in cols[:3])} "
                f"FROM {table}; ANALYZE {table};"
            )
        elif cols:
            action += (
                f" If it stays off, raise the sample for the column: ALTER TABLE {table} ALTER COLUMN "
                f"{quote_ident(cols[0])} SET STATISTICS 1000; ANALYZE {table};"
            )
    else:
        tables = [_qualified(s) for s in _relations_below(ctx, node)]
        listed = ", ".join(tables) if tables else "the joined tables"
        action = (
            f"ANALYZE {listed}; if the join estimate stays off, the join/filter columns are "
            "correlated: CREATE STATISTICS (dependencies, ndistinct, mcv) on them"
        )
    return [
        Finding(
            kind="misestimate",
            severity=severity,
            node_id=node.id,
            title=f"Row estimate off by {factor:,.0f}x at {node.label}",
            detail=detail,
            action=action,
        )
    ]


def _staleness(ctx: _Context, node: NodeMetrics) -> str:
    stats = ctx.stats.get(f"{node.schema}.{node.relation}") or ctx.stats.get(node.relation or "")
    if not stats:
        return ""
    if not stats.get("last_analyze"):
        return " (never analysed)"
    changed = stats.get("n_mod_since_analyze")
    if changed:
        return f" ({changed:,} rows changed since the last ANALYZE at {stats['last_analyze']})"
    return ""


def _work_mem_setting(ctx: _Context) -> str:
    return ctx.settings.get("work_mem", "4MB (default)")


def _suggest_mb(needed_kb: float) -> int:
    mb = max(needed_kb / 1024.0, 1.0)
    return max(4, 2 ** math.ceil(math.log2(mb)))


def _hash_mem_multiplier(ctx: _Context) -> float:
    raw = ctx.settings.get("hash_mem_multiplier")
    if raw:
        try:
            return float(raw)
        except ValueError:
            pass
    if ctx.version_num is not None and ctx.version_num < 150000:
        return 1.0
    return 2.0


def _spill(ctx: _Context, node: NodeMetrics) -> list[Finding]:
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
    severity = "warning" if (node.share or 0) >= 0.10 or not ctx.analyzed else "info"
    if (node.share or 0) >= 0.40:
        severity = "critical"
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


def _nested_loop(ctx: _Context, node: NodeMetrics) -> list[Finding]:
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
        advice.append(f"each inner loop scans {_qualified(inner)} in full: index its join column")
    advice.append(
        "a hash or merge join reads each side once: check the join condition is an equality the "
        "planner can hash, and that work_mem fits the smaller side"
    )
    return [
        Finding(
            kind="nested_loop",
            severity="critical" if inclusive_share >= 0.60 and outer_rows >= 100_000 else "warning",
            node_id=node.id,
            title=f"Nested loop with a large outer side ({human_rows(outer_rows)} rows)",
            detail=detail,
            action="; ".join(advice),
        )
    ]


def _heap_fetches(node: NodeMetrics) -> list[Finding]:
    if node.node_type != "Index Only Scan" or not node.heap_fetches or node.relation is None:
        return []
    rows = max(node.actual_rows_total or 0.0, 1.0)
    if node.heap_fetches < HEAP_FETCH_MIN or node.heap_fetches < 0.10 * rows:
        return []
    table = _qualified(node)
    return [
        Finding(
            kind="heap_fetches",
            severity="warning",
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


def _workers(node: NodeMetrics) -> list[Finding]:
    planned, launched = node.workers_planned, node.workers_launched
    if planned is None or launched is None or launched >= planned:
        return []
    return [
        Finding(
            kind="workers",
            severity="warning",
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


_SLOW_ADVICE = {
    "Seq Scan": "reads the whole table: an index for its filter or fewer rows scanned",
    "Sort": "sorts at run time: an index in the ORDER BY order avoids it",
    "Hash Join": "builds a hash table: check the row estimates of both sides",
    "Nested Loop": "runs its inner side once per outer row",
    "Aggregate": "aggregates many rows: pre-aggregate or filter earlier",
    "Bitmap Heap Scan": "visits many heap pages: a more selective or covering index helps",
}


def _slow_nodes(ctx: _Context, others: list[Finding]) -> list[Finding]:
    if not ctx.analyzed or not ctx.total_ms:
        return []
    findings = []
    for node in ctx.nodes:
        share = node.share or 0.0
        level = next((lvl for limit, lvl in SLOW_SHARES if share > limit), None)
        if level is None:
            continue
        if (ctx.total_ms or 0.0) < 10.0:
            level = "info"  # a 3 ms query: where the time goes, nothing to worry about
        related = [f for f in others if f.node_id == node.id]
        if related:
            action = (
                "see the "
                + ", ".join(sorted({f.kind for f in related}))
                + " finding(s) for this node"
            )
        else:
            action = "this node " + _SLOW_ADVICE.get(
                node.node_type, "is where the time goes; start here"
            )
        findings.append(
            Finding(
                kind="slow_node",
                severity=level,
                node_id=node.id,
                title=f"{node.label} takes {share:.0%} of the execution time",
                detail=f"{_fmt_ms(node.exclusive_ms)} exclusive of {_fmt_ms(ctx.total_ms)}",
                action=action,
            )
        )
    return findings


def _planning(ctx: _Context) -> list[Finding]:
    planning, execution = ctx.planning_ms, ctx.execution_ms
    if planning is None or execution is None or planning < 5.0 or planning <= execution:
        return []
    severity = "critical" if planning >= 100.0 and planning >= 10 * execution else "warning"
    return [
        Finding(
            kind="planning",
            severity=severity,
            node_id=None,
            title=f"Planning ({_fmt_ms(planning)}) takes longer than execution ({_fmt_ms(execution)})",
            detail="the planner's work dominates: many joins, many partitions, or bloated catalogs",
            action=(
                "reuse plans with prepared statements (protocol-level ones work through Neon's "
                "pooler), cut the partitions scanned (filter on the partition key), and for "
                "many-way joins consider join_collapse_limit; VACUUM the system catalogs if "
                "planning buffers are high"
            ),
        )
    ]


def _jit(ctx: _Context) -> list[Finding]:
    jit, execution = ctx.jit_ms, ctx.execution_ms
    if not jit or not execution or jit < 5.0 or jit < 0.20 * execution:
        return []
    cost = ctx.total_cost or 0.0
    above = int(10 ** math.ceil(math.log10(max(cost, 1.0) * 2)))
    return [
        Finding(
            kind="jit",
            severity="critical" if jit >= 0.5 * execution else "warning",
            node_id=None,
            title=f"JIT compilation takes {jit / execution:.0%} of the execution time",
            detail=(
                f"{_fmt_ms(jit)} spent compiling for a {_fmt_ms(execution)} execution "
                f"(plan cost {cost:,.0f} is above jit_above_cost "
                f"{ctx.settings.get('jit_above_cost', '100000')})"
            ),
            action=(
                f"SET jit = off; for this query, or raise the threshold: "
                f"ALTER DATABASE <db> SET jit_above_cost = {above};"
            ),
        )
    ]
