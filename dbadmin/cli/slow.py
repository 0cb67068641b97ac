"""`dbadmin slow-queries`: what is slow, from pg_stat_statements (with history) and server logs.

`dbadmin slow-queries` alone runs `top`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer

from dbadmin.cli.common import (
    get_settings,
    handle_errors,
    notice,
    out_console,
    print_json,
    print_table,
)
from dbadmin.cli.groups import default_group
from dbadmin.cli.options import (
    DatabaseUrlOpt,
    Duration,
    HtmlOpt,
    JsonOpt,
    OneOf,
    TopOpt,
    WideOpt,
)

if TYPE_CHECKING:
    from dbadmin.render import Col
    from dbadmin.slowlog.logparse import LogReport
    from dbadmin.slowlog.pgss import TopReport

SORTS = ("total", "mean", "calls", "rows", "io", "temp")  # dbadmin.slowlog.pgss.SORTS (tested)
LOG_FORMATS = ("auto", "stderr", "csvlog", "jsonlog", "syslog")  # slowlog.logparse.FORMATS
SortOpt = Annotated[
    str,
    typer.Option(
        "--sort",
        click_type=OneOf(SORTS, "--sort"),
        help="Order by total | mean | calls | rows | io | temp.",
    ),
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

app = typer.Typer(
    cls=default_group("top"),
    help=(
        "Slow queries from pg_stat_statements (with snapshot history) and from server logs.\n\n"
        "Without a subcommand, runs `top`.\n\n"
        "Example: dbadmin slow-queries --top 10 --sort mean"
    ),
    invoke_without_command=True,
    no_args_is_help=False,
    rich_markup_mode=None,
)


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
    wide: WideOpt = False,
) -> None:
    """The statements that take the most time, from pg_stat_statements: calls, total, mean,
    max and stddev time, rows, shared-buffer hit %, temp blocks, I/O time and share of the total.

    Counters are cumulative since the last reset; with --since, the deltas between the stored
    snapshots (see `snapshot`) and now, correct across resets and restarts.

    Example: dbadmin slow-queries top --since 24h --sort mean --json
    """
    _top(ctx, **ctx.params)  # the same options in both


def _top(
    ctx: typer.Context,
    *,
    database_url: str | None,
    json_output: bool,
    top_n: int,
    sort: str,
    min_calls: int,
    since: str | None,
    all_databases: bool,
    html_file: Path | None,
    wide: bool = False,
) -> None:
    from dbadmin import api

    report = api.slow_top(
        get_settings(ctx, database_url),
        limit=top_n,
        sort=sort,
        min_calls=min_calls,
        since=since,
        all_databases=all_databases,
        html=html_file,
        notice=notice,
    )
    for warning in report.warnings:
        notice(f"warning: {warning}")
    if json_output:
        print_json(report.as_dict())
        return
    _render_top(report, wide=wide)


def _render_top(report: TopReport, *, wide: bool = False) -> None:
    from dbadmin.render import fit_table, num_col

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
            _one_line(s.query),
        )
        for i, s in enumerate(report.statements, 1)
    ]
    columns = (num_col("#"), num_col("calls"), num_col("total ms"), num_col("mean ms", 1), num_col("max ms", 4),
               num_col("share %", 2), num_col("rows", 3), num_col("hit %", 3), num_col("temp blks", 5),
               num_col("io ms", 5), _query_col())  # fmt: skip
    title = (
        f"{head}; total {_duration(report.total_ms)} in {report.total_calls:,} calls, "
        f"sorted by {report.sort}"
    )
    print_table(fit_table(title, columns, rows, wide=wide, wide_hint=True))
    flagged = [str(i) for i, s in enumerate(report.statements, 1) if s.possible_n_plus_one]
    if flagged:
        console.print(
            f"possible N+1 (very frequent one-row lookups by key): #{', #'.join(flagged)}; "
            "pg_stat_statements keeps no order, so confirm with `dbadmin slow-queries log`"
        )


def _duration(ms: float) -> str:
    return f"{ms:,.1f} ms" if ms < 10_000 else f"{ms / 1000:,.1f} s"


BIG_LOG_BYTES = 16 * 1024 * 1024  # parsed in about 2 s here; smaller logs get no progress line


def _bytes_of(files: list[str]) -> int | None:
    """The logs' size on disk; None when one is standard input or cannot be read."""
    try:
        return sum(Path(f).stat().st_size for f in files if f != "-") if "-" not in files else None
    except OSError:
        return None


def _big(files: list[str]) -> bool:
    size = _bytes_of(files)
    return size is None or size >= BIG_LOG_BYTES


def _size_of(files: list[str]) -> str:
    from dbadmin.render import human_bytes

    size = _bytes_of(files)
    return "standard input" if size is None else f"{human_bytes(size)} of logs"


def _one_line(query: str) -> str:
    """A statement on one line (the table cuts it to fit; --wide and --json show it whole)."""
    return " ".join(query.split())


def _query_col(header: str = "query", priority: int = 0) -> Col:
    """A statement's column: cut with … to fit, never read as Rich markup (``ARRAY[a]``)."""
    from dbadmin.render import text_col

    return text_col(header, priority=priority, min_width=24, fold=False, markup=False)


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
    from dbadmin import api

    settings = get_settings(ctx, database_url)
    result = api.slow_snapshot(settings, keep_days=keep_days)
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
    from dbadmin import api

    report = api.slow_enable(get_settings(ctx, database_url), threshold=threshold)
    if json_output:
        print_json(report.as_dict())
    else:
        from dbadmin.render import fit_table, key_col, styled_status, text_col

        status_names = {"done": "ok", "already": "ok", "failed": "fail", "manual": "warn"}
        rows = [
            (s.name, styled_status(status_names[s.status]) + f" {s.status}", s.detail)
            for s in report.steps
        ]
        columns = (key_col("step"), key_col("status"), text_col("detail", markup=False))
        print_table(fit_table(f"enable slow-query tracking in {report.database}", columns, rows))
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
        str,
        typer.Option(
            "--format",
            click_type=OneOf(LOG_FORMATS, "log format"),
            help="auto | stderr | csvlog | jsonlog | syslog.",
        ),
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
        float,
        typer.Option(
            "--min-duration",
            click_type=Duration("ms", allow_zero=True),
            help="Ignore statements faster than this (a bare number is milliseconds).",
        ),
    ] = 0.0,
    top_n: TopOpt = 20,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            "-j",
            help="Processes for large plain log files (0: one per CPU, up to 4).",
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
    wide: WideOpt = False,
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
    from dbadmin import api

    sources: list[str | BinaryIO] = [sys.stdin.buffer if f == "-" else f for f in files]
    from dbadmin.cli.progress import working

    with working(f"parsing {_size_of(files)}", enabled=_big(files)):
        summary = api.parse_logs(
            sources,
            log_format=log_format,
            prefix=prefix,
            min_duration_ms=min_duration,
            jobs=jobs,
            n_plus_one_min=n_plus_one_min,
            top=top_n,
            html=html_file,
            notice=notice,
        )
    report = summary.report
    if report.total_queries == 0:
        if json_output:
            print_json(summary.as_dict())
            notice("no queries: the log is empty")
        else:
            out_console().print(f"no queries: {', '.join(report.files)} is empty")
        return
    if report.unparsed_lines:
        reasons = []
        if report.prefixes:
            shown = ", ".join(repr(p) for p in report.prefixes)
            reasons.append(f"did not match the log_line_prefix {shown}")
        if rows := sorted(set(report.formats) & {"csvlog", "jsonlog"}):
            reasons.append(f"were not {'/'.join(rows)} entries")
        notice(f"warning: {report.unparsed_lines} of {report.lines} lines " + " or ".join(reasons))
    if json_output:
        print_json(summary.as_dict())
        return
    _render_log(report, top_n, wide=wide)


def _render_log(report: LogReport, top_n: int, *, wide: bool = False) -> None:
    from dbadmin.render import fit_table, key_col, num_col, plural, text_col

    console = out_console()
    prefix = f", log_line_prefix {report.prefixes[0]!r}" if report.prefixes else ""
    console.print(
        f"{', '.join(report.files)} ({', '.join(report.formats)}{prefix}): "
        f"{plural(report.total_queries, 'query')}, {_duration(report.total_duration_ms)} in "
        f"total, {len(report.groups):,} distinct, {plural(report.errors, 'error')}",
        highlight=False,
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
            _one_line(g.query),
        )
        for i, g in enumerate(report.groups[:top_n], 1)
    ]
    columns = (num_col("#"), num_col("count"), num_col("total ms"), num_col("mean ms", 1), num_col("p50 ms", 3),
               num_col("p95 ms", 2), num_col("max ms", 4), _query_col())  # fmt: skip
    title = "top queries by total duration"
    print_table(fit_table(title, columns, rows, wide=wide, wide_hint=True))
    if report.error_groups:
        erows = [(f"{e.count:,}", e.severity, _one_line(e.message), _one_line(e.statement or ""))
                 for e in report.error_groups[:top_n]]  # fmt: skip
        ecols = (num_col("count"), key_col("severity"), text_col("message", markup=False),
                 _query_col("statement", 1))  # fmt: skip
        print_table(fit_table("errors", ecols, erows, wide=wide, wide_hint=True))
    if report.n_plus_one:
        nrows = [
            (f"{n.total_repetitions:,}", f"{n.occurrences:,}", f"{n.median_run_length:g}",
             f"{n.total_ms:,.1f}", _one_line(n.query), _one_line(n.parent_query))
            for n in report.n_plus_one[:top_n]
        ]  # fmt: skip
        ncols = (num_col("repetitions"), num_col("runs", 2), num_col("median run", 3), num_col("total ms"),
                 _query_col(), _query_col("after (parent)", 1))  # fmt: skip
        print_table(fit_table("N+1 queries", ncols, nrows, wide=wide, wide_hint=True))
        console.print(f"fix: {report.n_plus_one[0].fix}", highlight=False)
