"""`dbadmin seed`: realistic, deterministic seed data through COPY (core: dbadmin/seed/)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from dbadmin.cli.common import (
    DatabaseUrlOpt,
    JsonOpt,
    YesOpt,
    confirm,
    get_settings,
    handle_errors,
    notice,
    out_console,
    print_json,
)
from dbadmin.cli.progress import RowBars, stderr_is_terminal
from dbadmin.errors import UsageError

if TYPE_CHECKING:
    import datetime as dt

    from dbadmin.migrate.lock import LockHolder
    from dbadmin.seed.run import SeedResult


def _parse_now(raw: str | None) -> dt.datetime | None:
    import datetime as dt

    if raw is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise UsageError(
            f"--now {raw!r} is not an ISO date or time", "write e.g. --now 2026-01-31"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _summary(result: SeedResult) -> None:
    from dbadmin.render import fit_table, key_col, num_col, text_col

    rows = [
        (
            t.table,
            _status_text(t.status, t.rows),
            f"{t.rows:,}",
            f"{t.seconds:.2f}",
            f"{t.rows_per_second:,.0f}" if t.rows else "",
            t.reason or "; ".join(t.notes),
        )
        for t in result.tables
    ]
    rows.append(("total", "", f"{result.total_rows:,}", f"{result.seconds:.2f}", "", ""))
    title = (
        f"dbadmin seed: profile {result.profile}, seed {result.seed}, now {result.now.isoformat()}"
    )
    columns = (key_col("table"), key_col("status"), num_col("rows"), num_col("seconds"), num_col("rows/s"),
               text_col("notes", markup=False))  # fmt: skip
    out_console().print(fit_table(title, columns, rows), crop=False)


def _status_text(status: str, rows: int) -> str:
    """ "seeded" only when rows went in: a table left as it was says so."""
    return "unchanged" if status == "seeded" and rows == 0 else status


@handle_errors
def seed(
    ctx: typer.Context,
    profile: Annotated[
        str,
        typer.Option(
            "--profile", "-p", help="minimal (fixed records, idempotent), dev, demo or load."
        ),
    ] = "dev",
    scale: Annotated[
        float, typer.Option("--scale", help="Multiply the profile's row counts.")
    ] = 1.0,
    rows: Annotated[
        list[str] | None,
        typer.Option(
            "--rows",
            help="TABLE=N rows for a table (repeatable); its parents follow in proportion.",
            show_default=False,
        ),
    ] = None,
    seed_value: Annotated[
        int, typer.Option("--seed", help="Random seed: the same seed gives identical data.")
    ] = 1,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            help="Reference time for generated times (ISO; default today 00:00 UTC).",
            show_default=False,
        ),
    ] = None,
    reset: Annotated[
        bool, typer.Option("--reset", help="Empty the seeded tables first (asks; --yes).")
    ] = False,
    append: Annotated[
        bool, typer.Option("--append", help="Add to non-empty tables; reuse existing parents.")
    ] = False,
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Rows generated and sent per COPY batch.")
    ] = 10_000,
    from_database: Annotated[
        bool,
        typer.Option(
            "--from-database",
            help="Seed whatever schema the database has (reflected), not the app's models.",
        ),
    ] = False,
    schema: Annotated[
        str | None,
        typer.Option("--schema", help="With --from-database: the schema to reflect (public)."),
    ] = None,
    keep_indexes: Annotated[
        bool,
        typer.Option(
            "--keep-indexes",
            help="Do not drop and re-create secondary indexes and foreign keys around big "
            "loads into empty tables (slower; the table is not locked exclusively).",
        ),
    ] = False,
    like: Annotated[
        str | None,
        typer.Option(
            "--like",
            help="Match this source database's planner statistics (reads pg_stats and row "
            "estimates only, never a row); row counts are the source's times --scale.",
            show_default=False,
        ),
    ] = None,
    no_values: Annotated[
        bool,
        typer.Option(
            "--no-values",
            help="With --like: copy no text value from the source (look-alikes of the same "
            "length instead).",
        ),
    ] = False,
    lock_wait: Annotated[
        float,
        typer.Option(
            "--lock-wait",
            help="Seconds to wait for another seed of this database (then exit 4).",
            min=0,
        ),
    ] = 60.0,
    database_url: DatabaseUrlOpt = None,
    yes: YesOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Fill the database with realistic, deterministic data through COPY: parents before
    children, one transaction per table, sequences advanced, ANALYZE at the end. The app
    profiles need the schema at the migration head; --from-database seeds any schema. Tables
    that already have rows are refused unless --append or --reset. The whole seed is one
    transaction (a killed seed leaves nothing), and one seed runs at a time: a second one waits
    up to --lock-wait seconds (exit 4 beyond), then behaves as a seed of the filled database.
    Exit 1 when a table cannot be filled validly (each is named with the reason).

    Example: dbadmin seed --profile load --rows messages=1000000 --seed 42
    """
    from dbadmin.seed.run import SeedRequest, parse_rows, plan_seed, run_seed

    request = SeedRequest(
        profile=profile,
        scale=scale,
        rows=parse_rows(rows or []),
        seed=seed_value,
        now=_parse_now(now),
        reset=reset,
        append=append,
        batch_size=batch_size,
        from_database=from_database,
        schema=schema,
        rebuild_indexes=not keep_indexes,
        lock_wait=lock_wait,
        like=like,
        no_values=no_values,
    )
    settings = get_settings(ctx, database_url)
    plan = plan_seed(settings, request)
    if request.reset and plan.truncate:
        confirm(f"empty {', '.join(plan.truncate)} (TRUNCATE ... CASCADE)", yes=yes)
    for name, reason in plan.unfillable:
        notice(f"cannot fill {name}: {reason}")

    def on_lock_wait(holder: LockHolder | None) -> None:
        who = holder.describe() if holder else "another session"
        notice(f"waiting up to {lock_wait:g} s for the seed lock held by {who}")

    if stderr_is_terminal() and not json_output:
        with RowBars() as bars:
            result = run_seed(settings, plan, bars, on_lock_wait=on_lock_wait)
    else:
        result = run_seed(settings, plan, on_lock_wait=on_lock_wait)
    if json_output:
        print_json(result.to_dict())
    else:
        _summary(result)
    for table in result.unfillable:
        if (table.table, table.reason) not in plan.unfillable:
            notice(f"cannot fill {table.table}: {table.reason}")
    if result.unfillable:
        raise typer.Exit(1)
