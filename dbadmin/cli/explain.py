"""`dbadmin explain`: EXPLAIN ANALYZE reports with findings, baselines and HTML, run safely."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dbadmin.cli.common import (
    DatabaseUrlOpt,
    JsonOpt,
    get_settings,
    handle_errors,
    notice,
    out_console,
    print_json,
)
from dbadmin.errors import UsageError

if TYPE_CHECKING:
    from dbadmin.explain.analyze import PlanAnalysis
    from dbadmin.explain.capture import PreparedQuery
    from dbadmin.settings import Settings

_INPUT = "Input"
_SAFETY = "Execution"
_REGRESSION = "Regression"


@handle_errors
def explain(
    ctx: typer.Context,
    sql: Annotated[
        str | None,
        typer.Argument(help="One SQL statement (placeholders :name or $1).", show_default=False),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", "-f", help="Read the statement from a file.", rich_help_panel=_INPUT
        ),
    ] = None,
    query: Annotated[
        str | None,
        typer.Option(
            "--query", "-q", help="A catalog query by name (see --list).", rich_help_panel=_INPUT
        ),
    ] = None,
    all_queries: Annotated[
        bool,
        typer.Option(
            "--all", help="Explain every catalog query; one summary table.", rich_help_panel=_INPUT
        ),
    ] = False,
    from_json: Annotated[
        Path | None,
        typer.Option(
            "--plan",
            "--from-json",
            help="Analyse a plan captured elsewhere, FILE or - for stdin: JSON or text EXPLAIN "
            "output, psql tables (any border/linestyle), CSV/TSV exports, auto_explain log "
            "entries. --from-json is an alias.",
            rich_help_panel=_INPUT,
        ),
    ] = None,
    list_catalog: Annotated[
        bool,
        typer.Option("--list", help="List the catalog queries and exit.", rich_help_panel=_INPUT),
    ] = False,
    params: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="Bind a parameter: NAME=VALUE for :NAME, N=VALUE or VALUE (in order) for $N.",
            rich_help_panel=_INPUT,
        ),
    ] = None,
    no_analyze: Annotated[
        bool,
        typer.Option(
            "--no-analyze", help="Plan only; do not execute the statement.", rich_help_panel=_SAFETY
        ),
    ] = False,
    wal: Annotated[
        bool,
        typer.Option("--wal", help="Add WAL figures (PostgreSQL 13+).", rich_help_panel=_SAFETY),
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            help="Seconds each statement may take: statement_timeout and lock_timeout on the "
            "server, and a client-side deadline 2 s later for a server that stops answering "
            "(exit 4). --set cannot lift it.",
            rich_help_panel=_SAFETY,
        ),
    ] = 30.0,
    allow_side_effects: Annotated[
        bool,
        typer.Option(
            "--allow-side-effects",
            help="Run statements that call functions a rollback does not undo "
            "(pg_terminate_backend, setval, dblink_exec, lo_export...); SELECTs then run "
            "read-write. Refused (exit 2) without it.",
            rich_help_panel=_SAFETY,
        ),
    ] = False,
    set_options: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="SET LOCAL a setting for this run, e.g. --set work_mem=64MB (repeatable).",
            rich_help_panel=_SAFETY,
        ),
    ] = None,
    save: Annotated[
        Path | None,
        typer.Option(
            "--save",
            help="Store the analysed plan as a baseline JSON file (with --all: a directory).",
            rich_help_panel=_REGRESSION,
        ),
    ] = None,
    compare: Annotated[
        Path | None,
        typer.Option(
            "--compare",
            help="Compare with a baseline; exit 1 on a regression. Without a query, re-runs the "
            "baseline's. With --all: a directory of NAME.json baselines.",
            rich_help_panel=_REGRESSION,
        ),
    ] = None,
    max_regression: Annotated[
        float,
        typer.Option(
            "--max-regression", help="Allowed slowdown in percent.", rich_help_panel=_REGRESSION
        ),
    ] = 20.0,
    min_regression_ms: Annotated[
        float,
        typer.Option(
            "--min-regression-ms",
            help="Ignore slowdowns smaller than this many ms (timing noise).",
            rich_help_panel=_REGRESSION,
        ),
    ] = 1.0,
    fail_on_shape_change: Annotated[
        bool,
        typer.Option(
            "--fail-on-shape-change",
            help="Exit 1 when node types/relations/indexes differ from the baseline.",
            rich_help_panel=_REGRESSION,
        ),
    ] = False,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Write a self-contained HTML report to FILE."),
    ] = None,
    database_url: DatabaseUrlOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """EXPLAIN (ANALYZE, BUFFERS, VERBOSE, SETTINGS) one statement in a transaction that is
    always rolled back, then show where the time goes and what to do about it: a plan tree with
    per-node bars, and findings (slow nodes, sequential scans that want an index, misestimates,
    sorts/hashes spilling to disk, nested loops, heap fetches, planning/JIT time, missing
    workers). --save/--compare turn it into a CI regression check (exit 1).

    Example: dbadmin explain "SELECT * FROM tasks WHERE user_id = :u" -p u=42 --html plan.html
    """
    from dbadmin.explain import catalog

    given = [
        x
        for x in (
            sql is not None,
            file is not None,
            query is not None,
            all_queries,
            from_json is not None,
        )
        if x
    ]
    if list_catalog:
        _print_catalog(catalog.list_queries(), json_output)
        return
    if len(given) > 1:
        raise UsageError(
            "give one input: a statement, --file, --query, --all or --plan",
            "dbadmin explain --help",
        )
    if timeout <= 0:
        raise UsageError("--timeout must be positive")
    if all_queries:
        if html:
            raise UsageError("--all makes a summary table; --html takes one query")
        _explain_all(
            ctx,
            database_url,
            params or [],
            _Run(no_analyze, False, timeout, _settings_args(set_options), allow_side_effects),
            json_output,
            _AllBaselines(
                save_dir=save,
                compare_dir=compare,
                max_regression=max_regression / 100.0,
                min_delta_ms=min_regression_ms,
                fail_on_shape_change=fail_on_shape_change,
            ),
        )
        return

    from dbadmin.explain.analyze import analyze_plan
    from dbadmin.explain.compare import compare_plans, load_baseline, save_baseline

    baseline = load_baseline(compare) if compare else None
    query_name: str | None = None
    bound: dict[str, str] = {}
    if from_json is not None:
        if params:
            raise UsageError("-p applies to a query run on the server, not to --plan")
        from dbadmin.explain.plan import load_plan_file, parse_plan_text

        if str(from_json) == "-":
            import sys

            analysis = analyze_plan(parse_plan_text(sys.stdin.read(), source="stdin"))
        else:
            analysis = analyze_plan(load_plan_file(from_json))
    else:
        prepared = _prepare(sql, file, query, params or [], baseline, no_analyze)
        query_name = prepared.name
        bound = {**prepared.named, **{f"${k}": v for k, v in prepared.positional.items()}}
        settings = get_settings(ctx, database_url)
        analysis = _capture(
            settings,
            prepared,
            _Run(no_analyze, wal, timeout, _settings_args(set_options), allow_side_effects),
        )

    comparison = None
    if baseline is not None:
        comparison = compare_plans(
            baseline,
            analysis,
            max_regression=max_regression / 100.0,
            min_delta_ms=min_regression_ms,
        )
    if save is not None:
        save_baseline(analysis, save, params=bound)
        notice(f"baseline saved to {save}")
    if html is not None:
        from dbadmin.explain.html import render_html
        from dbadmin.files import write_atomically

        title = f"dbadmin explain: {query_name}" if query_name else "dbadmin explain"
        write_atomically(html, render_html(analysis, title=title))
        notice(f"HTML report written to {html}")

    if json_output:
        document: dict[str, Any] = {"query_name": query_name, "params": bound, **analysis.as_dict()}
        document["comparison"] = comparison.as_dict() if comparison else None
        print_json(document)
    else:
        _print_report(analysis, comparison, fail_on_shape_change)

    if comparison is not None:
        failures = comparison.failures(fail_on_shape_change=fail_on_shape_change)
        if failures:
            from dbadmin.errors import ProblemFound

            raise ProblemFound("regression against " + str(compare) + ": " + "; ".join(failures))


def _settings_args(values: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--set {item!r} is not NAME=VALUE", "e.g. --set work_mem=64MB")
        out[name.strip()] = value.strip()
    return out


def _prepare(
    sql: str | None,
    file: Path | None,
    query: str | None,
    params: list[str],
    baseline: dict[str, Any] | None,
    no_analyze: bool = False,
) -> PreparedQuery:
    from dbadmin.explain import catalog
    from dbadmin.explain.capture import prepare_query

    if query is not None:
        entry = catalog.get_query(query)
        return prepare_query(entry.sql, params=params, specs=entry.params, name=entry.name)
    if file is not None:
        try:
            sql = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read {file}: {exc.strerror or exc}") from None
    if sql is None and baseline is not None and baseline.get("query"):
        # the baseline stores the statement as run (parameters already bound)
        return prepare_query(str(baseline["query"]), params=params)
    if sql is None:
        raise UsageError(
            "nothing to explain",
            'give a statement, --file, --query NAME, --all or --plan FILE (dbadmin explain "SELECT 1")',
        )
    return prepare_query(sql, params=params, allow_generic=no_analyze)


@dataclass(frozen=True)
class _Run:
    """How each statement is run on the server (the Execution options)."""

    no_analyze: bool
    wal: bool
    timeout: float
    set_options: dict[str, str]
    allow_side_effects: bool


def _capture(settings: Settings, prepared: PreparedQuery, run: _Run) -> PlanAnalysis:
    from dbadmin.explain.analyze import analyze_plan
    from dbadmin.explain.capture import capture_plan

    document = capture_plan(
        settings,
        prepared,
        analyze=not run.no_analyze,
        wal=run.wal,
        timeout_s=run.timeout,
        set_options=run.set_options,
        allow_side_effects=run.allow_side_effects,
    )
    return analyze_plan(document)


def _print_report(analysis: PlanAnalysis, comparison: Any, fail_on_shape_change: bool) -> None:
    from dbadmin.explain.report import comparison_table, findings_table, plan_tree

    console = out_console()
    console.print(plan_tree(analysis))
    console.print()
    console.print(findings_table(analysis))
    if comparison is not None:
        console.print()
        console.print(comparison_table(comparison, fail_on_shape_change=fail_on_shape_change))


def _print_catalog(queries: list[Any], json_output: bool) -> None:
    if json_output:
        print_json(
            {
                "queries": [
                    {
                        "name": q.name,
                        "description": q.description,
                        "params": [
                            {"name": p.name, "type": p.type, "default": p.default} for p in q.params
                        ],
                        "sql": q.sql,
                    }
                    for q in queries
                ]
            }
        )
        return
    from dbadmin.render import simple_table

    rows = [
        (q.name, ", ".join(f":{p.name}" for p in q.params) or "-", q.description) for q in queries
    ]
    out_console().print(
        simple_table("Catalog queries", ("name", "parameters", "what it serves"), rows)
    )


@dataclass(frozen=True)
class _AllBaselines:
    """--all with --save DIR / --compare DIR: one baseline file per catalog query, DIR/NAME.json."""

    save_dir: Path | None
    compare_dir: Path | None
    max_regression: float
    min_delta_ms: float
    fail_on_shape_change: bool


def _explain_all(
    ctx: typer.Context,
    database_url: str | None,
    params: list[str],
    run: _Run,
    json_output: bool,
    baselines: _AllBaselines,
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
            analysis = _capture(settings, item, run)
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
                )
                comparison = compared.as_dict()
                regression = compared.failures(fail_on_shape_change=baselines.fail_on_shape_change)
        if baselines.save_dir is not None:
            save_baseline(analysis, baselines.save_dir / f"{entry.name}.json")
        results.append(
            {
                "name": entry.name,
                "error": None,
                "comparison": comparison,
                "regression": regression,
                "execution_ms": analysis.execution_ms,
                "planning_ms": analysis.planning_ms,
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

        from dbadmin.render import human_ms, simple_table

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
                    human_ms(r["execution_ms"])
                    if r["execution_ms"] is not None
                    else f"cost {r['total_cost']:,.0f}",
                    human_ms(r["planning_ms"]),
                    escape(f"{r['slowest_node']} ({(r['slowest_share'] or 0):.0%})"),
                    counts or "none",
                    escape(worst),
                )
            )
        out_console().print(
            simple_table(
                "Catalog queries",
                ("query", "execution", "planning", "slowest node", "findings", "top finding"),
                rows,
                numeric=("execution", "planning"),
            )
        )
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
