"""`dbadmin explain`: EXPLAIN ANALYZE reports with findings, baselines and HTML, run safely."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dbadmin.cli.common import (
    get_settings,
    handle_errors,
    notice,
    out_console,
    print_json,
    print_table,
)
from dbadmin.cli.options import DatabaseUrlOpt, Duration, HtmlOpt, JsonOpt, WideOpt
from dbadmin.errors import UsageError

if TYPE_CHECKING:
    from dbadmin.api import CatalogListing
    from dbadmin.explain.analyze import PlanAnalysis
    from dbadmin.explain.timing import RunStats

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
            click_type=Duration(),
            help="How long each statement may take (a bare number is seconds): "
            "statement_timeout and lock_timeout on the server, and a client-side deadline 2 s "
            "later for a server that stops answering (exit 4). --set cannot lift it.",
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
        float | None,
        typer.Option(
            "--p95-target",
            click_type=Duration("ms"),
            help="Exit 1 when a p95 exceeds this duration (e.g. 50ms, 0.5ms; a bare number is "
            "milliseconds); checked when "
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
            click_type=Duration("ms", allow_zero=True),
            help="Ignore slowdowns smaller than this (timing noise; a bare number is ms).",
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
    html: HtmlOpt = None,
    database_url: DatabaseUrlOpt = None,
    json_output: JsonOpt = False,
    wide: WideOpt = False,
) -> None:
    """EXPLAIN (ANALYZE, BUFFERS, VERBOSE, SETTINGS) one statement in a transaction that is
    always rolled back, then show where the time goes and what to do about it: a plan tree with
    per-node bars, and findings (slow nodes, sequential scans that want an index, misestimates,
    sorts/hashes spilling to disk, nested loops, heap fetches, planning/JIT time, missing
    workers). --save/--compare turn it into a CI regression check (exit 1).

    Example: dbadmin explain "SELECT * FROM tasks WHERE priority = :p" -p p=high --html plan.html
    """
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
        from dbadmin.api import catalog_queries

        _print_catalog(catalog_queries(), json_output)
        return
    if len(given) > 1:
        raise UsageError(
            "give one input: a statement, --file, --query, --all or --plan",
            "dbadmin explain --help",
        )
    if timeout <= 0:
        raise UsageError("--timeout must be positive")
    from dbadmin import api

    shared: dict[str, Any] = {  # the options --all and one statement have in common
        "no_analyze": no_analyze,
        "timeout": timeout,
        "allow_side_effects": allow_side_effects,
        "set_options": set_options,
        "runs": runs,
        "p95_target": p95_target,
        "max_regression": max_regression,
        "min_regression_ms": min_regression_ms,
        "fail_on_shape_change": fail_on_shape_change,
        "notice": notice,
    }
    if all_queries:
        if html:
            raise UsageError("--all makes a summary table; --html takes one query")
        if params:
            raise UsageError(
                "-p with --all is ambiguous", "catalog queries use their defaults with --all"
            )
        from dbadmin.cli.explain_all import print_catalog_report

        catalog_report = api.explain_catalog(
            get_settings(ctx, database_url), save_dir=save, compare_dir=compare, **shared
        )
        if json_output:
            print_json(catalog_report.as_dict())
        else:
            print_catalog_report(catalog_report, wide=wide)
        problem = catalog_report.problem()
        if problem is not None:
            raise problem
        return

    plan_text: str | None = None
    if from_json is not None and str(from_json) == "-":
        import sys

        plan_text = sys.stdin.read()
    report = api.explain(
        get_settings(ctx, database_url) if from_json is None else None,
        sql,
        file=file,
        query=query,
        plan_file=None if plan_text is not None else from_json,
        plan_text=plan_text,
        params=params or [],
        wal=wal,
        save=save,
        compare=compare,
        html=html,
        **shared,
    )
    if json_output:
        print_json(report.as_dict())
    else:
        _print_report(report.analysis, report.comparison, fail_on_shape_change, report.stats)
    problem = report.problem()
    if problem is not None:
        raise problem


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
    console.print(findings_table(analysis), crop=False)
    if comparison is not None:
        console.print()
        console.print(
            comparison_table(comparison, fail_on_shape_change=fail_on_shape_change), crop=False
        )


def _print_catalog(listing: CatalogListing, json_output: bool) -> None:
    if json_output:
        print_json(listing.as_dict())
        return
    queries = listing.queries
    from dbadmin.render import fit_table, key_col, text_col

    rows = [
        (q.name, ", ".join(f":{p.name}" for p in q.params) or "-", q.description) for q in queries
    ]
    columns = (key_col("name"), text_col("parameters", min_width=12), text_col("what it serves"))
    print_table(fit_table("Catalog queries", columns, rows))
