"""`dbadmin backup verify`: is this backup still the bytes pg_dump wrote, and does it restore?

Levels: (1) sha256 of every file against the manifest, plus size; (2) ``pg_restore --list``
reads the archive's table of contents (custom/directory), or for plain SQL a sanity check of the
script's header and "dump complete" trailer; (3) with ``restore_test``, a restore into a scratch
database that dbadmin creates and drops, comparing every table's row count with the manifest.
The outcome is recorded in the manifest (atomic rewrite under the directory lock, so a
concurrent prune cannot delete the backup while its manifest is rewritten, nor the rewrite bring
back a pruned manifest), and ``backup list`` shows it.
"""

from __future__ import annotations

import gzip
import json
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbadmin.backup.binaries import choose
from dbadmin.backup.manifest import (
    BackupEntry,
    BackupLocked,
    BackupWriteError,
    directory_lock,
    now_utc,
    sha256_file,
    write_json_atomic,
)
from dbadmin.backup.runner import Notice, pinned_path, run_tool, tool_env
from dbadmin.errors import ConfigError, DbadminError, ExternalToolError
from dbadmin.urls import DbUrl

if TYPE_CHECKING:
    from dbadmin.settings import Settings

PLAIN_HEADER = b"-- PostgreSQL database dump"
PLAIN_TRAILER = b"-- PostgreSQL database dump complete"
# how long recording the outcome waits for another run's directory lock (a prune deleting, a
# backup writing); past that the outcome is reported but not written into the manifest
RECORD_LOCK_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


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


def checksum_problems(entry: BackupEntry) -> list[str]:
    """Every file whose size or sha256 differs from the manifest (or that is missing/extra)."""
    manifest = entry.manifest
    problems: list[str] = []
    if manifest.format == "directory":
        base = entry.data_path
        present = {str(p.relative_to(base)) for p in base.rglob("*") if p.is_file()}
        for extra in sorted(present - {f.path for f in manifest.files}):
            problems.append(f"{base / extra}: not in the manifest")
    else:
        base = entry.data_path.parent
    for item in manifest.files:
        path = base / item.path
        if not path.is_file():
            problems.append(f"{path}: missing")
            continue
        size = path.stat().st_size
        if size != item.size:
            problems.append(f"{path}: size {size} bytes, manifest says {item.size}")
            continue
        if sha256_file(path) != item.sha256:
            problems.append(f"{path}: sha256 mismatch (file changed since the backup)")
    return problems


def plain_sanity(path: Path) -> str | None:
    """A problem with a plain SQL script's header/trailer, or None."""
    opener: Any = gzip.open if path.name.endswith(".gz") else open
    if path.name.endswith((".zst", ".lz4")):
        return None  # no decompressor in the standard library: checksum only
    with opener(path, "rb") as handle:
        head = handle.read(4096)
        if PLAIN_HEADER not in head:
            return f"{path}: does not start like a pg_dump SQL script"
        tail = b""
        while chunk := handle.read(1024 * 1024):
            tail = (tail + chunk)[-8192:]
        tail = (head + tail)[-8192:] if len(tail) < 8192 else tail
    if PLAIN_TRAILER not in tail:
        return f"{path}: no 'dump complete' trailer (truncated script)"
    return None


def toc_check(entry: BackupEntry, pg_bin: str | None) -> Check:
    """``pg_restore --list`` of a custom/directory archive (no connection needed)."""
    manifest = entry.manifest
    choice = choose(
        max(manifest.pg_dump_major, 1), False, "pg_restore", pinned_path(pg_bin, "pg_restore")
    )
    if choice.binary is None:
        raise ExternalToolError(
            f"no pg_restore able to read a pg_dump {manifest.pg_dump_version} archive: "
            f"{choice.reason}",
            "install PostgreSQL client tools of that version or newer, or pass --pg-bin",
        )
    argv = [str(choice.binary.path), "--list", str(entry.data_path)]
    env = tool_env(DbUrl())
    result = run_tool(argv, env)
    if result.returncode != 0:
        detail = "; ".join(result.stderr_tail[-2:]) or f"exit {result.returncode}"
        return Check("pg_restore --list", False, f"{entry.data_path}: {detail}")
    return Check("pg_restore --list", True, f"table of contents readable ({choice.binary.version})")


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
    from dbadmin.backup.restore import (
        compare_counts,
        create_database,
        drop_database,
        execute_restore,
        plan_restore,
    )

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
        if manifest.format == "plain":
            issue = plain_sanity(entry.data_path)
            checks.append(Check("sql header/trailer", issue is None, issue or "looks complete"))
        else:
            checks.append(toc_check(entry, pg_bin))
        problems += [c.detail for c in checks[1:] if not c.ok]
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
                result = execute_restore(
                    settings, plan, pg_bin=pg_bin, allow_relay=allow_relay, notice=notice
                )
            except ExternalToolError as exc:
                checks.append(Check("restore-test", False, exc.one_line()))
                problems.append(f"restore into scratch database failed: {exc.what}")
            else:
                counts = result.row_counts
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


def record_verification(
    entry: BackupEntry,
    result: VerifyResult,
    *,
    notice: Notice | None = None,
    lock_wait: float = RECORD_LOCK_WAIT_SECONDS,
) -> bool:
    """Rewrite the manifest (atomically, holding the directory lock) with the outcome; data
    files are not touched. False (with a notice) when another run kept the lock for longer than
    ``lock_wait`` seconds or the backup was pruned meanwhile: the outcome is then not recorded."""
    man_file = entry.manifest_file
    try:
        with directory_lock(man_file.parent, "verify", wait=lock_wait, private=False):
            if not man_file.is_file():
                if notice:
                    notice(f"verification not recorded: {man_file} was removed meanwhile (pruned)")
                return False
            try:
                doc = json.loads(man_file.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise DbadminError(f"cannot update manifest {man_file}: {exc}") from None
            doc["verification"] = {
                "at": now_utc().isoformat(),
                "ok": result.ok,
                "restore_test": result.restore_tested,
                "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in result.checks],
            }
            write_json_atomic(man_file, doc)
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
