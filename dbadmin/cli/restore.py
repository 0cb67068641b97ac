"""`dbadmin restore`: a backup from a directory or a store into a database (see
:mod:`dbadmin.cli.backup` for the exit codes)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Annotated

import typer

from dbadmin.cli.common import (
    confirm,
    fail,
    get_settings,
    handle_errors,
    notice,
    out_console,
    print_json,
)
from dbadmin.cli.options import (
    DatabaseUrlOpt,
    DirOpt,
    EndpointOpt,
    JsonOpt,
    NoRelayOpt,
    PgBinOpt,
    TimeoutOpt,
    YesOpt,
)

if TYPE_CHECKING:
    from dbadmin.api import RestoreReport


# --- restore (a top-level command) ---------------------------------------------------------------
@handle_errors
def restore(
    ctx: typer.Context,
    backup_ref: Annotated[
        str | None,
        typer.Argument(
            help="Backup name (in --dir) or path; default: the newest.", show_default=False
        ),
    ] = None,
    target_url: Annotated[
        str | None,
        typer.Option(
            "--target-url",
            help="Database to restore into: a URL, or a database name on the configured "
            "server (default: the configured database's direct URL).",
            show_default=False,
        ),
    ] = None,
    clean: Annotated[
        bool, typer.Option("--clean", help="Drop the backup's objects first (--if-exists).")
    ] = False,
    create_db: Annotated[
        bool, typer.Option("--create", help="Create the target database if it does not exist.")
    ] = False,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=1, help="Parallel pg_restore (not atomic if > 1).")
    ] = 1,
    thorough: Annotated[
        bool,
        typer.Option(
            "--thorough",
            help="count(*) and ANALYZE every table, instead of trusting the server's insert "
            "counters and the backup's current planner statistics.",
        ),
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be done.")] = False,
    directory: DirOpt = None,
    endpoint_url: EndpointOpt = None,
    database_url: DatabaseUrlOpt = None,
    pg_bin: PgBinOpt = None,
    no_relay: NoRelayOpt = False,
    timeout: TimeoutOpt = None,
    yes: YesOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Restore a verified backup: checksum first, typed confirmation, refuses non-empty targets.

    Uses --no-owner --no-privileges, one transaction when --jobs 1, then compares every table's
    exact row count with the manifest (exit 1 on a mismatch) and ANALYZEs each table whose
    planner statistics did not come current with the backup.

    Example: dbadmin restore app-20250101T020000Z --target-url app_copy --create
    """
    from dbadmin import api
    from dbadmin.cli.progress import working

    settings = get_settings(ctx, database_url)
    report = api.restore(
        settings,
        backup_ref,
        target_url=target_url,
        clean=clean,
        create=create_db,
        jobs=jobs,
        thorough=thorough,
        dry_run=dry_run,
        directory=directory,
        endpoint_url=endpoint_url,
        pg_bin=pg_bin,
        allow_relay=not no_relay,
        timeout=timeout,
        confirm=partial(confirm, yes=yes),
        notice=notice,
        working=working,
    )
    if json_output:
        print_json(report.as_dict())
    else:
        _print_outcome(report)
    if not report.ok:
        assert report.result is not None
        mismatches = report.result.mismatches
        raise fail(f"row counts differ from the manifest: {'; '.join(mismatches[:5])}", 1)


def _print_outcome(report: RestoreReport) -> None:
    plan, result, entry = report.plan, report.result, report.plan.entry
    if result is None:
        console = out_console()
        console.print(f"would restore {entry.name} into {plan.target.describe()}:", highlight=False)
        for step in plan.steps:
            console.print(f"  - {step}", highlight=False)
        return
    after = result.after
    confirmed = len(after.row_counts) - len(after.scanned)
    out_console().print(
        f"restored {entry.name} into {plan.target.describe()} in "
        f"{result.restore_seconds:.1f} s; {len(result.row_counts)} tables, row counts "
        + ("match the manifest" if result.ok else "DIFFER from the manifest")
        + f" ({confirmed} by the server's insert counters, {len(after.scanned)} by count(*)); "
        f"ANALYZE of {_tables(len(after.analyzed))}, {len(after.kept_statistics)} kept the "
        "backup's current statistics",
        highlight=False,
    )


def _tables(n: int) -> str:
    return f"{n} table" if n == 1 else f"{n} tables"
