"""A single self-contained HTML page for a plan: proportional bars, findings, the query.

No external assets (no scripts, fonts or stylesheets fetched): it opens the same offline, in a
mail attachment or in a code review.
"""

from __future__ import annotations

from html import escape

from dbadmin.explain.analyze import NodeMetrics, PlanAnalysis, share_level
from dbadmin.render import human_ms
from dbadmin.severity import Severity

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;color:#1d1f21}
h1{font-size:1.3em;margin:0 0 .3em} h2{font-size:1.1em;margin:1.5em 0 .5em}
.summary{color:#555} pre{background:#f6f8fa;padding:.8em;overflow:auto;border-radius:4px}
ul.tree,ul.tree ul{list-style:none;margin:0;padding-left:1.4em;border-left:1px dotted #bbb}
ul.tree{padding-left:0;border:none}
.node{display:flex;align-items:center;gap:.6em;padding:2px 0;white-space:nowrap}
.bar{width:160px;height:12px;background:#eee;border-radius:2px;flex:none;position:relative}
.bar span{display:block;height:100%;border-radius:2px}
.low{background:#4caf50}.mid{background:#f0ad00}.high{background:#d9363e}.none{background:#ccc}
.pct{width:4.5em;text-align:right;font-variant-numeric:tabular-nums}
.ms{width:6.5em;text-align:right;color:#555;font-variant-numeric:tabular-nums}
.label{font-weight:600}.meta{color:#666;font-size:.9em;white-space:normal}
.rel{color:#888;font-size:.85em}
table{border-collapse:collapse;width:100%} td,th{border:1px solid #ddd;padding:.4em .6em;vertical-align:top;text-align:left}
.sev-critical{color:#fff;background:#d9363e}.sev-warning{background:#f0ad00}.sev-info{background:#d6ecf7}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.92em}
"""


_SHARE_CLASS = {
    Severity.CRITICAL: "high",
    Severity.WARNING: "high",
    Severity.INFO: "mid",
    None: "low",
}


def _class(share: float | None) -> str:
    return "none" if share is None else _SHARE_CLASS[share_level(share)]


def _node_html(node: NodeMetrics, analysis: PlanAnalysis) -> str:
    share = node.share
    width = 0.0 if share is None else max(min(share, 1.0) * 100.0, 0.0)
    pct = "-" if share is None else f"{share:.1%}"
    meta = []
    if node.never_executed:
        meta.append("never executed")
    elif node.actual_rows is not None:
        meta.append(f"rows {node.actual_rows:,.0f} of {node.plan_rows or 0:,.0f} planned")
        if node.misestimate_factor and node.misestimate_factor >= 10:
            meta.append(
                f"estimate off {node.misestimate_factor:,.0f}x ({node.misestimate_direction})"
            )
        if node.loops and node.loops != 1:
            meta.append(f"loops {node.loops:,.0f}")
    else:
        meta.append(f"~{node.plan_rows or 0:,.0f} rows, cost {node.total_cost or 0:,.1f}")
    for text, value in (
        ("filter", node.filter),
        ("index cond", node.index_cond),
        ("join", node.join_filter),
    ):
        if value:
            meta.append(f"{text}: <code>{escape(value)}</code>")
    if node.rows_removed_by_filter:
        meta.append(f"removed by filter {node.rows_removed_by_filter:,.0f}")
    if node.heap_fetches:
        meta.append(f"heap fetches {node.heap_fetches:,.0f}")
    if node.sort_method:
        meta.append(
            f"{escape(node.sort_method)} {node.sort_space_kb or 0:,.0f} kB {escape(node.sort_space_type or '')}"
        )
    if node.hash_batches and node.hash_batches > 1:
        meta.append(f"hash batches {node.hash_batches}")
    if node.workers_planned is not None:
        meta.append(f"workers {node.workers_launched}/{node.workers_planned}")
    if node.buffers:
        meta.append("buffers " + ", ".join(f"{k} {v:,}" for k, v in node.buffers.items()))
    rel = (
        f'<span class="rel">{escape(node.parent_relationship or "")}</span>'
        if node.parent_relationship in {"InitPlan", "SubPlan"}
        else ""
    )
    sub = f' <span class="rel">({escape(node.subplan_name)})</span>' if node.subplan_name else ""
    ms = human_ms(node.exclusive_ms) if analysis.analyzed else ""
    return (
        f'<div class="node" id="node-{node.id}"><span class="bar" title="{pct} exclusive">'
        f'<span class="{_class(share)}" style="width:{width:.2f}%"></span></span>'
        f'<span class="pct">{pct}</span><span class="ms">{ms}</span>{rel}'
        f'<span class="label">#{node.id} {escape(node.label)}</span>{sub}</div>'
        f'<div class="meta">{" · ".join(meta)}</div>'
    )


def _node_link(node_id: int | None) -> str:
    return "" if node_id is None else f'<a href="#node-{node_id}">#{node_id}</a>'


def render_html(analysis: PlanAnalysis, *, title: str = "dbadmin explain") -> str:
    children: dict[int | None, list[NodeMetrics]] = {}
    for node in analysis.nodes:
        children.setdefault(node.parent_id, []).append(node)

    def subtree(parent: int | None) -> str:
        items = children.get(parent, [])
        if not items:
            return ""
        inner = "".join(f"<li>{_node_html(n, analysis)}{subtree(n.id)}</li>" for n in items)
        return f'<ul class="{"tree" if parent is None else ""}">{inner}</ul>'

    summary = []
    if analysis.analyzed:
        summary.append(f"execution {human_ms(analysis.total_ms)}")
    else:
        summary.append(f"plan only, total cost {analysis.total_cost or 0:,.1f}")
    if analysis.planning_ms is not None:
        summary.append(f"planning {human_ms(analysis.planning_ms)}")
    if analysis.jit_ms:
        summary.append(f"JIT {human_ms(analysis.jit_ms)}")
    if analysis.server_version:
        summary.append(f"PostgreSQL {escape(analysis.server_version)}")
    rows = "".join(
        f'<tr><td class="sev-{f.severity}">{f.severity}</td><td>{_node_link(f.node_id)}</td>'
        f"<td><b>{escape(f.title)}</b><br>{escape(f.detail)}</td>"
        f"<td><code>{escape(f.action)}</code></td></tr>"
        for f in analysis.findings
    )
    findings = (
        f"<table><tr><th>severity</th><th>node</th><th>finding</th><th>action</th></tr>{rows}</table>"
        if rows
        else "<p>No findings.</p>"
    )
    query = f"<h2>Query</h2><pre>{escape(analysis.query_text)}</pre>" if analysis.query_text else ""
    settings = ""
    if analysis.settings:
        items = ", ".join(f"{escape(k)} = {escape(v)}" for k, v in analysis.settings.items())
        settings = f'<p class="summary">Non-default settings: {items}</p>'
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f'<h1>{escape(title)}</h1><p class="summary">{" · ".join(summary)}</p>{settings}'
        f"<h2>Plan</h2>{subtree(None)}<h2>Findings</h2>{findings}{query}"
        "</body></html>\n"
    )
