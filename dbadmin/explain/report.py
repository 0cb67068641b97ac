"""Rich renderables for an analysed plan: the node tree with per-node bars, then the findings.

Builds renderables only; the CLI decides where they are printed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dbadmin.explain.analyze import NodeMetrics, PlanAnalysis, share_level
from dbadmin.render import human_ms, human_rows
from dbadmin.severity import Severity

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.tree import Tree

    from dbadmin.explain.compare import PlanComparison
    from dbadmin.render import FittedTable

BAR_WIDTH = 12
SEVERITY_STYLE = {Severity.CRITICAL: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
SHARE_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.WARNING: "bold red",
    Severity.INFO: "yellow",
    None: "green",
}


def share_style(share: float | None) -> str:
    return "dim" if share is None else SHARE_STYLE[share_level(share)]


def bar(share: float | None, width: int = BAR_WIDTH) -> str:
    if share is None:
        return " " * width
    filled = share * width
    full = int(filled)
    partial = " ▏▎▍▌▋▊▉"[int((filled - full) * 8)] if full < width else ""
    return ("█" * full + partial).ljust(width)[:width]


def node_line(node: NodeMetrics, analysis: PlanAnalysis) -> str:
    from rich.markup import escape

    style = share_style(node.share)
    pct = "  -  " if node.share is None else f"{node.share:5.1%}"
    parts = [f"[{style}]{bar(node.share)}[/] [{style}]{pct}[/]"]
    if analysis.analyzed:
        parts.append(f"{human_ms(node.exclusive_ms):>10}")
    relation = (
        f"[dim]{escape(node.parent_relationship or '')}:[/] "
        if node.subplan_name or node.parent_relationship in {"InitPlan", "SubPlan"}
        else ""
    )
    name = escape(node.label)
    if node.subplan_name:
        name = f"{name} [dim]({escape(node.subplan_name)})[/]"
    parts.append(f"{relation}[bold]{name}[/]")
    details = []
    if node.never_executed:
        details.append("[dim]never executed[/]")
    elif analysis.analyzed and node.actual_rows is not None:
        rows = f"rows {human_rows(node.actual_rows)}/{human_rows(node.plan_rows)} planned"
        if node.misestimate_factor and node.misestimate_factor >= 10:
            arrow = "▲" if node.misestimate_direction == "under" else "▼"
            sev = "bold red" if node.misestimate_factor >= 100 else "yellow"
            rows += f" [{sev}]{arrow}{node.misestimate_factor:,.0f}x[/]"
        details.append(rows)
        if node.loops and node.loops != 1:
            details.append(f"loops {human_rows(node.loops)}")
    else:
        details.append(f"rows ~{human_rows(node.plan_rows)}  cost {node.total_cost or 0:,.0f}")
    if node.rows_removed_by_filter:
        details.append(f"removed {human_rows(node.rows_removed_by_filter)}")
    if node.heap_fetches:
        details.append(f"heap fetches {human_rows(node.heap_fetches)}")
    if node.sort_method:
        space = f" {node.sort_space_kb:,.0f} kB" if node.sort_space_kb else ""
        details.append(f"{node.sort_method}{space} {node.sort_space_type or ''}".strip())
    if node.hash_batches and node.hash_batches > 1:
        details.append(f"[yellow]{node.hash_batches} batches[/]")
    if node.disk_kb and not node.sort_method:
        details.append(f"[yellow]disk {node.disk_kb:,.0f} kB[/]")
    if node.workers_planned is not None:
        launched = "?" if node.workers_launched is None else node.workers_launched
        style = (
            "yellow"
            if node.workers_launched is not None and node.workers_launched < node.workers_planned
            else "dim"
        )
        details.append(f"[{style}]workers {launched}/{node.workers_planned}[/]")
    buffers = node.buffers
    if buffers.get("shared_hit") or buffers.get("shared_read"):
        details.append(
            f"[dim]buf hit {buffers.get('shared_hit', 0):,} read {buffers.get('shared_read', 0):,}[/]"
        )
    if buffers.get("temp_written"):
        details.append(f"[yellow]temp written {buffers['temp_written']:,}[/]")
    line = "  ".join(parts)
    if details:
        line += "  [dim]·[/] " + "  ".join(details)
    return line


def plan_tree(analysis: PlanAnalysis) -> Tree:
    from rich.tree import Tree

    title = summary_line(analysis)
    tree = Tree(title, guide_style="dim")
    branches: dict[int, Any] = {}
    for node in analysis.nodes:
        parent = tree if node.parent_id is None else branches[node.parent_id]
        branches[node.id] = parent.add(node_line(node, analysis))
    return tree


def summary_line(analysis: PlanAnalysis) -> str:
    parts = []
    if analysis.analyzed and analysis.execution_ms is not None:
        parts.append(f"execution [bold]{human_ms(analysis.execution_ms)}[/]")
    elif analysis.analyzed:  # auto_explain logs no "Execution Time": the root node's time
        parts.append(f"root node [bold]{human_ms(analysis.total_ms)}[/]")
    else:
        parts.append(
            f"[bold]plan only[/] (not executed), total cost {analysis.total_cost or 0:,.0f}"
        )
    if analysis.planning_ms is not None:
        parts.append(f"planning {human_ms(analysis.planning_ms)}")
    if analysis.jit_ms:
        parts.append(f"JIT {human_ms(analysis.jit_ms)}")
    if analysis.trigger_ms:
        parts.append(f"triggers {human_ms(analysis.trigger_ms)}")
    if analysis.server_version:
        parts.append(f"PostgreSQL {analysis.server_version}")
    elif analysis.source != "server":
        parts.append(f"from {analysis.source}")
    return "  ".join(parts)


def findings_table(analysis: PlanAnalysis) -> RenderableType:
    from rich.markup import escape
    from rich.text import Text

    from dbadmin.render import fit_table, key_col, num_col, text_col

    if not analysis.findings:
        return Text("No findings.", style="green")
    rows = [
        (
            f"[{SEVERITY_STYLE.get(finding.severity, '')}]{finding.severity.upper()}[/]",
            "-" if finding.node_id is None else str(finding.node_id),
            f"[bold]{escape(finding.title)}[/]\n{escape(finding.detail)}",
            escape(finding.action),
        )
        for finding in analysis.findings
    ]
    columns = (key_col("severity"), num_col("node"), text_col("finding", min_width=20),
               text_col("action", min_width=20))  # fmt: skip
    return fit_table("Findings", columns, rows, show_lines=True)


def comparison_table(comparison: PlanComparison, *, fail_on_shape_change: bool) -> FittedTable:
    from rich.markup import escape

    from dbadmin.render import fit_table, num_col, text_col

    rows: list[tuple[str, str, str, str]] = []
    unit = " ms" if comparison.metric == "execution_ms" else ""
    ratio = "-" if comparison.ratio is None else f"{comparison.ratio:+.0%}"
    style = "bold red" if comparison.slower else "green"
    rows.append(
        (
            comparison.metric.replace("_", " "),
            f"{comparison.baseline_total or 0:,.3f}{unit}",
            f"{comparison.current_total or 0:,.3f}{unit}",
            f"[{style}]{ratio}[/]",
        )
    )
    for change in comparison.changes:
        style = "bold red" if fail_on_shape_change else "yellow"
        node = change.current_node if change.current_node is not None else change.baseline_node
        rows.append(
            (
                f"[{style}]shape {change.change}[/] node {node}",
                escape(change.baseline or "-"),
                escape(change.current or "-"),
                "",
            )
        )
    for delta in comparison.node_deltas[:5]:
        if delta.delta_ms is None or abs(delta.delta_ms) < 0.001:
            continue
        rows.append(
            (
                escape(f"node {delta.node_id} {delta.label}"),
                human_ms(delta.baseline_ms),
                human_ms(delta.current_ms),
                f"{delta.delta_ms:+.3f} ms",
            )
        )
    # a shape change puts node labels in the baseline/now columns: text there, numbers otherwise
    columns = (
        text_col("what", min_width=20),
        *(text_col(h) if comparison.changes else num_col(h) for h in ("baseline", "now")),
        num_col("change"),
    )
    return fit_table("Compared with the baseline", columns, rows)
