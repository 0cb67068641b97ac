"""`dbadmin backup` (create, list, verify, prune) and `dbadmin restore`.

`dbadmin backup [OPTIONS]` is `dbadmin backup create [OPTIONS]` (a group callback with
``invoke_without_command``), so cron lines stay short. Exit codes: 0 ok; 1 corrupt backup (a
file changed, or a manifest that fails its digest, names files outside its own, lacks a table's
row count, or whose data is missing), row-count mismatch, or another run holds the directory
lock (nothing done); 2 usage (bad flag,
target has tables without --clean, --no-relay when only a relay would work); 3 cannot connect;
5 pg_dump/pg_restore failed or a backup file could not be written (disk full, file size limit).

Options given to the group before a subcommand (``dbadmin backup --dir /srv/bk prune ...``)
apply to that subcommand when it has them (its own value wins); create-only options there
(``--format`` before ``list``) are a usage error (exit 2), never silently dropped.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dbadmin.cli.backup_options import (
    BackupYesOpt,
    CompressOpt,
    DirOpt,
    EncryptOpt,
    EndpointOpt,
    ExcludeOpt,
    FormatOpt,
    JobsOpt,
    NameOpt,
    NoRelayOpt,
    PgBinOpt,
    SchemaOnlyOpt,
    TimeoutOpt,
)
from dbadmin.cli.common import (
    DatabaseUrlOpt,
    JsonOpt,
    YesOpt,
    carry_group_options,
    confirm,
    err_console,
    fail,
    get_settings,
    handle_errors,
    notice,
    out_console,
    print_json,
    stdout_is_terminal,
)
from dbadmin.cli.restore import restore

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dbadmin.backup.create import BackupResult
    from dbadmin.backup.manifest import BackupEntry, BackupManifest
    from dbadmin.settings import Settings

app = typer.Typer(
    help="Verified, atomic pg_dump backups with manifests; `dbadmin backup` alone = create.\n\n"
    "Example: dbadmin backup --format custom && dbadmin backup verify --latest",
    invoke_without_command=True,
    no_args_is_help=False,
)


# --- create --------------------------------------------------------------------------------------
@app.callback()
@handle_errors
def backup(
    ctx: typer.Context,
    database_url: DatabaseUrlOpt = None,
    fmt: FormatOpt = "custom",
    jobs: JobsOpt = 1,
    compress: CompressOpt = None,
    directory: DirOpt = None,
    name: NameOpt = None,
    schema_only: SchemaOnlyOpt = False,
    exclude_table: ExcludeOpt = None,
    pg_bin: PgBinOpt = None,
    no_relay: NoRelayOpt = False,
    timeout: TimeoutOpt = None,
    endpoint_url: EndpointOpt = None,
    encrypt: EncryptOpt = False,
    yes: BackupYesOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Take a backup (same as `backup create`); subcommands list, verify and prune backups.

    Example: dbadmin backup --format custom --json
    """
    if ctx.invoked_subcommand is not None:
        carry_group_options(
            ctx, default_command="create", default_only=CREATE_ONLY, ignored=frozenset({"yes"})
        )  # --yes: "a backup never asks", and neither do list and verify
        return
    _create(
        ctx, database_url, fmt, jobs, compress, directory, name, schema_only,
        exclude_table, pg_bin, no_relay, timeout, json_output, endpoint_url, encrypt,
    )  # fmt: skip


# options only `backup create` has (the group passes the others on to its subcommands)
CREATE_ONLY = frozenset(
    {"fmt", "jobs", "compress", "name", "schema_only", "exclude_table", "timeout", "encrypt"}
)


@app.command("create")
@handle_errors
def create(
    ctx: typer.Context,
    database_url: DatabaseUrlOpt = None,
    fmt: FormatOpt = "custom",
    jobs: JobsOpt = 1,
    compress: CompressOpt = None,
    directory: DirOpt = None,
    name: NameOpt = None,
    schema_only: SchemaOnlyOpt = False,
    exclude_table: ExcludeOpt = None,
    pg_bin: PgBinOpt = None,
    no_relay: NoRelayOpt = False,
    timeout: TimeoutOpt = None,
    endpoint_url: EndpointOpt = None,
    encrypt: EncryptOpt = False,
    yes: BackupYesOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Dump the database (direct URL) into a checksummed, atomically written backup.

    Writes NAME.dump / NAME/ / NAME.sql plus NAME.manifest.json (sha256, sizes, versions,
    Alembic revision, exact row counts from the dump's own snapshot). A second run into the
    same directory while one runs exits 1 at once ("another dbadmin run holds the lock").

    Example: dbadmin backup create --format directory --jobs 2 --dir /var/backups/app
    """
    _create(
        ctx, database_url, fmt, jobs, compress, directory, name, schema_only,
        exclude_table, pg_bin, no_relay, timeout, json_output, endpoint_url, encrypt,
    )  # fmt: skip


def _create(
    ctx: typer.Context,
    database_url: str | None,
    fmt: str,
    jobs: int,
    compress: str | None,
    directory: str | None,
    name: str | None,
    schema_only: bool,
    exclude_table: list[str] | None,
    pg_bin: str | None,
    no_relay: bool,
    timeout: str | None,
    json_output: bool,
    endpoint_url: str | None = None,
    encrypt: bool = False,
) -> None:
    from dbadmin.backup.create import BackupOptions
    from dbadmin.durations import parse_duration

    seconds = parse_duration(timeout, "--timeout") if timeout is not None else None
    settings = get_settings(ctx, database_url)
    options = BackupOptions(
        format=fmt,
        jobs=jobs,
        compress=compress,
        directory=directory,
        name=name,
        schema_only=schema_only,
        exclude_tables=tuple(exclude_table or ()),
        pg_bin=pg_bin,
        allow_relay=not no_relay,
        timeout=seconds,
        endpoint_url=endpoint_url,
        encrypt=encrypt,
    )
    result = run_backup(settings, options, show_progress=stdout_is_terminal() and not json_output)
    if json_output:
        print_json(backup_document(result))
        return
    _print_summary(result)


def run_backup(settings: Settings, options: Any, *, show_progress: bool) -> BackupResult:
    """Run :func:`create_backup` with progress on stderr (terminal only). Used by migrate too."""
    from dbadmin.backup.create import create_backup
    from dbadmin.render import human_bytes

    if not show_progress:
        return create_backup(settings, options, notice=notice)
    console = err_console()
    with console.status("pg_dump starting…") as status:

        def progress(written: int, elapsed: float) -> None:
            status.update(f"pg_dump: {human_bytes(written)} written, {elapsed:.0f} s")

        return create_backup(settings, options, notice=notice, on_progress=progress)


def backup_before_migration(settings: Settings, *, json_output: bool = False) -> BackupResult:
    """`migrate up --backup`: a default (custom-format) backup first; a failure stops the
    migration before anything changed. Notices go to stderr so --json stays one document."""
    from dbadmin.backup.create import BackupOptions

    result = run_backup(
        settings, BackupOptions(), show_progress=stdout_is_terminal() and not json_output
    )
    notice(
        f"backup {result.manifest.name} taken before migrating ({result.data_path}, revision "
        f"{result.manifest.alembic_revision or 'none'})"
    )
    return result


def backup_document(result: BackupResult) -> dict[str, Any]:
    doc = result.manifest.to_dict()
    return {
        "name": result.manifest.name,
        "path": str(result.data_path),
        "manifest_path": str(result.manifest_file),
        "pg_dump": result.binary,
        "relayed": result.relayed,
        "manifest": doc,
    }


def _statistics_line(m: BackupManifest) -> str:
    if not m.statistics:
        return "not included (pg_dump 18+ with custom/directory format carries them)"
    if not m.stale_statistics:
        return "included, all current"
    return f"included; stale on the source, re-analyzed on restore: {len(m.stale_statistics)}"


def _print_summary(result: BackupResult) -> None:
    from dbadmin.render import human_bytes, simple_table

    m = result.manifest
    rows = [
        ("backup", m.name),
        ("path", str(result.data_path)),
        ("format", f"{m.format} (compression {m.compression})"),
        ("size", human_bytes(m.size_bytes)),
        ("sha256", m.sha256),
        ("database", m.database),
        ("server", m.server_version),
        ("pg_dump", f"{m.pg_dump_version} {m.pg_dump_path}" + (" via TLS relay" if m.relayed else "")),
        ("alembic revision", m.alembic_revision or "-"),
        ("tables / rows", f"{len(m.row_counts)} / {sum(m.row_counts.values())}"),
        ("planner statistics", _statistics_line(m)),
        ("duration", f"{m.duration_seconds:.1f} s"),
    ]  # fmt: skip
    out_console().print(simple_table("Backup complete", ["", "value"], rows))


# --- list ----------------------------------------------------------------------------------------
def entry_document(entry: BackupEntry) -> dict[str, Any]:
    m = entry.manifest
    return {
        "name": m.name,
        "finished_at": m.finished_at,
        "size_bytes": m.size_bytes,
        "format": m.format,
        "alembic_revision": m.alembic_revision,
        "verified": entry.verified,
        "verification": m.verification,
        "sha256": m.sha256,
        "path": str(entry.data_path),
        "database": m.database,
        "server_version": m.server_version,
        "pg_dump_version": m.pg_dump_version,
    }


def print_backup_table(where: str, rows: Sequence[tuple[str, ...]]) -> None:
    from dbadmin.render import simple_table

    out_console().print(
        simple_table(
            f"Backups in {where}",
            ["name", "finished", "size", "format", "revision", "verified"],
            rows,
            numeric=["size"],
        )
    )


@app.command("list")
@handle_errors
def list_backups(
    ctx: typer.Context,
    directory: DirOpt = None,
    endpoint_url: EndpointOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """List complete backups (newest first), corrupt ones, and leftovers of unfinished runs.

    A corrupt backup (its manifest fails its digest, names files outside its own, or its data
    is missing) is listed as CORRUPT with the reason on stderr; verify, restore and prune refuse
    it (exit 1).

    Example: dbadmin backup list --json
    """
    from dbadmin.backup.manifest import scan
    from dbadmin.backup.store import backup_location
    from dbadmin.render import human_bytes

    settings = get_settings(ctx, need_server=False)
    where = backup_location(directory, settings, endpoint_url)
    if not isinstance(where, Path):
        from dbadmin.cli.backup_store import list_store

        return list_store(where, json_output)
    catalog = scan(where)
    if json_output:
        print_json(
            {
                "directory": str(catalog.directory),
                "backups": [entry_document(e) for e in catalog.backups],
                "leftovers": [
                    {"path": str(x.path), "size_bytes": x.size_bytes, "reason": x.reason}
                    for x in catalog.leftovers
                ],
                "corrupt": [
                    {"name": c.name, "manifest_path": str(c.manifest_file), "reason": c.reason}
                    for c in catalog.corrupt
                ],
            }
        )
        return
    rows = [
        (
            e.name,
            e.finished.strftime("%Y-%m-%d %H:%M:%S UTC"),
            human_bytes(e.manifest.size_bytes),
            e.manifest.format,
            e.manifest.alembic_revision or "-",
            e.verified,
        )
        for e in catalog.backups
    ]
    rows += [(c.name, "-", "-", "-", "-", "CORRUPT") for c in catalog.corrupt]
    print_backup_table(str(catalog.directory), rows)
    for leftover in catalog.leftovers:
        notice(f"leftover {leftover.path} ({leftover.reason}); `dbadmin backup prune` removes it")
    for broken in catalog.corrupt:
        notice(f"{broken.reason} (verify, restore and prune refuse it)")


# --- verify --------------------------------------------------------------------------------------
@app.command("verify")
@handle_errors
def verify(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(help="Backup name or path.", show_default=False)
    ] = None,
    latest: Annotated[bool, typer.Option("--latest", help="Verify the newest backup.")] = False,
    restore_test: Annotated[
        bool,
        typer.Option(
            "--restore-test", help="Also restore into a scratch database and compare row counts."
        ),
    ] = False,
    scratch_url: Annotated[
        str | None,
        typer.Option(
            "--scratch-url",
            help="Server for the scratch database (default: the embedded PostgreSQL in "
            "$DBADMIN_HOME, started when needed); its database is the maintenance database.",
            show_default=False,
        ),
    ] = None,
    directory: DirOpt = None,
    endpoint_url: EndpointOpt = None,
    database_url: DatabaseUrlOpt = None,
    pg_bin: PgBinOpt = None,
    no_relay: NoRelayOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Check sha256 and `pg_restore --list`; optionally a real restore test. Exit 1 on a mismatch.

    Records the outcome in the manifest (shown by `backup list`).

    Example: dbadmin backup verify --latest --restore-test
    """
    from dbadmin.backup.remote import locate, verify_stored
    from dbadmin.backup.store import backup_location
    from dbadmin.backup.verify import verify_backup
    from dbadmin.errors import UsageError
    from dbadmin.urls import DbUrl

    if name is None and not latest:
        raise UsageError("name a backup or pass --latest", "see `dbadmin backup list`")
    settings = get_settings(ctx, database_url, need_server=False)
    found = locate(backup_location(directory, settings, endpoint_url), name, latest=latest)
    scratch = DbUrl.parse(scratch_url).secure() if scratch_url else None
    if isinstance(found, tuple):
        from dbadmin.backup.crypto import load_key

        run: Any = partial(verify_stored, settings, *found, key=load_key(settings.env))
    else:
        run = partial(verify_backup, settings, found)
    result = run(
        restore_test=restore_test,
        scratch_url=scratch,
        pg_bin=pg_bin,
        allow_relay=not no_relay,
        notice=notice,
    )
    if json_output:
        print_json(
            {
                "name": result.name,
                "ok": result.ok,
                "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in result.checks],
                "problems": list(result.problems),
                "row_counts": result.row_counts,
            }
        )
    else:
        from dbadmin.render import simple_table, styled_status

        rows = [(c.name, styled_status("ok" if c.ok else "fail"), c.detail) for c in result.checks]
        out_console().print(
            simple_table(f"Verify {result.name}", ["check", "status", "detail"], rows)
        )
    if not result.ok:
        raise fail(f"backup {result.name} is NOT sound: {result.problems[0]}", 1)


# --- prune ---------------------------------------------------------------------------------------
@app.command("prune")
@handle_errors
def prune_cmd(
    ctx: typer.Context,
    keep: Annotated[
        int | None,
        typer.Option("--keep", min=0, help="Keep the newest N backups.", show_default=False),
    ] = None,
    keep_days: Annotated[
        float | None,
        typer.Option(
            "--keep-days", min=0, help="Keep backups younger than D days.", show_default=False
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show, delete nothing.")] = False,
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            min=0,
            help="Seconds to wait for the directory lock another run holds, then exit 1.",
        ),
    ] = 2.0,
    directory: DirOpt = None,
    endpoint_url: EndpointOpt = None,
    yes: YesOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Delete old backups by count/age (never the newest one) and leftover temporaries.

    Holds the directory's lock (the one a running backup holds): waits --wait seconds for it,
    then exits 1 with nothing done. A directory holding a corrupt backup is not pruned (exit 1).

    Example: dbadmin backup prune --keep 7 --keep-days 7 --yes
    """
    from dbadmin.backup.remote import prune_store
    from dbadmin.backup.retention import prune
    from dbadmin.backup.store import backup_location, open_store
    from dbadmin.render import human_bytes

    settings = get_settings(ctx, need_server=False)
    folder = backup_location(directory, settings, endpoint_url)
    run_prune: Any = (
        partial(prune, folder)
        if isinstance(folder, Path)
        else partial(prune_store, open_store(folder))
    )
    plan = run_prune(keep=keep, keep_days=keep_days, dry_run=True, lock_wait=wait)
    if not dry_run and (plan.delete or plan.leftovers):
        what = f"delete {len(plan.delete)} backup(s) and {len(plan.leftovers)} leftover(s)"
        for doomed in plan.delete:
            notice(f"will delete {doomed.entry.name} ({doomed.reason})")
        confirm(what + f" in {folder}", yes=yes)
        plan = run_prune(keep=keep, keep_days=keep_days, dry_run=False, lock_wait=wait)
    if plan.leftovers_note:
        notice(plan.leftovers_note)
    verb = "would delete" if dry_run else "deleted"
    if json_output:
        print_json(
            {
                "directory": str(folder),
                "dry_run": dry_run,
                "kept": [e.name for e in plan.keep],
                "deleted": [{"name": d.entry.name, "reason": d.reason} for d in plan.delete],
                "leftovers_removed": [str(x.path) for x in plan.leftovers],
                "bytes_freed": plan.bytes_freed,
            }
        )
        return
    console = out_console()
    for doomed in plan.delete:
        console.print(f"{verb} {doomed.entry.name} ({doomed.reason})", highlight=False)
    for leftover in plan.leftovers:
        console.print(f"{verb} leftover {leftover.path} ({leftover.reason})", highlight=False)
    console.print(
        f"kept {len(plan.keep)} backup(s); {verb} {len(plan.delete)} backup(s) and "
        f"{len(plan.leftovers)} leftover(s), {human_bytes(plan.bytes_freed)}",
        highlight=False,
    )


__all__ = ["app", "restore"]  # restore: a top-level command, registered by dbadmin.cli
