"""`dbadmin explain` on the server: several runs per statement (median, p95, spread) and the
whole catalog at once (--all), with baselines per query. Split from cli/explain.py, which keeps
the options and the single-query flow."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from dbadmin.cli.common import get_settings, notice, out_console, print_json
from dbadmin.errors import UsageError

if TYPE_CHECKING:
    from dbadmin.explain.analyze import PlanAnalysis
    from dbadmin.explain.capture import PreparedQuery
    from dbadmin.explain.timing import RunStats
    from dbadmin.settings import Settings


@dataclass(frozen=True)
class Run:
    """How each statement is run on the server (the Execution options)."""

    no_analyze: bool
    wal: bool
    timeout: float
    set_options: dict[str, str]
    allow_side_effects: bool
    runs: int = 1
    p95_target_ms: float | None = None  # checked when set (exit 1 above it)


def capture(settings: Settings, prepared: PreparedQuery, run: Run) -> tuple[PlanAnalysis, RunStats]:
    """``run.runs`` EXPLAINs in one session: the run closest to the median is the one reported."""
    from dbadmin.explain.analyze import analyze_plan
    from dbadmin.explain.capture import capture_runs
    from dbadmin.explain.timing import run_stats

    documents = capture_runs(
        settings,
        prepared,
        runs=run.runs,
        analyze=not run.no_analyze,
        wal=run.wal,
        timeout_s=run.timeout,
        set_options=run.set_options,
        allow_side_effects=run.allow_side_effects,
    )
    analyses = [analyze_plan(d) for d in documents]
    stats = run_stats(analyses)
    analysis = analyses[stats.representative]
    if not prepared.generic:
        from dbadmin.explain.hypo import verify_index_proposals

        analysis = verify_index_proposals(
            settings, analysis, timeout_s=run.timeout, set_options=run.set_options
        )
    return analysis, stats


def over_target(stats: RunStats, run: Run) -> str | None:
    """The failure line when the p95 exceeds --p95-target (execution time only)."""
    if run.p95_target_ms is None or stats.metric != "execution_ms":
        return None
    if stats.p95 <= run.p95_target_ms:
        return None
    return (
        f"p95 {stats.p95:.3f} ms over {stats.runs} runs exceeds --p95-target "
        f"{run.p95_target_ms:g} ms (p50 {stats.p50:.3f} ms)"
    )


@dataclass(frozen=True)
class AllBaselines:
    """--all with --save DIR / --compare DIR: one baseline file per catalog query, DIR/NAME.json."""

    save_dir: Path | None
    compare_dir: Path | None
    max_regression: float
    min_delta_ms: float
    fail_on_shape_change: bool


def explain_all(
    ctx: typer.Context,
    database_url: str | None,
    params: list[str],
    run: Run,
    json_output: bool,
    baselines: AllBaselines,
    *,
    wide: bool = False,
) -> None:
    from dbadmin.errors import OperationTimeout, ProblemFound, SqlError
    from dbadmin.explain import catalog
    from dbadmin.explain.capture import prepare_query
    from dbadmin.explain.compare import compare_plans, load_baseline, save_baseline

    if baselines.compare_dir is not None and not baselines.compare_dir.is_dir():
        raise UsageError(
            f"--compare {baselines.compare_dir} is not a directory",
            "with --all, --save DIR and --compare DIR hold one NAME.json per catalog query",
        )
    if baselines.save_dir is not None:
        baselines.save_dir.mkdir(parents=True, exist_ok=True)

    if params:
        raise UsageError(
            "-p with --all is ambiguous", "catalog queries use their defaults with --all"
        )
    entries = catalog.list_queries()
    prepared = [prepare_query(e.sql, specs=e.params, name=e.name) for e in entries]
    settings = get_settings(ctx, database_url)
    results: list[dict[str, Any]] = []
    for entry, item in zip(entries, prepared, strict=True):
        try:
            analysis, stats = capture(settings, item, run)
        except (SqlError, UsageError, OperationTimeout) as exc:
            results.append(
                {"name": entry.name, "error": exc.one_line(), "exit_code": int(exc.exit_code)}
            )
            continue
        slowest = max(analysis.nodes, key=lambda n: n.share or 0.0)
        comparison: dict[str, Any] | None = None
        regression: list[str] = []
        if baselines.compare_dir is not None:
            path = baselines.compare_dir / f"{entry.name}.json"
            if path.exists():
                compared = compare_plans(
                    load_baseline(path),
                    analysis,
                    max_regression=baselines.max_regression,
                    min_delta_ms=baselines.min_delta_ms,
                    stats=stats,
                )
                comparison = compared.as_dict()
                regression = compared.failures(fail_on_shape_change=baselines.fail_on_shape_change)
        if baselines.save_dir is not None:
            save_baseline(analysis, baselines.save_dir / f"{entry.name}.json", stats=stats)
        results.append(
            {
                "name": entry.name,
                "error": None,
                "comparison": comparison,
                "regression": regression,
                "execution_ms": analysis.execution_ms,
                "planning_ms": analysis.planning_ms,
                "runs": stats.runs,
                "p50_ms": stats.p50 if stats.metric == "execution_ms" else None,
                "p95_ms": stats.p95 if stats.metric == "execution_ms" else None,
                "over_target": over_target(stats, run),
                "total_cost": analysis.total_cost,
                "slowest_node": slowest.label,
                "slowest_share": slowest.share,
                "findings": [
                    {
                        "kind": f.kind,
                        "severity": f.severity,
                        "node_id": f.node_id,
                        "title": f.title,
                        "action": f.action,
                    }
                    for f in analysis.findings
                ],
            }
        )
    errors = [r for r in results if r["error"]]
    regressed = [r for r in results if r.get("regression")]
    if baselines.save_dir is not None:
        notice(f"baselines saved to {baselines.save_dir}/NAME.json")
    if json_output:
        print_json({"queries": results})
    else:
        from rich.markup import escape

        from dbadmin.render import fit_table, human_ms, key_col, num_col, text_col

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
                    r["name"] + _baseline_note(r, baselines.compare_dir is not None),
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
    if errors:
        raise ProblemFound(
            f"{len(errors)} of {len(results)} catalog queries failed: "
            + ", ".join(r["name"] for r in errors),
            "run one with --query NAME to see the whole error",
        )
    if regressed:
        raise ProblemFound(
            "regression against the baselines in "
            + str(baselines.compare_dir)
            + ": "
            + "; ".join(f"{r['name']}: {r['regression'][0]}" for r in regressed)
        )
    slow = [r for r in results if r.get("over_target")]
    if slow:
        raise ProblemFound(
            f"{len(slow)} catalog quer{'y' if len(slow) == 1 else 'ies'} over the p95 target: "
            + "; ".join(f"{r['name']}: {r['over_target']}" for r in slow),
            "see the findings of each (dbadmin explain --query NAME)",
        )


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
