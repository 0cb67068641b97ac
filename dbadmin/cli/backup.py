"""`dbadmin backup` (create, list, verify, prune) and `dbadmin restore`.

`dbadmin backup [OPTIONS]` is `dbadmin backup create [OPTIONS]` (a default-subcommand group,
dbadmin.cli.groups), so cron lines stay short. Exit codes: 0 ok; 1 corrupt backup (a
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
    print_table,
    progress_status,
)
from dbadmin.cli.groups import default_group
from dbadmin.cli.options import (
    BackupYesOpt,
    CompressOpt,
    DatabaseUrlOpt,
    DirOpt,
    Duration,
    EncryptOpt,
    EndpointOpt,
    ExcludeOpt,
    FormatOpt,
    JobsOpt,
    JsonOpt,
    NameOpt,
    NoRelayOpt,
    PgBinOpt,
    SchemaOnlyOpt,
    TimeoutOpt,
    WideOpt,
    YesOpt,
)
from dbadmin.cli.restore import restore

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dbadmin.backup.create import BackupResult
    from dbadmin.backup.manifest import BackupManifest

app = typer.Typer(
    cls=default_group("create", ignored=frozenset({"yes"})),  # --yes: a backup never asks
    help="Verified, atomic pg_dump backups with manifests; `dbadmin backup` alone = create.\n\n"
    "Example: dbadmin backup --format custom && dbadmin backup verify --latest",
    invoke_without_command=True,
    no_args_is_help=False,
)


# --- create --------------------------------------------------------------------------------------
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
    from dbadmin import api

    settings = get_settings(ctx, database_url)
    with progress_status(not json_output) as on_progress:
        run = api.backup(
            settings,
            format=fmt,
            jobs=jobs,
            compress=compress,
            directory=directory,
            name=name,
            schema_only=schema_only,
            exclude_tables=tuple(exclude_table or ()),
            pg_bin=pg_bin,
            allow_relay=not no_relay,
            timeout=timeout,
            endpoint_url=endpoint_url,
            encrypt=encrypt,
            notice=notice,
            on_progress=on_progress,
        )
    if json_output:
        print_json(run.as_dict())
        return
    _print_summary(run.result)


def _statistics_line(m: BackupManifest) -> str:
    if not m.statistics:
        return "not included (pg_dump 18+ with custom/directory format carries them)"
    if not m.stale_statistics:
        return "included, all current"
    return f"included; stale on the source, re-analyzed on restore: {len(m.stale_statistics)}"


def _print_summary(result: BackupResult) -> None:
    from dbadmin.render import human_bytes, key_value_table

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
        ("tables / rows", f"{len(m.row_counts):,} / {sum(m.row_counts.values()):,}"),
        ("planner statistics", _statistics_line(m)),
        ("duration", f"{m.duration_seconds:.1f} s"),
    ]  # fmt: skip
    print_table(key_value_table("Backup complete", rows))


# --- list ----------------------------------------------------------------------------------------
def print_backup_table(where: str, rows: Sequence[tuple[str, ...]], *, wide: bool = False) -> None:
    """Backup names are copied into `restore`/`verify`: never wrapped or cut."""
    from dbadmin.render import fit_table, key_col, num_col, text_col

    columns = (key_col("name"), key_col("finished", 2), num_col("size"), key_col("format", 3),
               key_col("revision", 4), text_col("verified", min_width=8))  # fmt: skip
    print_table(fit_table(f"Backups in {where}", columns, rows, wide=wide, wide_hint=True))


@app.command("list")
@handle_errors
def list_backups(
    ctx: typer.Context,
    directory: DirOpt = None,
    endpoint_url: EndpointOpt = None,
    json_output: JsonOpt = False,
    wide: WideOpt = False,
) -> None:
    """List complete backups (newest first), corrupt ones, and leftovers of unfinished runs.

    A corrupt backup (its manifest fails its digest, names files outside its own, or its data
    is missing) is listed as CORRUPT with the reason on stderr; verify, restore and prune refuse
    it (exit 1).

    Example: dbadmin backup list --json
    """
    from dbadmin import api
    from dbadmin.render import human_bytes

    found = api.list_backups(
        get_settings(ctx, need_server=False), directory=directory, endpoint_url=endpoint_url
    )
    if json_output:
        print_json(found.as_dict())
        return
    if found.catalog is None:
        from dbadmin.cli.backup_store import list_store

        return list_store(found, wide=wide)
    catalog = found.catalog
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
    print_backup_table(str(catalog.directory), rows, wide=wide)
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
    from dbadmin import api
    from dbadmin.errors import UsageError

    if name is None and not latest:
        raise UsageError("name a backup or pass --latest", "see `dbadmin backup list`")
    from dbadmin.cli.progress import working

    doing = "restore-testing" if restore_test else "verifying"
    with working(f"{doing} backup {name or 'latest'}"):
        report = api.verify(
            get_settings(ctx, database_url, need_server=False),
            name,
            latest=latest,
            restore_test=restore_test,
            scratch_url=scratch_url,
            directory=directory,
            endpoint_url=endpoint_url,
            pg_bin=pg_bin,
            allow_relay=not no_relay,
            notice=notice,
        )
    result = report.result
    if json_output:
        print_json(report.as_dict())
    else:
        from dbadmin.render import fit_table, key_col, styled_status, text_col

        rows = [(c.name, styled_status("ok" if c.ok else "fail"), c.detail) for c in result.checks]
        print_table(
            fit_table(
                f"Verify {result.name}",
                (key_col("check"), key_col("status"), text_col("detail")),
                rows,
            )
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
            click_type=Duration(allow_zero=True),
            help="How long to wait for the directory lock another run holds, then exit 1 (a "
            "bare number is seconds).",
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
    from dbadmin import api
    from dbadmin.render import human_bytes

    report = api.prune(
        get_settings(ctx, need_server=False),
        keep=keep,
        keep_days=keep_days,
        dry_run=dry_run,
        wait=wait,
        directory=directory,
        endpoint_url=endpoint_url,
        confirm=partial(confirm, yes=yes),
        notice=notice,
    )
    plan = report.plan
    if plan.leftovers_note:
        notice(plan.leftovers_note)
    verb = "would delete" if dry_run else "deleted"
    if json_output:
        print_json(report.as_dict())
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
