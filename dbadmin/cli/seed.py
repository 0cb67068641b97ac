"""`dbadmin seed`: realistic, deterministic seed data through COPY (core: dbadmin/seed/)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dbadmin.cli.common import (
    confirm,
    get_settings,
    handle_errors,
    notice,
    out_console,
    print_json,
)
from dbadmin.cli.options import DatabaseUrlOpt, Duration, JsonOpt, OneOf, YesOpt
from dbadmin.cli.progress import RowBars, stderr_is_terminal

if TYPE_CHECKING:
    from dbadmin.seed.run import SeedResult

PROFILES = ("minimal", "dev", "demo", "load")  # dbadmin.seed.run.PROFILES (a test compares)


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
            "--profile",
            click_type=OneOf(PROFILES, "profile"),
            help="minimal (fixed records, idempotent), dev, demo or load.",
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
            click_type=Duration(allow_zero=True),
            help="How long to wait for another seed of this database (then exit 4; a bare "
            "number is seconds).",
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
    from dbadmin import api

    settings = get_settings(ctx, database_url)
    options: dict[str, Any] = dict(
        profile=profile,
        scale=scale,
        rows=rows or [],
        seed=seed_value,
        now=now,
        reset=reset,
        append=append,
        batch_size=batch_size,
        from_database=from_database,
        schema=schema,
        keep_indexes=keep_indexes,
        like=like,
        no_values=no_values,
        lock_wait=lock_wait,
        confirm=partial(confirm, yes=yes),
        notice=notice,
    )
    if stderr_is_terminal() and not json_output:
        with RowBars() as bars:
            run = api.seed(settings, progress=bars, **options)
    else:
        run = api.seed(settings, **options)
    if json_output:
        print_json(run.as_dict())
    else:
        _summary(run.result)
    if not run.ok:
        raise typer.Exit(1)
