"""`dbadmin explain`: EXPLAIN ANALYZE reports with findings, baselines and HTML, run safely."""

from __future__ import annotations

from dataclasses import replace
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
    from dbadmin.explain.timing import RunStats

DEFAULT_P95_TARGET_MS = 50.0  # the application's stated target
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
    runs: Annotated[
        int | None,
        typer.Option(
            "--runs",
            help="Run the statement N times in one session (each run rolled back to a "
            "savepoint) and report p50/p95; the run closest to the median is shown. "
            "Default 1, or 5 with --save/--compare.",
            rich_help_panel=_SAFETY,
            show_default=False,
        ),
    ] = None,
    p95_target: Annotated[
        str | None,
        typer.Option(
            "--p95-target",
            help="Exit 1 when a p95 exceeds this duration (e.g. 50ms, 0.5ms); checked when "
            "given, and with an explicit --runs N > 1 (default target 50ms, the application's).",
            rich_help_panel=_REGRESSION,
            show_default=False,
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

    Example: dbadmin explain "SELECT * FROM tasks WHERE priority = :p" -p p=high --html plan.html
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
    from dbadmin.cli.explain_all import AllBaselines, Run, capture, explain_all, over_target

    count, target = _run_options(
        runs, p95_target, save is not None or compare is not None, no_analyze, timeout
    )
    run = Run(
        no_analyze, wal, timeout, _settings_args(set_options), allow_side_effects, count, target
    )
    if all_queries:
        if html:
            raise UsageError("--all makes a summary table; --html takes one query")
        explain_all(
            ctx,
            database_url,
            params or [],
            replace(run, wal=False),
            json_output,
            AllBaselines(
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
    stats: RunStats | None = None
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
        analysis, stats = capture(settings, prepared, run)

    comparison = None
    if baseline is not None:
        comparison = compare_plans(
            baseline,
            analysis,
            max_regression=max_regression / 100.0,
            min_delta_ms=min_regression_ms,
            stats=stats,
        )
    if save is not None:
        save_baseline(analysis, save, params=bound, stats=stats)
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
        document["timing"] = stats.as_dict() if stats else None
        print_json(document)
    else:
        _print_report(analysis, comparison, fail_on_shape_change, stats)

    if comparison is not None:
        failures = comparison.failures(fail_on_shape_change=fail_on_shape_change)
        if failures:
            from dbadmin.errors import ProblemFound

            raise ProblemFound("regression against " + str(compare) + ": " + "; ".join(failures))
    slow = over_target(stats, run) if stats else None
    if slow:
        from dbadmin.errors import ProblemFound

        raise ProblemFound(slow, "see the findings above")


def _run_options(
    runs: int | None, p95_target: str | None, baseline: bool, no_analyze: bool, timeout: float
) -> tuple[int, float | None]:
    """(runs, p95 target in ms or None when not checked)."""
    from dbadmin.explain.timing import parse_duration_ms

    if runs is not None and not 1 <= runs <= 1000:
        raise UsageError("--runs must be between 1 and 1000")
    count = runs if runs is not None else (5 if baseline and not no_analyze else 1)
    target = parse_duration_ms(p95_target) if p95_target is not None else None
    if target is None and runs is not None and runs > 1:  # asked for a p95: judge it
        target = DEFAULT_P95_TARGET_MS
    if timeout * count > 3600:
        raise UsageError("--runs x --timeout exceeds an hour", "lower --runs or --timeout")
    return count, target


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


def _print_report(
    analysis: PlanAnalysis, comparison: Any, fail_on_shape_change: bool, stats: RunStats | None
) -> None:
    from dbadmin.explain.report import comparison_table, findings_table, plan_tree
    from dbadmin.render import human_ms

    console = out_console()
    console.print(plan_tree(analysis))
    console.print()
    if stats is not None and stats.runs > 1 and stats.metric == "execution_ms":
        console.print(
            f"{stats.runs} runs: p50 {human_ms(stats.p50)}, p95 {human_ms(stats.p95)}, "
            f"spread {human_ms(stats.spread)}; the run closest to the median is shown"
        )
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
