"""Backups from Python: ``backup``, ``list_backups``, ``verify``, ``prune`` (``restore`` is in
:mod:`dbadmin.api.restores`). A location is a directory or a store URL (``s3://...``), else
``DBADMIN_BACKUP_DIR``, else ``$DBADMIN_HOME/backups``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbadmin.api.target import Confirm, Notice, ask, say, settings_for

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from dbadmin.backup.create import BackupOptions, BackupResult
    from dbadmin.backup.manifest import BackupEntry, Catalog
    from dbadmin.backup.remote import StoreCatalog
    from dbadmin.backup.retention import PrunePlan
    from dbadmin.backup.store import BackupStore
    from dbadmin.backup.verify import VerifyResult
    from dbadmin.settings import Settings


@dataclass(frozen=True)
class BackupRun:
    """A backup taken: its manifest, where its data and manifest are, the pg_dump used."""

    result: BackupResult

    def as_dict(self) -> dict[str, Any]:
        r = self.result
        return {
            "name": r.manifest.name,
            "path": str(r.data_path),
            "manifest_path": str(r.manifest_file),
            "pg_dump": r.binary,
            "relayed": r.relayed,
            "manifest": r.manifest.to_dict(),
        }


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


@dataclass(frozen=True)
class BackupList:
    """The backups of a directory (``catalog``) or of a store (``store_catalog`` and ``store``)."""

    where: str
    catalog: Catalog | None = None
    store_catalog: StoreCatalog | None = None
    store: BackupStore | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """The complete backups' names, newest first."""
        if self.catalog is not None:
            return tuple(e.name for e in self.catalog.backups)
        assert self.store_catalog is not None
        return tuple(b.name for b in self.store_catalog.backups)

    def as_dict(self) -> dict[str, Any]:
        if self.catalog is not None:
            c = self.catalog
            return {
                "directory": str(c.directory),
                "backups": [entry_document(e) for e in c.backups],
                "leftovers": [
                    {"path": str(x.path), "size_bytes": x.size_bytes, "reason": x.reason}
                    for x in c.leftovers
                ],
                "corrupt": [
                    {"name": b.name, "manifest_path": str(b.manifest_file), "reason": b.reason}
                    for b in c.corrupt
                ],
            }
        assert self.store_catalog is not None and self.store is not None
        store, sc = self.store, self.store_catalog
        backups = []
        for found in sc.backups:
            doc = entry_document(found.entry)
            doc["path"] = store.url_of(found.entry.manifest.data)
            doc["encryption"] = found.encryption
            backups.append(doc)
        return {
            "directory": store.where,
            "backups": backups,
            "leftovers": [
                {"path": store.url_of(o.name), "size_bytes": o.size, "reason": "no manifest"}
                for o in sc.leftovers
            ],
            "unfinished_uploads": [
                {"path": store.url_of(p.name), "initiated": p.initiated.isoformat()}
                for p in sc.pending
            ],
            "corrupt": [{"name": n, "reason": r} for n, r in sc.corrupt],
        }


@dataclass(frozen=True)
class VerifyReport:
    """A backup verified: ``ok`` when every check passed (``problems`` says what did not)."""

    result: VerifyResult

    @property
    def ok(self) -> bool:
        return self.result.ok

    def as_dict(self) -> dict[str, Any]:
        r = self.result
        return {
            "name": r.name,
            "ok": r.ok,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in r.checks],
            "problems": list(r.problems),
            "row_counts": r.row_counts,
        }


@dataclass(frozen=True)
class PruneReport:
    """What a prune kept and deleted (or would delete, with ``dry_run``)."""

    directory: str
    dry_run: bool
    plan: PrunePlan

    def as_dict(self) -> dict[str, Any]:
        p = self.plan
        return {
            "directory": self.directory,
            "dry_run": self.dry_run,
            "kept": [e.name for e in p.keep],
            "deleted": [{"name": d.entry.name, "reason": d.reason} for d in p.delete],
            "leftovers_removed": [str(x.path) for x in p.leftovers],
            "bytes_freed": p.bytes_freed,
        }


def backup(
    target: Settings | str | None = None,
    *,
    format: str = "custom",
    jobs: int = 1,
    compress: str | None = None,
    directory: str | Path | None = None,
    name: str | None = None,
    schema_only: bool = False,
    exclude_tables: Sequence[str] = (),
    pg_bin: str | None = None,
    allow_relay: bool = True,
    timeout: float | None = None,
    endpoint_url: str | None = None,
    encrypt: bool = False,
    notice: Notice | None = None,
    on_progress: Callable[[int, float], None] | None = None,
) -> BackupRun:
    """Dump the database (its direct URL) into a checksummed, atomically written backup with a
    manifest. Raises ``ExternalToolError`` (pg_dump failed, disk full), ``ProblemFound`` (another
    run holds the directory's lock), ``OperationTimeout`` (``timeout`` seconds passed)."""
    from dbadmin.backup.create import BackupOptions, validate

    options = BackupOptions(
        format=format,
        jobs=jobs,
        compress=compress,
        directory=directory,
        name=name,
        schema_only=schema_only,
        exclude_tables=tuple(exclude_tables),
        pg_bin=pg_bin,
        allow_relay=allow_relay,
        timeout=timeout,
        endpoint_url=endpoint_url,
        encrypt=encrypt,
    )
    validate(options)  # --compress, --jobs, --name: usage errors before anything starts
    return _take(settings_for(target), options, notice, on_progress)


def _take(
    settings: Settings,
    options: BackupOptions,
    notice: Notice | None,
    on_progress: Callable[[int, float], None] | None,
) -> BackupRun:
    from dbadmin.backup.create import create_backup

    return BackupRun(create_backup(settings, options, notice=notice, on_progress=on_progress))


def backup_before_migration(
    target: Settings | str | None = None,
    *,
    notice: Notice | None = None,
    on_progress: Callable[[int, float], None] | None = None,
) -> BackupRun:
    """``migrate up --backup``: a default (custom-format) backup first; a failure raises, so the
    migration stops before anything changed."""
    return backup_taken_before_migration(settings_for(target), notice, on_progress)


def backup_taken_before_migration(
    settings: Settings, notice: Notice | None, on_progress: Callable[[int, float], None] | None
) -> BackupRun:
    """:func:`backup_before_migration` on settings already resolved (by ``migrate_up``)."""
    from dbadmin.backup.create import BackupOptions

    taken = _take(settings, BackupOptions(), notice, on_progress)
    r = taken.result
    say(
        notice,
        f"backup {r.manifest.name} taken before migrating ({r.data_path}, revision "
        f"{r.manifest.alembic_revision or 'none'})",
    )
    return taken


def list_backups(
    target: Settings | str | None = None,
    *,
    directory: str | Path | None = None,
    endpoint_url: str | None = None,
) -> BackupList:
    """Complete backups (newest first), corrupt ones, and leftovers of unfinished runs."""
    from dbadmin.backup.store import backup_location

    settings = settings_for(target, need_server=False)
    where = backup_location(directory, settings, endpoint_url)
    if isinstance(where, Path):
        from dbadmin.backup.manifest import scan

        _require_directory(
            where, chosen=directory is not None or "DBADMIN_BACKUP_DIR" in settings.env
        )
        catalog = scan(where)
        return BackupList(str(catalog.directory), catalog=catalog)
    from dbadmin.backup.remote import scan_store
    from dbadmin.backup.store import open_store

    store = open_store(where)
    return BackupList(store.where, store_catalog=scan_store(store), store=store)


def _require_directory(where: Path, *, chosen: bool) -> None:
    """A directory given (--dir, DBADMIN_BACKUP_DIR) that does not exist is a mistake to say,
    not an empty list; the default one is simply not made yet (no backups)."""
    from dbadmin.errors import ConfigError

    if where.exists() and not where.is_dir():
        raise ConfigError(f"{where} is not a directory", "give the backup directory with --dir")
    if chosen and not where.exists():
        raise ConfigError(
            f"backup directory {where} does not exist",
            "check --dir / DBADMIN_BACKUP_DIR (`dbadmin backup --dir DIR` creates it)",
        )


def verify(
    target: Settings | str | None = None,
    name: str | None = None,
    *,
    latest: bool = False,
    restore_test: bool = False,
    scratch_url: str | None = None,
    directory: str | Path | None = None,
    endpoint_url: str | None = None,
    pg_bin: str | None = None,
    allow_relay: bool = True,
    notice: Notice | None = None,
) -> VerifyReport:
    """Check a backup's sha256 and ``pg_restore --list`` (``restore_test``: restore it into a
    scratch database and compare row counts); records the outcome in its manifest. A corrupt
    backup is ``ok=False``; a missing one raises ``UsageError``."""
    from dbadmin.backup.remote import locate, verify_stored
    from dbadmin.backup.store import backup_location
    from dbadmin.backup.verify import verify_backup
    from dbadmin.errors import UsageError
    from dbadmin.urls import DbUrl

    if name is None and not latest:
        raise UsageError("name a backup or pass --latest", "see `dbadmin backup list`")
    settings = settings_for(target, need_server=False)
    found = locate(backup_location(directory, settings, endpoint_url), name, latest=latest)
    scratch = DbUrl.parse(scratch_url).secure() if scratch_url else None
    if isinstance(found, tuple):
        from dbadmin.backup.crypto import load_key

        run: Any = partial(verify_stored, settings, *found, key=load_key(settings.env))
    else:
        run = partial(verify_backup, settings, found)
    return VerifyReport(
        run(
            restore_test=restore_test,
            scratch_url=scratch,
            pg_bin=pg_bin,
            allow_relay=allow_relay,
            notice=notice,
        )
    )


def prune(
    target: Settings | str | None = None,
    *,
    keep: int | None = None,
    keep_days: float | None = None,
    dry_run: bool = False,
    wait: float = 2.0,
    directory: str | Path | None = None,
    endpoint_url: str | None = None,
    confirm: Confirm | None = None,
    notice: Notice | None = None,
) -> PruneReport:
    """Delete backups beyond ``keep`` newest and older than ``keep_days`` (never the newest) and
    leftover temporaries, holding the directory's lock (``wait`` seconds for it, then
    ``ProblemFound``). A directory holding a corrupt backup is refused (``CorruptBackup``)."""
    from dbadmin.backup.remote import prune_store
    from dbadmin.backup.retention import prune as prune_directory
    from dbadmin.backup.store import backup_location, open_store

    settings = settings_for(target, need_server=False)
    folder = backup_location(directory, settings, endpoint_url)
    run_prune: Any = (
        partial(prune_directory, folder)
        if isinstance(folder, Path)
        else partial(prune_store, open_store(folder))
    )
    plan = run_prune(keep=keep, keep_days=keep_days, dry_run=True, lock_wait=wait)
    if not dry_run and (plan.delete or plan.leftovers):
        what = f"delete {len(plan.delete)} backup(s) and {len(plan.leftovers)} leftover(s)"
        for doomed in plan.delete:
            say(notice, f"will delete {doomed.entry.name} ({doomed.reason})")
        ask(confirm, what + f" in {folder}")
        plan = run_prune(keep=keep, keep_days=keep_days, dry_run=False, lock_wait=wait)
    return PruneReport(str(folder), dry_run, plan)
