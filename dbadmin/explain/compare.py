"""Baselines: save an analysed plan, compare a new one with it (what a CI job runs).

The plan shape is the pre-order list of node signatures (depth, node type, relation, index,
CTE, join type, strategy); two shapes are aligned with difflib, so an index scan replaced by a
sequential scan shows as one changed node and inserted/removed nodes as such. Time is compared on
execution time (or total cost when either plan was not analysed): with several runs on both
sides (``--runs``, 5 by default with --save/--compare), their medians, and a slowdown counts only
beyond the relative limit AND an absolute floor: the larger of ``--min-regression-ms`` and three
robust standard deviations of the measured run-to-run spread (:mod:`dbadmin.explain.timing`).
Buffers (pages hit + read) are deterministic and compared with the same relative limit.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dbadmin.errors import UsageError
from dbadmin.explain.analyze import PlanAnalysis
from dbadmin.explain.timing import RunStats, noise_floor

BASELINE_FORMAT = 1
MIN_BUFFER_DELTA = 100  # pages (800 kB): below this a change in buffers is not a regression
# With the same plan and the same pages, a query's time moves with the machine's load: on a
# shared 2-core machine, one batch of runs measured 40 % slower than the batch before it with
# nothing changed. Time alone fails the gate only beyond this (or --max-regression if larger),
# in the median and in the fastest run; a changed plan or more pages are judged at
# --max-regression as before.
TIME_ONLY_REGRESSION = 1.0


@dataclass(frozen=True)
class ShapeChange:
    change: str  # "changed", "added", "removed"
    baseline_node: int | None
    current_node: int | None
    baseline: str | None  # the node's label
    current: str | None

    def describe(self) -> str:
        if self.change == "changed":
            return f"node {self.current_node}: {self.baseline} -> {self.current}"
        if self.change == "added":
            return f"node {self.current_node} added: {self.current}"
        return f"baseline node {self.baseline_node} removed: {self.baseline}"


@dataclass(frozen=True)
class NodeDelta:
    node_id: int
    label: str
    baseline_ms: float | None
    current_ms: float | None
    delta_ms: float | None


@dataclass(frozen=True)
class PlanComparison:
    metric: str  # "execution_ms" or "total_cost"
    baseline_total: float | None
    current_total: float | None
    delta: float | None
    ratio: float | None  # current / baseline - 1
    max_regression: float
    min_delta_ms: float
    slower: bool  # beyond --max-regression (and the noise floor)
    shape_changed: bool
    changes: tuple[ShapeChange, ...]
    node_deltas: tuple[NodeDelta, ...]
    noise_floor: float = 0.0  # the absolute slowdown below which time is noise
    runs: tuple[int, int] = (1, 1)  # runs behind the baseline's and the current figure
    baseline_buffers: int | None = None
    current_buffers: int | None = None
    buffers_grew: bool = False
    time_limit: float | None = None  # the relative limit time was judged by (None: max_regression)

    def failures(self, *, fail_on_shape_change: bool) -> list[str]:
        out = []
        if self.slower and self.ratio is not None:
            unit = "ms" if self.metric == "execution_ms" else ""
            median = " median" if max(self.runs) > 1 else ""
            out.append(
                f"{self.metric}{median} {self.baseline_total:.3f}{unit} -> "
                f"{self.current_total:.3f}{unit} (+{self.ratio:.0%}, limit "
                f"+{self.time_limit or self.max_regression:.0%} and +{self.noise_floor:.3f}{unit})"
            )
        if self.buffers_grew:
            out.append(
                f"buffers {self.baseline_buffers:,} -> {self.current_buffers:,} pages "
                f"(limit +{self.max_regression:.0%})"
            )
        if fail_on_shape_change and self.shape_changed:
            out.append("plan shape changed: " + "; ".join(c.describe() for c in self.changes[:5]))
        return out

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("baseline_total", "current_total", "delta"):
            data[key] = None if data[key] is None else round(data[key], 3)
        data["ratio"] = None if self.ratio is None else round(self.ratio, 4)
        data["changes"] = [{**asdict(c), "description": c.describe()} for c in self.changes]
        return data


def save_baseline(
    analysis: PlanAnalysis,
    path: Path,
    *,
    params: dict[str, str] | None = None,
    stats: RunStats | None = None,
) -> None:
    document = {"dbadmin_baseline": BASELINE_FORMAT, "params": params or {}, **analysis.as_dict()}
    if stats is not None:
        document["timing"] = stats.as_dict()
    from dbadmin.files import write_atomically

    write_atomically(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def load_baseline(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"baseline {path} does not exist", "create it with --save") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"baseline {path} is not readable JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        raise UsageError(
            f"{path} is not a dbadmin baseline", "create it with dbadmin explain --save"
        )
    return data


def _signature(node: dict[str, Any]) -> str:
    relation = node.get("relation")
    if relation and node.get("schema"):
        relation = f"{node['schema']}.{relation}"
    parts = [
        str(node.get("depth")),
        str(node.get("node_type")),
        str(relation or ""),
        str(node.get("index") or ""),
        str(node.get("cte_name") or ""),
        str(node.get("parent_relationship") or ""),
    ]
    label = str(node.get("label") or "")
    for word in ("HashAggregate", "GroupAggregate", "Left", "Right", "Full", "Semi", "Anti"):
        if f"{word} " in label + " ":
            parts.append(word)
    return "|".join(parts)


def compare_plans(
    baseline: dict[str, Any],
    current: PlanAnalysis,
    *,
    max_regression: float = 0.20,
    min_delta_ms: float = 1.0,
    stats: RunStats | None = None,
) -> PlanComparison:
    base_nodes: list[dict[str, Any]] = baseline["nodes"]
    cur_nodes = current.as_dict()["nodes"]
    matcher = difflib.SequenceMatcher(
        a=[_signature(n) for n in base_nodes], b=[_signature(n) for n in cur_nodes], autojunk=False
    )
    changes: list[ShapeChange] = []
    deltas: list[NodeDelta] = []
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            for i, j in zip(range(a0, a1), range(b0, b1), strict=True):
                old, new = base_nodes[i].get("exclusive_ms"), cur_nodes[j].get("exclusive_ms")
                delta = None if old is None or new is None else new - old
                deltas.append(NodeDelta(j, cur_nodes[j]["label"], old, new, delta))
            continue
        pairs = min(a1 - a0, b1 - b0) if op == "replace" else 0
        for k in range(pairs):
            old, new = base_nodes[a0 + k], cur_nodes[b0 + k]
            changes.append(ShapeChange("changed", old["id"], new["id"], old["label"], new["label"]))
        for i in range(a0 + pairs, a1):
            changes.append(
                ShapeChange("removed", base_nodes[i]["id"], None, base_nodes[i]["label"], None)
            )
        for j in range(b0 + pairs, b1):
            changes.append(
                ShapeChange("added", None, cur_nodes[j]["id"], None, cur_nodes[j]["label"])
            )
    old_total: float | None  # None: a plan without the figure (an old baseline, no ANALYZE)
    new_total: float | None
    if baseline.get("execution_ms") is not None and current.execution_ms is not None:
        metric, old_total, new_total, floor = (
            "execution_ms",
            float(baseline["execution_ms"]),
            current.execution_ms,
            min_delta_ms,
        )
    else:
        metric, old_total, new_total, floor = (
            "total_cost",
            baseline.get("total_cost"),
            current.total_cost,
            0.0,
        )
    saved = baseline.get("timing") if isinstance(baseline.get("timing"), dict) else None
    runs = (1, 1)
    fastest: tuple[float, float] | None = None  # (baseline, now): best of the runs
    if saved and stats is not None and saved.get("metric") == metric == stats.metric:
        old_total, new_total = float(saved["p50"]), stats.p50
        floor = noise_floor(float(saved.get("spread") or 0.0), stats.spread, floor)
        runs = (int(saved.get("runs") or 1), stats.runs)
        if saved.get("samples"):
            fastest = (min(float(x) for x in saved["samples"]), min(stats.samples))
    old_buffers = _baseline_buffers(baseline, saved)
    new_buffers = stats.buffers if stats is not None else _root_buffers(cur_nodes)
    buffers_grew = (
        old_buffers is not None
        and new_buffers is not None
        and new_buffers - old_buffers >= MIN_BUFFER_DELTA
        and new_buffers > old_buffers * (1.0 + max_regression)
    )
    delta = ratio = None
    slower = False
    if old_total is not None and new_total is not None:
        delta = new_total - old_total
        ratio = (
            (new_total / old_total - 1.0)
            if old_total > 0
            else (0.0 if new_total == 0 else float("inf"))
        )
        slower = ratio > max_regression and delta >= floor
    time_limit = None
    if slower and fastest is not None and not changes and not buffers_grew:
        # Same plan, same pages: time alone (see TIME_ONLY_REGRESSION), in the median and in
        # the fastest run. Load only ever adds time, so the best of N runs is the query's own
        # cost; a median that moved while the best run did not is the machine, not the query.
        time_limit = max(max_regression, TIME_ONLY_REGRESSION)
        best_old, best_new = fastest
        slower = (
            ratio is not None
            and ratio > time_limit
            and best_new - best_old >= floor
            and best_new > best_old * (1.0 + time_limit)
        )
    deltas.sort(key=lambda d: -(abs(d.delta_ms) if d.delta_ms is not None else 0.0))
    return PlanComparison(
        metric=metric,
        baseline_total=old_total,
        current_total=new_total,
        delta=delta,
        ratio=ratio,
        max_regression=max_regression,
        min_delta_ms=min_delta_ms,
        slower=slower,
        shape_changed=bool(changes),
        changes=tuple(changes),
        node_deltas=tuple(deltas),
        noise_floor=floor,
        runs=runs,
        baseline_buffers=old_buffers,
        current_buffers=new_buffers,
        buffers_grew=buffers_grew,
        time_limit=time_limit,
    )


def _root_buffers(nodes: list[dict[str, Any]]) -> int | None:
    buffers = nodes[0].get("buffers") if nodes else None
    if not buffers:
        return None
    return int(buffers.get("shared_hit", 0) + buffers.get("shared_read", 0))


def _baseline_buffers(baseline: dict[str, Any], saved: dict[str, Any] | None) -> int | None:
    if saved and saved.get("buffers") is not None:
        return int(saved["buffers"])
    return _root_buffers(baseline["nodes"])
