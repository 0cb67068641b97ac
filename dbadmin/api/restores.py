"""``restore`` from Python: a backup from a directory or a store into a database, checksum
first, refusing non-empty targets, row counts compared with the manifest afterwards."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbadmin.api.target import Confirm, Notice, ask, settings_for

if TYPE_CHECKING:
    from dbadmin.backup.manifest import BackupEntry
    from dbadmin.backup.restore import RestorePlan, RestoreResult
    from dbadmin.settings import Settings


@dataclass(frozen=True)
class RestoreReport:
    """The plan (what was, or with ``dry_run`` would be, done) and the result of running it
    (``None`` for a dry run). ``ok`` is False when row counts differ from the manifest."""

    plan: RestorePlan
    result: RestoreResult | None
    dry_run: bool
    path: str  # where the backup's data is (its URL when it came from a store)

    @property
    def ok(self) -> bool:
        return self.result is None or self.result.ok

    def as_dict(self) -> dict[str, Any]:
        plan = self.plan
        doc: dict[str, Any] = {
            "backup": plan.entry.name,
            "path": self.path,
            "target": plan.target.masked(),
            "target_exists": plan.target_exists,
            "target_tables": plan.target_tables,
            "clean": plan.clean,
            "create": plan.create,
            "jobs": plan.jobs,
            "dry_run": self.dry_run,
            "steps": list(plan.steps),
        }
        result = self.result
        if result is not None:
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
        return doc


@dataclass(frozen=True)
class _Request:
    settings: Settings
    target_url: str | None
    clean: bool
    create: bool
    jobs: int
    thorough: bool
    dry_run: bool
    pg_bin: str | None
    allow_relay: bool
    timeout: float | None
    confirm: Confirm | None
    notice: Notice | None
    working: Working | None = None


# entered around the restore itself (after the confirmation): the CLI draws a progress line
Working = Callable[[str], AbstractContextManager[object]]


def on_configured_server(target_url: str | None) -> bool:
    """No target URL, or a bare database name (no scheme, no key=value): the target is on the
    configured server. The embedded server listens on a Unix socket only, so a name is how its
    other databases are reached (`postgresql://localhost/app_copy` would go to TCP port 5432).
    Anything with a scheme, a host or key=value pairs is a URL (`localhost/app` is refused as one)."""
    return target_url is None or re.fullmatch(r"[^\s/:@=?#]+", target_url) is not None


def restore(
    target: Settings | str | None = None,
    backup_ref: str | None = None,
    *,
    target_url: str | None = None,
    clean: bool = False,
    create: bool = False,
    jobs: int = 1,
    thorough: bool = False,
    dry_run: bool = False,
    directory: str | Path | None = None,
    endpoint_url: str | None = None,
    pg_bin: str | None = None,
    allow_relay: bool = True,
    timeout: float | None = None,
    confirm: Confirm | None = None,
    notice: Notice | None = None,
    working: Working | None = None,
) -> RestoreReport:
    """Restore ``backup_ref`` (a name in the backup location or a path; default the newest)
    into ``target_url`` (a URL, or a bare database name on the configured server; default: the
    configured database's direct URL). ``confirm`` is asked
    with the target database's name to type. Raises ``UsageError`` (target has tables without
    ``clean``), ``CorruptBackup``, ``ExternalToolError`` (pg_restore failed)."""
    from dbadmin.backup.crypto import load_key
    from dbadmin.backup.remote import fetched, locate
    from dbadmin.backup.store import backup_location
    from dbadmin.urls import DbUrl

    if not on_configured_server(target_url):
        DbUrl.parse(str(target_url))  # a bad URL is a usage error before anything starts
    # the backup is found (or not: exit 2) before the embedded server is started for it
    settings = settings_for(target, need_server=False)
    found = locate(backup_location(directory, settings, endpoint_url), backup_ref)
    settings = settings_for(target, need_server=on_configured_server(target_url))
    request = _Request(
        settings, target_url, clean, create, jobs, thorough, dry_run, pg_bin, allow_relay,
        timeout, confirm, notice, working,
    )  # fmt: skip
    if not isinstance(found, tuple):
        return _restore_entry(found, request)
    store, stored = found
    shown = store.url_of(stored.entry.manifest.data)
    if stored.entry.manifest.format == "plain":  # streamed into psql: no temporary copy
        from dbadmin.backup.streamread import plain_opener

        opener = plain_opener(store, stored, load_key(settings.env))
        return _restore_entry(stored.entry, request, shown, opener)
    with fetched(store, stored, load_key(settings.env)) as entry:  # sha256 checked, decrypted
        return _restore_entry(entry, request, shown)


def _restore_entry(
    entry: BackupEntry,
    request: _Request,
    shown: str | None = None,  # the backup's URL when it was fetched from a store
    opener: Any = None,  # a plain backup streamed from a store (backup.streamread)
) -> RestoreReport:
    from dbadmin.backup.restore import execute_restore, plan_restore
    from dbadmin.deadline import optional
    from dbadmin.urls import DbUrl

    if request.target_url is None:
        target = None
    elif on_configured_server(request.target_url):  # a bare database name
        target = request.settings.direct_url.with_database(request.target_url)
    else:
        target = DbUrl.parse(request.target_url).secure()
    plan = plan_restore(
        request.settings,
        entry,
        target_url=target,
        clean=request.clean,
        create=request.create,
        jobs=request.jobs,
        thorough=request.thorough,
        pg_bin=request.pg_bin,
        checksums_verified=opener is not None,  # checked while streaming, before the COMMIT
    )
    if opener is not None:
        streamed = "sha256 checked while streaming; COMMIT only after the whole object matched"
        plan = replace(plan, open_data=opener, steps=(streamed, *plan.steps[1:]))
    path = shown or str(plan.entry.data_path)
    if request.dry_run:
        return RestoreReport(plan, None, True, path)
    action = f"restore backup {entry.name} into {plan.target.describe()}"
    if plan.target_tables:
        action += f", replacing objects among its {plan.target_tables} tables/views (--clean)"
    ask(request.confirm, action, typed=plan.target.database)
    message = f"restoring {entry.name} into {plan.target.describe()}"
    with request.working(message) if request.working else nullcontext():
        result = execute_restore(
            request.settings,
            plan,
            pg_bin=request.pg_bin,
            allow_relay=request.allow_relay,
            notice=request.notice,
            deadline=optional(request.timeout),
        )
    return RestoreReport(plan, result, False, path)
