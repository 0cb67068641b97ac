"""`dbadmin explain --all`: the summary table of every catalog query (the workflow, running
each query and comparing it with its baseline, is :func:`dbadmin.api.explain_catalog`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dbadmin.cli.common import out_console

if TYPE_CHECKING:
    from dbadmin.api import CatalogReport


def print_catalog_report(report: CatalogReport, *, wide: bool = False) -> None:
    from rich.markup import escape

    from dbadmin.render import fit_table, human_ms, key_col, num_col, text_col

    results: list[dict[str, Any]] = report.as_dict()["queries"]
    comparing = report.compare_dir is not None
    rows = []
    for r in results:
        if r["error"]:
            rows.append((r["name"], "-", "-", "-", "[bold red]error[/]", escape(r["error"])))
            continue
        worst = _worst(r["findings"])
        counts = ", ".join(
            f"{sum(1 for f in r['findings'] if f['severity'] == s)} {s}"
            for s in ("critical", "warning", "info")
            if any(f["severity"] == s for f in r["findings"])
        )
        rows.append(
            (
                r["name"] + _baseline_note(r, comparing),
                _execution_cell(r),
                human_ms(r["planning_ms"]),
                escape(f"{r['slowest_node']} ({(r['slowest_share'] or 0):.0%})"),
                counts or "none",
                escape(worst),
            )
        )
    columns = (key_col("query"), num_col("execution"), num_col("planning", 2),
               text_col("slowest node", min_width=14), text_col("findings", min_width=10, priority=1),
               text_col("top finding"))  # fmt: skip
    table = fit_table("Catalog queries", columns, rows, wide=wide, wide_hint=True)
    out_console().print(table, crop=False)


def _execution_cell(result: dict[str, Any]) -> str:
    from dbadmin.render import human_ms

    if result["execution_ms"] is None:
        return f"cost {result['total_cost']:,.0f}"
    if result["runs"] <= 1:
        return human_ms(result["execution_ms"])
    style = "bold red" if result["over_target"] else ""
    p95 = human_ms(result["p95_ms"])
    return f"p50 {human_ms(result['p50_ms'])}\n" + (
        f"[{style}]p95 {p95}[/]" if style else f"p95 {p95}"
    )


def _baseline_note(result: dict[str, Any], comparing: bool) -> str:
    if not comparing:
        return ""
    comparison = result.get("comparison")
    if comparison is None:
        return "\n[dim]no baseline[/]"
    if result.get("regression"):
        return "\n[bold red]REGRESSION[/]"
    ratio = comparison.get("ratio")
    change = "" if ratio is None else f" {ratio:+.0%}"
    shape = ", shape changed" if comparison.get("shape_changed") else ""
    return f"\n[green]vs baseline{change}{shape}[/]"


def _worst(findings: list[dict[str, Any]]) -> str:
    for severity in ("critical", "warning"):
        for f in findings:
            if f["severity"] == severity and f["kind"] != "slow_node":
                return f["title"]
    for f in findings:
        if f["severity"] in ("critical", "warning"):
            return f["title"]
    return "-"
