"""`dbadmin slow-queries`: what is slow, from pg_stat_statements (with history) and server logs.

`dbadmin slow-queries` alone runs `top`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dbadmin.cli.common import (
    DatabaseUrlOpt,
    JsonOpt,
    carry_group_options,
    get_settings,
    handle_errors,
    notice,
    out_console,
    print_json,
)

if TYPE_CHECKING:
    from dbadmin.slowlog.logparse import LogReport
    from dbadmin.slowlog.pgss import TopReport

TopOpt = Annotated[int, typer.Option("--top", "-n", help="How many statements to show.")]
SortOpt = Annotated[
    str,
    typer.Option("--sort", help="Order by total | mean | calls | rows | io | temp."),
]
MinCallsOpt = Annotated[
    int, typer.Option("--min-calls", help="Leave out statements called fewer times.")
]
SinceOpt = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="Report the deltas over a window (30m, 1h, 24h, 7d) from stored snapshots.",
        show_default=False,
    ),
]
AllDbOpt = Annotated[
    bool, typer.Option("--all-databases", help="All databases, not just the connected one.")
]
HtmlOpt = Annotated[
    Path | None,
    typer.Option("--html", help="Also write a single-file HTML report here.", show_default=False),
]

app = typer.Typer(
    help=(
        "Slow queries from pg_stat_statements (with snapshot history) and from server logs.\n\n"
        "Without a subcommand, runs `top`.\n\n"
        "Example: dbadmin slow-queries --top 10 --sort mean"
    ),
    no_args_is_help=False,
    rich_markup_mode=None,
)


@app.callback(invoke_without_command=True)
@handle_errors
def slow_queries(
    ctx: typer.Context,
    database_url: DatabaseUrlOpt = None,
    json_output: JsonOpt = False,
    top_n: TopOpt = 20,
    sort: SortOpt = "total",
    min_calls: MinCallsOpt = 1,
    since: SinceOpt = None,
    all_databases: AllDbOpt = False,
    html_file: HtmlOpt = None,
) -> None:
    """Slow queries from pg_stat_statements (with snapshot history) and from server logs.

    Without a subcommand, runs `top` with these options.

    Example: dbadmin slow-queries --top 10 --sort mean
    """
    if ctx.invoked_subcommand is not None:
        carry_group_options(ctx, default_command="top")
        return
    _top(ctx, database_url, json_output, top_n, sort, min_calls, since, all_databases, html_file)


@app.command("top")
@handle_errors
def top(
    ctx: typer.Context,
    database_url: DatabaseUrlOpt = None,
    json_output: JsonOpt = False,
    top_n: TopOpt = 20,
    sort: SortOpt = "total",
    min_calls: MinCallsOpt = 1,
    since: SinceOpt = None,
    all_databases: AllDbOpt = False,
    html_file: HtmlOpt = None,
) -> None:
    """The statements that take the most time, from pg_stat_statements: calls, total, mean,
    max and stddev time, rows, shared-buffer hit %, temp blocks, I/O time and share of the total.

    Counters are cumulative since the last reset; with --since, the deltas between the stored
    snapshots (see `snapshot`) and now, correct across resets and restarts.

    Example: dbadmin slow-queries top --since 24h --sort mean --json
    """
    _top(ctx, database_url, json_output, top_n, sort, min_calls, since, all_databases, html_file)


def _top(
    ctx: typer.Context,
    database_url: str | None,
    json_output: bool,
    top_n: int,
    sort: str,
    min_calls: int,
    since: str | None,
    all_databases: bool,
    html_file: Path | None,
) -> None:
    from dbadmin.slowlog.pgss import top as run_top

    report = run_top(
        get_settings(ctx, database_url),
        limit=top_n,
        sort=sort,
        min_calls=min_calls,
        since=since,
        all_databases=all_databases,
    )
    for warning in report.warnings:
        notice(f"warning: {warning}")
    if html_file is not None:
        from dbadmin.slowlog.html import top_report_html

        _write(html_file, top_report_html(report))
    if json_output:
        print_json(report.as_dict())
        return
    _render_top(report)


def _render_top(report: TopReport) -> None:
    from dbadmin.render import simple_table

    console = out_console()
    if report.source == "snapshots":
        head = (
            f"{report.database}: deltas over {report.since} from {report.snapshots_used} "
            f"snapshot(s) since {report.window_start:%Y-%m-%d %H:%M} and now"
        )
    else:
        reset = f" (since {report.stats_reset:%Y-%m-%d %H:%M})" if report.stats_reset else ""
        head = f"{report.database}: pg_stat_statements counters{reset}"
    if not report.statements:
        console.print(f"{head}: no statements recorded yet")
        return

    def fmt(value: float | None, digits: int = 1) -> str:
        return "" if value is None else f"{value:,.{digits}f}"

    rows = [
        (
            i,
            f"{s.calls:,}",
            fmt(s.total_ms),
            fmt(s.mean_ms, 2),
            fmt(s.max_ms, 2),
            fmt(s.share_pct),
            f"{s.rows:,}",
            fmt(s.hit_pct),
            f"{s.temp_blks:,}",
            fmt(s.io_ms),
            _short(s.query),
        )
        for i, s in enumerate(report.statements, 1)
    ]
    columns = ("#", "calls", "total ms", "mean ms", "max ms", "share %", "rows", "hit %",
               "temp blks", "io ms", "query")  # fmt: skip
    console.print(
        simple_table(
            f"{head}; total {_duration(report.total_ms)} in {report.total_calls:,} calls, "
            f"sorted by {report.sort}",
            columns,
            rows,
            numeric=columns[:-1],
        )
    )
    flagged = [str(i) for i, s in enumerate(report.statements, 1) if s.possible_n_plus_one]
    if flagged:
        console.print(
            f"possible N+1 (very frequent one-row lookups by key): #{', #'.join(flagged)}; "
            "pg_stat_statements keeps no order, so confirm with `dbadmin slow-queries log`"
        )


def _duration(ms: float) -> str:
    return f"{ms:,.1f} ms" if ms < 10_000 else f"{ms / 1000:,.1f} s"


def _short(query: str, width: int = 100) -> str:
    text = " ".join(query.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@app.command("snapshot")
@handle_errors
def snapshot(
    ctx: typer.Context,
    database_url: DatabaseUrlOpt = None,
    json_output: JsonOpt = False,
    keep_days: Annotated[
        int, typer.Option("--keep-days", help="Delete snapshots older than this many days.")
    ] = 14,
) -> None:
    """Store the current pg_stat_statements counters in dbadmin.pgss_snapshots (created on first
    use) for `top --since`; prunes old snapshots. Never resets pg_stat_statements. Meant for
    cron; note that on Neon every run wakes the compute (and keeps it awake for its suspend
    timeout), which costs compute hours.

    Example: dbadmin slow-queries snapshot --keep-days 14   # e.g. hourly from cron
    """
    from dbadmin.slowlog.pgss import snapshot as take

    settings = get_settings(ctx, database_url)
    result = take(settings, keep_days=keep_days)
    for warning in result.warnings:
        notice(f"warning: {warning}")
    if settings.url.is_neon:
        notice("note: each snapshot wakes the Neon compute; schedule it accordingly")
    if json_output:
        print_json(result.as_dict())
        return
    created = " (created schema dbadmin)" if result.created_schema else ""
    out_console().print(
        f"snapshot {result.snapshot_id} at {result.taken_at:%Y-%m-%d %H:%M:%S %Z}: "
        f"{result.entries} statements stored{created}; pruned {result.pruned_snapshots} "
        f"snapshot(s) older than {result.keep_days} days"
    )


@app.command("enable")
@handle_errors
def enable(
    ctx: typer.Context,
    database_url: DatabaseUrlOpt = None,
    json_output: JsonOpt = False,
    threshold: Annotated[
        str,
        typer.Option("--threshold", help="log_min_duration_statement for this database."),
    ] = "250ms",
) -> None:
    """Create pg_stat_statements where permitted and set log_min_duration_statement for the
    database where permitted; says exactly what it could not do and why (the library needs
    shared_preload_libraries and a restart; managed services). Exit 1 when a step could not be
    done.

    Example: dbadmin slow-queries enable --threshold 250ms
    """
    from dbadmin.slowlog.enable import enable as run_enable

    report = run_enable(get_settings(ctx, database_url), threshold=threshold)
    if json_output:
        print_json(report.as_dict())
    else:
        from dbadmin.render import simple_table, styled_status

        status_names = {"done": "ok", "already": "ok", "failed": "fail", "manual": "warn"}
        rows = [
            (s.name, styled_status(status_names[s.status]) + f" {s.status}", s.detail)
            for s in report.steps
        ]
        out_console().print(
            simple_table(
                f"enable slow-query tracking in {report.database}",
                ("step", "status", "detail"),
                rows,
            )
        )
    if not report.ok:
        raise typer.Exit(1)


@app.command("log")
@handle_errors
def log(
    ctx: typer.Context,
    files: Annotated[
        list[str],
        typer.Argument(help="Server log files (plain or .gz); '-' reads standard input."),
    ],
    log_format: Annotated[
        str, typer.Option("--format", help="auto | stderr | csvlog | jsonlog | syslog.")
    ] = "auto",
    prefix: Annotated[
        str | None,
        typer.Option(
            "--prefix",
            help="The server's log_line_prefix (stderr logs); inferred when not given.",
            show_default=False,
        ),
    ] = None,
    min_duration: Annotated[
        float, typer.Option("--min-duration", help="Ignore statements faster than this (ms).")
    ] = 0.0,
    top_n: TopOpt = 20,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            "-j",
            help="Processes for large plain stderr logs (0: one per CPU, up to 4).",
        ),
    ] = 0,
    n_plus_one_min: Annotated[
        int,
        typer.Option(
            "--n-plus-one-min",
            help="Statements of one fingerprint in a row (per session, under 100 ms apart, after "
            "a parent statement) that make an N+1; 0 skips N+1 detection.",
        ),
    ] = 10,
    json_output: JsonOpt = False,
    html_file: HtmlOpt = None,
) -> None:
    """Parse PostgreSQL server logs written with log_min_duration_statement (and auto_explain)
    and group statements by fingerprint: count, total/mean/p50/p95/max, first/last seen,
    users/databases/applications, the slowest example with its parameters; errors counted
    apart; N+1 queries (one statement run once per row of a parent statement, per session)
    named with their parent and the fix. Formats stderr (the whole log_line_prefix inferred),
    csvlog and jsonlog, plain or gzip.

    Exit 1 when a non-empty log yields no queries (with the first unparsed line and the prefix
    expected); an empty log prints "no queries" and exits 0.

    Example: dbadmin slow-queries log /var/log/postgresql/postgresql-16-main.log --top 10
    """
    from dbadmin.errors import UsageError
    from dbadmin.slowlog.logparse import parse_logs

    if top_n < 1:
        raise UsageError("--top must be at least 1")
    sources: list[object] = [sys.stdin.buffer if f == "-" else f for f in files]
    report = parse_logs(
        sources,  # type: ignore[arg-type]
        log_format=log_format,
        prefix=prefix,
        min_duration_ms=min_duration,
        jobs=jobs,
        n_plus_one_min=n_plus_one_min,
    )
    if html_file is not None and report.total_queries:
        from dbadmin.slowlog.html import log_report_html

        _write(html_file, log_report_html(report, top=top_n))
    if report.total_queries == 0:
        if json_output:
            print_json(report.as_dict(top=top_n))
            notice("no queries: the log is empty")
        else:
            out_console().print(f"no queries: {', '.join(report.files)} is empty")
        return
    if report.unparsed_lines:
        notice(
            f"warning: {report.unparsed_lines} of {report.lines} lines did not match the "
            f"log_line_prefix {', '.join(repr(p) for p in report.prefixes)}"
        )
    if json_output:
        print_json(report.as_dict(top=top_n))
        return
    _render_log(report, top_n)


def _render_log(report: LogReport, top_n: int) -> None:
    from dbadmin.render import simple_table

    console = out_console()
    prefix = f", log_line_prefix {report.prefixes[0]!r}" if report.prefixes else ""
    console.print(
        f"{', '.join(report.files)} ({', '.join(report.formats)}{prefix}): "
        f"{report.total_queries:,} queries, {_duration(report.total_duration_ms)} in total, "
        f"{len(report.groups):,} distinct, {report.errors:,} errors"
    )
    rows = [
        (
            i,
            f"{g.count:,}",
            f"{g.total_ms:,.1f}",
            f"{g.mean_ms:,.2f}",
            f"{g.p50_ms:,.2f}",
            f"{g.p95_ms:,.2f}",
            f"{g.max_ms:,.2f}",
            _short(g.query),
        )
        for i, g in enumerate(report.groups[:top_n], 1)
    ]
    columns: tuple[str, ...]  # of each table below
    columns = ("#", "count", "total ms", "mean ms", "p50 ms", "p95 ms", "max ms", "query")
    console.print(
        simple_table("top queries by total duration", columns, rows, numeric=columns[:-1])
    )
    if report.error_groups:
        erows = [(f"{e.count:,}", e.severity, _short(e.message, 80), _short(e.statement or "", 60))
                 for e in report.error_groups[:top_n]]  # fmt: skip
        columns = ("count", "severity", "message", "statement")
        console.print(simple_table("errors", columns, erows, numeric=("count",)))
    if report.n_plus_one:
        nrows = [
            (f"{n.total_repetitions:,}", f"{n.occurrences:,}", f"{n.median_run_length:g}",
             f"{n.total_ms:,.1f}", _short(n.query, 60), _short(n.parent_query, 50))
            for n in report.n_plus_one[:top_n]
        ]  # fmt: skip
        columns = ("repetitions", "runs", "median run", "total ms", "query", "after (parent)")
        console.print(simple_table("N+1 queries", columns, nrows, numeric=columns[:4]))
        console.print(f"fix: {report.n_plus_one[0].fix}")


def _write(path: Path, text: str) -> None:
    from dbadmin.files import write_atomically

    write_atomically(path, text)
    notice(f"wrote {path}")
