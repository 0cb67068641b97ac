"""`dbadmin health`: database health checks (table, JSON, Nagios, Prometheus) and `health pool`.

Exit codes are Nagios plugin codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. Anything that keeps
the checks from being judged is UNKNOWN (3): the server is down, the run timed out, a bad flag or
configuration (the Nagios plugin guidelines say UNKNOWN for invalid arguments, and 2 would read as
CRITICAL), the Prometheus file cannot be written. Ctrl-C is 130 as everywhere.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer._click.exceptions import UsageError as ClickUsageError  # Typer 0.28 vendors Click
from typer.core import TyperGroup

from dbadmin.cli.common import (
    _translate,
    carry_group_options,
    fail,
    get_settings,
    handle_errors,
    known_secrets,
    out_console,
    parse_error_exit,
    print_json,
    print_table,
    print_traceback,
    state,
)
from dbadmin.cli.options import (
    CheckOpt,
    CheckTimeoutOpt,
    DatabaseUrlOpt,
    Duration,
    JsonOpt,
    NagiosOpt,
    SkipOpt,
    WideOpt,
)
from dbadmin.errors import DbadminError, UsageError

if TYPE_CHECKING:
    from dbadmin.health.model import CheckResult, HealthReport
    from dbadmin.health.pool import PoolLoadResult

UNKNOWN = 3


class NagiosGroup(TyperGroup):
    """Click usage errors (unknown option, bad value) exit 3 UNKNOWN here, not Click's 2."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except ClickUsageError as exc:
            exc.exit_code = UNKNOWN
            raise
        except DbadminError as exc:  # a value an option type refused (a bad --timeout)
            raise _parse_unknown(ctx, exc) from None

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ClickUsageError as exc:
            exc.exit_code = UNKNOWN
            raise
        except DbadminError as exc:  # the same while `health pool` parses its options
            raise _parse_unknown(ctx, exc) from None


def _parse_unknown(ctx: Any, exc: DbadminError) -> typer.Exit:
    """A refused option value is UNKNOWN (3); with --nagios (eager, so already known) the
    UNKNOWN plugin line is printed too."""
    if ctx.params.get("nagios"):
        sys.stdout.write(f"DBADMIN UNKNOWN: {exc.one_line()}\n")
    return parse_error_exit(ctx, exc, UNKNOWN)


app = typer.Typer(
    cls=NagiosGroup,
    help="Database health checks for people, cron and monitoring (Nagios exit codes: "
    "0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN). With no subcommand, runs the checks.\n\n"
    "Example: dbadmin health --nagios --warn idle_in_transaction=30",
    invoke_without_command=True,
)

WarnOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--warn",
        help="WARNING threshold NAME=VALUE (s, %, ms, MB; `off` disables). Repeatable.",
        show_default=False,
    ),
]
CritOpt = Annotated[
    list[str] | None,
    typer.Option("--crit", help="CRITICAL threshold NAME=VALUE. Repeatable.", show_default=False),
]


def _unknown_exit(message: str) -> typer.Exit:
    return fail(message, UNKNOWN)


@app.callback(invoke_without_command=True)
@handle_errors
def health(
    ctx: typer.Context,
    database_url: DatabaseUrlOpt = None,
    check: CheckOpt = None,
    skip: SkipOpt = None,
    json_output: JsonOpt = False,
    nagios: NagiosOpt = False,
    prometheus: Annotated[
        Path | None,
        typer.Option(
            "--prometheus",
            help="Write a Prometheus textfile (atomically) for node_exporter's textfile collector.",
            show_default=False,
            dir_okay=False,
        ),
    ] = None,
    warn: WarnOpt = None,
    crit: CritOpt = None,
    timeout: CheckTimeoutOpt = 10.0,
    wide: WideOpt = False,
) -> None:
    """Run the health checks: connections, idle in transaction, long queries, lock waits, cache
    hit, wraparound, sequences, invalid/duplicate/unused indexes, FKs without index, vacuum,
    replication slots, database size, latency. Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.

    Thresholds: --warn/--crit, DBADMIN_HEALTH_WARN_<NAME>/DBADMIN_HEALTH_CRIT_<NAME>, or
    [tool.dbadmin.health.warn]/[tool.dbadmin.health.crit] in pyproject.toml.

    Example: dbadmin health --prometheus /var/lib/node_exporter/textfile/dbadmin.prom
    """
    if ctx.invoked_subcommand is not None:
        with _unknown_on_error(ctx, nagios=nagios):
            carry_group_options(ctx)  # `health --json pool`; a checks-only option there is exit 3
        return
    with _unknown_on_error(ctx, nagios=nagios):
        report = _run_checks(
            ctx, database_url, check, skip, json_output, nagios, warn, crit, timeout, prometheus
        )

    _emit(
        report,
        json_output=json_output,
        nagios=nagios,
        table=not prometheus or json_output or nagios,
        wide=wide,
    )
    if report.error is not None:
        raise _unknown_exit(report.error)
    raise typer.Exit(report.exit_code)


@contextmanager
def _unknown_on_error(ctx: typer.Context, *, nagios: bool = False) -> Iterator[None]:
    """:func:`handle_errors` with Nagios codes: whatever keeps the checks from being judged is
    one stderr line and exit 3 UNKNOWN (with --nagios, a DbadminError also prints the UNKNOWN
    plugin line on stdout); --debug / DBADMIN_DEBUG add the traceback, as everywhere."""
    from dbadmin.signals import stop_signal

    try:
        yield
    except (KeyboardInterrupt, typer.Exit):
        raise
    except Exception as exc:
        if stop_signal() is not None:  # a statement cancelled by Ctrl-C/SIGTERM: exit as stopped
            raise
        if state(ctx).debug:
            print_traceback(exc, (ctx,))
        if isinstance(exc, DbadminError):
            if nagios:
                sys.stdout.write(f"DBADMIN UNKNOWN: {exc.one_line()}\n")
            raise _unknown_exit(exc.one_line()) from None
        raise _unknown_exit(_unexpected(ctx, exc)) from None


def _unexpected(ctx: typer.Context, exc: BaseException) -> str:
    from dbadmin.urls import masked_line

    translated = _translate(exc)
    if isinstance(translated, DbadminError):
        return translated.one_line()
    text = masked_line(str(exc), *known_secrets(state(ctx)), limit=300)
    return f"unexpected {type(exc).__name__}: {text} — rerun with --debug and report it"


def _run_checks(
    ctx: typer.Context,
    database_url: str | None,
    check: list[str] | None,
    skip: list[str] | None,
    json_output: bool,
    nagios: bool,
    warn: list[str] | None,
    crit: list[str] | None,
    timeout: float,
    prometheus: Path | None,
) -> HealthReport:
    from dbadmin import api

    if json_output and nagios:
        raise UsageError("--json and --nagios cannot be combined", "choose one output format")
    return api.health(
        get_settings(ctx, database_url),
        checks=check or (),
        skip=skip or (),
        warn=warn or (),
        crit=crit or (),
        timeout=timeout,
        prometheus=prometheus,
    )


def _figure(value: float) -> str:
    """A check's figure: whole numbers with separators (never ``1.2e+06``), else 2 decimals."""
    if float(value).is_integer():
        return f"{value:,.0f}"
    if abs(value) < 1:
        return f"{value:.3g}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _value_text(check: CheckResult) -> str:
    value = check.value
    if value is None:
        return "-"
    unit = check.unit
    if unit in ("count", "xids"):
        return _figure(value)
    if unit == "%":
        return f"{_figure(value)}%"
    return f"{_figure(value)} {unit}"


def _limit_text(limit: float | None, unit: str) -> str:
    if limit is None:
        return "-"
    if unit == "xids" and limit >= 1e6:
        return f"{limit / 1e9:g} B"
    return _figure(limit)


def _emit(
    report: HealthReport, *, json_output: bool, nagios: bool, table: bool, wide: bool = False
) -> None:
    if json_output:
        print_json(report.as_dict())
        return
    if nagios:
        from dbadmin.health.exporters import nagios_line

        sys.stdout.write(nagios_line(report) + "\n")
        return
    if not table:
        return
    from rich.text import Text

    from dbadmin.render import fit_table, key_col, num_col, styled_status, text_col

    console = out_console()
    title = f"dbadmin health: {report.status.value} — {report.target}"
    if report.server_version:
        title += f" (PostgreSQL {report.server_version}, {report.endpoint})"
    rows = [
        (
            c.name,
            styled_status(c.status.value),
            _value_text(c),
            _limit_text(c.warn, c.unit),
            _limit_text(c.crit, c.unit),
            c.summary,
        )
        for c in report.checks
    ]
    columns = (key_col("check"), key_col("status"), num_col("value"), num_col("warn", 1), num_col("crit", 1),
               text_col("summary", min_width=24, markup=False))  # fmt: skip
    print_table(fit_table(title, columns, rows, wide=wide, wide_hint=True))
    for c in report.checks:
        if c.status.value == "OK":
            continue
        if c.advice:
            console.print(Text(f"{c.name}: {c.advice}"))
        for detail in c.details[:5]:
            pairs = ", ".join(f"{k}={v}" for k, v in detail.items() if v not in (None, ""))
            console.print(Text(f"  - {pairs}"))
    if report.error:
        console.print(Text(f"UNKNOWN: {report.error}"))


@app.command("pool")
@handle_errors
def pool(
    ctx: typer.Context,
    database_url: DatabaseUrlOpt = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-k", help="Threads checking connections out.", min=1)
    ] = 8,
    duration: Annotated[
        float, typer.Option("--duration", click_type=Duration(), help="How long to drive the pool.")
    ] = 10.0,
    query: Annotated[
        str, typer.Option("--query", help="SQL each checkout runs (it is executed as given).")
    ] = "SELECT 1",
    instances: Annotated[
        int,
        typer.Option("--instances", help="Application processes, each with its own pool.", min=1),
    ] = 1,
    warn: WarnOpt = None,
    crit: CritOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Drive a QueuePool configured like the application's (DATABASE_POOL_SIZE,
    DATABASE_MAX_OVERFLOW, DATABASE_POOL_TIMEOUT, DATABASE_POOL_RECYCLE, DATABASE_POOL_PRE_PING)
    with K threads for S seconds; report checkouts/s, wait and query percentiles, timeouts,
    overflow, invalidations, the server's view and the headroom vs max_connections.

    --concurrency is bounded by the server's max_connections minus its reserved slots, and by
    1,000: beyond, exit 2 (a usage error) before any load starts.

    Example: dbadmin health pool --concurrency 16 --duration 10s --instances 3
    """
    from dbadmin.cli.progress import working
    from dbadmin.health.pool import ConcurrencyTooHigh

    too_high: ConcurrencyTooHigh | None = None
    with _unknown_on_error(ctx):
        try:
            with working(f"driving the pool: {concurrency} threads, {duration:g}s"):
                result = _run_pool(
                    ctx, database_url, concurrency, duration, query, instances, warn, crit
                )
        except ConcurrencyTooHigh as exc:  # a usage error (exit 2, handle_errors), not UNKNOWN
            too_high = exc
    if too_high is not None:
        raise too_high
    if json_output:
        print_json(result.as_dict())
    else:
        _render_pool(result)
    raise typer.Exit(result.exit_code)


def _run_pool(
    ctx: typer.Context,
    database_url: str | None,
    concurrency: int,
    duration: float,
    query: str,
    instances: int,
    warn: list[str] | None,
    crit: list[str] | None,
) -> PoolLoadResult:
    from dbadmin import api

    return api.pool_check(
        get_settings(ctx, database_url),
        concurrency=concurrency,
        duration=duration,
        query=query,
        instances=instances,
        warn=warn or (),
        crit=crit or (),
    )


def _recycle_text(seconds: float) -> str:
    """SQLAlchemy's pool_recycle: -1 (its default) means never."""
    return "off" if seconds < 0 else f"{seconds:g} s"


def _render_pool(result: PoolLoadResult) -> None:
    from rich.text import Text

    from dbadmin.render import fit_table, key_col, styled_status, text_col

    p = result.pool
    w, q = result.wait_ms, result.query_ms
    rows: list[tuple[str, str]] = [
        (
            "pool",
            f"pool_size {p.pool_size}, max_overflow {p.max_overflow}, pool_timeout "
            f"{p.pool_timeout:g} s, pool_recycle {_recycle_text(p.pool_recycle)}, pre_ping "
            f"{'yes' if p.pool_pre_ping else 'no'}",
        ),
        (
            "load",
            f"{result.concurrency} threads x {result.duration_s:.1f} s, query {result.query!r}",
        ),
        ("checkouts", f"{result.checkouts:,} ({result.checkouts_per_s:,.0f}/s)"),
        (
            "checkout wait",
            f"p50 {w.p50:.2f} ms, p95 {w.p95:.2f} ms, p99 {w.p99:.2f} ms, max {w.max:.2f} ms",
        ),
        ("query latency", f"p50 {q.p50:.2f} ms, p95 {q.p95:.2f} ms"),
        ("timeouts", f"{result.timeouts:,}"),
        (
            "errors",
            f"{result.errors:,}" + (f" ({result.first_error})" if result.first_error else ""),
        ),
        (
            "connections",
            f"peak {result.peak_connections}, overflow used {result.overflow_used}, "
            f"opened {result.connections_opened}, re-opened {result.reopened}, invalidated "
            f"{result.invalidated}",
        ),
    ]
    if result.server is not None:
        s = result.server
        states = ", ".join(f"{k} {v}" for k, v in sorted(s.ours_by_state.items())) or "none seen"
        rows.append(
            (
                "server view",
                f"{result.application_name}: {states}; {s.other_connections} "
                f"other connections; max_connections {s.max_connections}, {s.reserved} reserved",
            )
        )
    if result.headroom is not None:
        h = result.headroom
        text = f"{h.explanation}; headroom {h.headroom}"
        if h.neon_compute:
            text += f"; compute {h.neon_compute}"
        if h.neon_compute_needed:
            text += f"; needs at least {h.neon_compute_needed} direct"
        rows.append(("headroom", text))
    console = out_console()
    columns = (key_col("measure"), text_col("value", min_width=20, markup=False))
    print_table(
        fit_table(f"dbadmin health pool: {styled_status(result.status.value)}", columns, rows)
    )
    for verdict in result.verdicts:
        console.print(Text(f"verdict: {verdict}"))
    for tip in result.advice:
        console.print(Text(f"advice: {tip}"))
