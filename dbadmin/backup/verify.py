"""`dbadmin backup verify`: is this backup still the bytes pg_dump wrote, and does it restore?

Levels: (0) the manifest itself passed its digest and names only its own files (checked when it
is read, :mod:`dbadmin.backup.trust`); (1) sha256 of every file against the manifest, plus size,
and nothing but regular files (no symbolic link out of the backup); (2) ``pg_restore --list``
reads the archive's table of contents (custom/directory), or for plain SQL the script is read
for its header, its "dump complete" trailer and its COPY statements; either way every table with
data in the archive must have a row count in the manifest and every counted table must be in the
archive (an edited manifest cannot make a restore skip a table's check); (3) with
``restore_test``, a restore into a scratch database that dbadmin creates and drops, comparing
every table's row count with the manifest.
The outcome is recorded in the manifest (atomic rewrite under the directory lock, so a
concurrent prune cannot delete the backup while its manifest is rewritten, nor the rewrite bring
back a pruned manifest), and ``backup list`` shows it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from dbadmin.backup.databases import create_database, create_role, drop_database
from dbadmin.backup.integrity import (
    Check,
    checksum_problems,
    content_checks,
    manifest_check,
)
from dbadmin.backup.manifest import (
    BackupEntry,
    BackupLocked,
    BackupWriteError,
    CorruptBackup,
    directory_lock,
    load_document,
    now_utc,
    write_json_atomic,
)
from dbadmin.backup.restore import (
    RestorePlan,
    RestoreResult,
    compare_counts,
    execute_restore,
    plan_restore,
)
from dbadmin.backup.runner import Notice
from dbadmin.backup.trust import seal
from dbadmin.errors import ConfigError, ExternalToolError
from dbadmin.urls import DbUrl

if TYPE_CHECKING:
    from dbadmin.settings import Settings

# how long recording the outcome waits for another run's directory lock (a prune deleting, a
# backup writing); past that the outcome is reported but not written into the manifest
RECORD_LOCK_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class VerifyResult:
    name: str
    checks: tuple[Check, ...]
    problems: tuple[str, ...]
    row_counts: dict[str, int] = field(default_factory=dict)
    scratch_database: str | None = None
    recorded: bool = False  # the outcome was written into the manifest

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def restore_tested(self) -> bool:
        return any(c.name == "restore-test" for c in self.checks)


def verify_backup(
    settings: Settings,
    entry: BackupEntry,
    *,
    restore_test: bool = False,
    scratch_url: DbUrl | None = None,
    pg_bin: str | None = None,
    allow_relay: bool = True,
    notice: Notice | None = None,
    record: bool = True,
    lock_wait: float = RECORD_LOCK_WAIT_SECONDS,
) -> VerifyResult:
    manifest = entry.manifest
    checks: list[Check] = []
    problems = checksum_problems(entry)
    checks.append(
        Check(
            "sha256",
            not problems,
            f"{len(manifest.files)} file(s) match" if not problems else "; ".join(problems),
        )
    )
    counts: dict[str, int] = {}
    scratch_name: str | None = None
    if not problems:
        content = content_checks(entry, pg_bin)
        checks += content
        problems += [c.detail for c in content if not c.ok]
    checks.append(manifest_check(entry))  # last: the checks' order is part of --json
    if restore_test and not problems:
        server = scratch_url.direct() if scratch_url else embedded_scratch_server(settings, notice)
        scratch_name = f"dbadmin_verify_{uuid.uuid4().hex[:10]}"
        scratch = server.with_database(scratch_name)
        create_database(scratch, settings, maintenance_db=server.database or "postgres")
        try:
            plan = plan_restore(
                settings,
                entry,
                target_url=scratch,
                clean=False,
                create=False,
                checksums_verified=True,  # the sha256 check above passed a moment ago
                thorough=True,  # the point of the test: count(*) every table
                analyze=False,  # the scratch database is dropped right after
            )
            try:
                restored = _restore_creating_roles(
                    settings, plan, server, pg_bin, allow_relay, notice, roles=scratch_url is None
                )
            except ExternalToolError as exc:
                checks.append(Check("restore-test", False, exc.one_line()))
                problems.append(f"restore into scratch database failed: {exc.what}")
            else:
                counts = restored.row_counts
                mismatches = compare_counts(manifest.row_counts, counts)
                checks.append(
                    Check(
                        "restore-test",
                        not mismatches,
                        f"{len(counts)} tables restored, row counts match the manifest"
                        if not mismatches
                        else "; ".join(mismatches),
                    )
                )
                problems += [f"row count {m}" for m in mismatches]
        finally:
            drop_database(scratch, settings, maintenance_db=server.database or "postgres")
    result = VerifyResult(manifest.name, tuple(checks), tuple(problems), counts, scratch_name)
    if record:
        recorded = record_verification(entry, result, notice=notice, lock_wait=lock_wait)
        result = replace(result, recorded=recorded)
    return result


_MISSING_ROLE = re.compile(r'role "((?:[^"]|"")+)" does not exist')
MAX_CREATED_ROLES = 50


def _restore_creating_roles(
    settings: Settings,
    plan: RestorePlan,
    server: DbUrl,
    pg_bin: str | None,
    allow_relay: bool,
    notice: Notice | None,
    *,
    roles: bool,
) -> RestoreResult:
    """The restore test's restore. A backup names roles (policies ``TO app_user``, the app
    schema's RLS) that exist on its own server, not on the embedded scratch server: with
    ``roles``, each one the restore stops at is created there (NOLOGIN, no privileges) and the
    restore, which rolled back whole (one transaction), runs again. A ``--scratch-url`` server is
    the user's: nothing is created on it."""
    created = 0
    while True:
        try:
            return execute_restore(
                settings, plan, pg_bin=pg_bin, allow_relay=allow_relay, notice=notice
            )
        except ExternalToolError as exc:
            missing = _MISSING_ROLE.search(exc.what) if roles else None
            if missing is None or created >= MAX_CREATED_ROLES:
                raise
            role = missing[1].replace('""', '"')
            create_role(server, settings, role, maintenance_db=server.database or "postgres")
            created += 1
            if notice:
                notice(f'role "{role}" created (NOLOGIN) on the embedded scratch server')


def embedded_scratch_server(settings: Settings, notice: Notice | None = None) -> DbUrl:
    """The default home of a restore test: the embedded PostgreSQL (18) in ``settings.home``,
    started when needed, so a restore test never creates databases on the real server unless
    ``--scratch-url`` asks for it."""
    from dbadmin.local import embedded_cluster, embedded_url

    started = embedded_cluster(settings.home).ensure_running()
    if notice:
        notice(
            f"restore test on the embedded PostgreSQL in {settings.home} "
            f"({'started' if started else 'running'}); --scratch-url URL picks another server"
        )
    return embedded_url(settings.home)


def verification_record(result: VerifyResult) -> dict[str, Any]:
    """The manifest's ``verification`` section for an outcome."""
    return {
        "at": now_utc().isoformat(),
        "ok": result.ok,
        "restore_test": result.restore_tested,
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in result.checks],
    }


def record_verification(
    entry: BackupEntry,
    result: VerifyResult,
    *,
    notice: Notice | None = None,
    lock_wait: float = RECORD_LOCK_WAIT_SECONDS,
) -> bool:
    """Rewrite the manifest (atomically, holding the directory lock) with the outcome, sealed by
    its digest; data files are not touched. False (with a notice) when another run kept the lock
    for longer than ``lock_wait`` seconds, or the backup was pruned meanwhile, or its manifest no
    longer passes its digest (rewriting it would launder the damage): then nothing is written."""
    man_file = entry.manifest_file
    try:
        with directory_lock(man_file.parent, "verify", wait=lock_wait, private=False):
            if not man_file.is_file():
                if notice:
                    notice(f"verification not recorded: {man_file} was removed meanwhile (pruned)")
                return False
            try:
                doc, _sealed = load_document(man_file)
            except CorruptBackup as exc:
                if notice:
                    notice(f"verification not recorded: {exc.what}")
                return False
            doc["verification"] = verification_record(result)
            write_json_atomic(man_file, seal(doc))
    except BackupLocked:
        if notice:
            notice(
                f"verification not recorded in {man_file}: another dbadmin run held the lock on "
                f"{man_file.parent} for over {lock_wait:g} s; verify again later to record it"
            )
        return False
    except ConfigError as exc:  # the lock file cannot be created: the manifest cannot be either
        raise BackupWriteError(
            f"cannot record the verification in {man_file}: {exc.what}",
            "check free space and permissions of the backup directory",
        ) from None
    return True
