"""`dbadmin restore`: a backup from a directory or a store into a database (see
:mod:`dbadmin.cli.backup` for the exit codes)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dbadmin.cli.backup_options import DirOpt, EndpointOpt, NoRelayOpt, PgBinOpt, TimeoutOpt
from dbadmin.cli.common import (
    DatabaseUrlOpt,
    JsonOpt,
    YesOpt,
    confirm,
    fail,
    get_settings,
    handle_errors,
    notice,
    out_console,
    print_json,
)

if TYPE_CHECKING:
    from dbadmin.backup.manifest import BackupEntry
    from dbadmin.settings import Settings


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
    from dbadmin.backup.remote import fetched, locate
    from dbadmin.backup.store import backup_location
    from dbadmin.durations import parse_duration

    seconds = parse_duration(timeout, "--timeout") if timeout is not None else None
    settings = get_settings(ctx, database_url, need_server=_on_configured_server(target_url))
    found = locate(backup_location(directory, settings, endpoint_url), backup_ref)
    args = (settings, target_url, clean, create_db, jobs, thorough, dry_run, pg_bin, no_relay)
    if not isinstance(found, tuple):
        return _restore_entry(found, *args, seconds, yes, json_output)
    from dbadmin.backup.crypto import load_key

    store, stored = found
    shown = store.url_of(stored.entry.manifest.data)
    if stored.entry.manifest.format == "plain":  # streamed into psql: no temporary copy
        from dbadmin.backup.streamread import plain_opener

        opener = plain_opener(store, stored, load_key(settings.env))
        return _restore_entry(stored.entry, *args, seconds, yes, json_output, shown, opener)
    with fetched(store, stored, load_key(settings.env)) as entry:  # sha256 checked, decrypted
        return _restore_entry(entry, *args, seconds, yes, json_output, shown)


def _on_configured_server(target_url: str | None) -> bool:
    """No --target-url, or a bare database name (no scheme, no key=value): the target is on the
    configured server. The embedded server listens on a Unix socket only, so a name is how its
    other databases are reached (`postgresql://localhost/app_copy` would go to TCP port 5432).
    Anything with a scheme, a host or key=value pairs is a URL (`localhost/app` is refused as one)."""
    return target_url is None or re.fullmatch(r"[^\s/:@=?#]+", target_url) is not None


def _restore_entry(
    entry: BackupEntry,
    settings: Settings,
    target_url: str | None,
    clean: bool,
    create_db: bool,
    jobs: int,
    thorough: bool,
    dry_run: bool,
    pg_bin: str | None,
    no_relay: bool,
    seconds: float | None,
    yes: bool,
    json_output: bool,
    shown: str | None = None,  # the backup's URL when it was fetched from a store
    opener: Any = None,  # a plain backup streamed from a store (backup.streamread)
) -> None:
    from dbadmin.backup.restore import execute_restore, plan_restore
    from dbadmin.deadline import optional
    from dbadmin.urls import DbUrl

    if target_url is None:
        target = None
    elif _on_configured_server(target_url):  # a bare database name
        target = settings.direct_url.with_database(target_url)
    else:
        target = DbUrl.parse(target_url).secure()
    plan = plan_restore(
        settings,
        entry,
        target_url=target,
        clean=clean,
        create=create_db,
        jobs=jobs,
        thorough=thorough,
        pg_bin=pg_bin,
        checksums_verified=opener is not None,  # checked while streaming, before the COMMIT
    )
    if opener is not None:
        streamed = "sha256 checked while streaming; COMMIT only after the whole object matched"
        plan = replace(plan, open_data=opener, steps=(streamed, *plan.steps[1:]))
    if dry_run:
        if json_output:
            print_json(_restore_plan_doc(plan, dry_run=True, path=shown))
        else:
            console = out_console()
            console.print(
                f"would restore {entry.name} into {plan.target.describe()}:", highlight=False
            )
            for step in plan.steps:
                console.print(f"  - {step}", highlight=False)
        return
    action = f"restore backup {entry.name} into {plan.target.describe()}"
    if plan.target_tables:
        action += f", replacing objects among its {plan.target_tables} tables/views (--clean)"
    confirm(action, yes=yes, typed=plan.target.database)
    result = execute_restore(
        settings,
        plan,
        pg_bin=pg_bin,
        allow_relay=not no_relay,
        notice=notice,
        deadline=optional(seconds),
    )
    if json_output:
        doc = _restore_plan_doc(plan, dry_run=False, path=shown)
        doc.update(
            ok=result.ok,
            pg_restore=result.tool,
            relayed=result.relayed,
            restore_seconds=result.restore_seconds,
            analyze_seconds=result.after.analyze_seconds,
            count_seconds=result.after.count_seconds,
            checksum_seconds=plan.checksum_seconds,
            row_counts=result.row_counts,
            counted_by_scan=list(result.after.scanned),
            analyzed=list(result.after.analyzed),
            statistics_from_backup=list(result.after.kept_statistics),
            mismatches=list(result.mismatches),
        )
        print_json(doc)
    else:
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
    if not result.ok:
        raise fail(f"row counts differ from the manifest: {'; '.join(result.mismatches[:5])}", 1)


def _tables(n: int) -> str:
    return f"{n} table" if n == 1 else f"{n} tables"


def _restore_plan_doc(plan: Any, *, dry_run: bool, path: str | None = None) -> dict[str, Any]:
    return {
        "backup": plan.entry.name,
        "path": path or str(plan.entry.data_path),
        "target": plan.target.masked(),
        "target_exists": plan.target_exists,
        "target_tables": plan.target_tables,
        "clean": plan.clean,
        "create": plan.create,
        "jobs": plan.jobs,
        "dry_run": dry_run,
        "steps": list(plan.steps),
    }
