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

import gzip
import os
import re
import stat
import tempfile
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbadmin.backup.binaries import choose
from dbadmin.backup.manifest import (
    BackupEntry,
    BackupLocked,
    BackupWriteError,
    CorruptBackup,
    directory_lock,
    load_document,
    now_utc,
    sha256_file,
    write_json_atomic,
)
from dbadmin.backup.runner import Notice, pinned_path, run_tool, tool_env
from dbadmin.backup.trust import seal
from dbadmin.errors import ConfigError, ExternalToolError
from dbadmin.urls import DbUrl

if TYPE_CHECKING:
    from dbadmin.settings import Settings

PLAIN_HEADER = b"-- PostgreSQL database dump"
PLAIN_TRAILER = b"-- PostgreSQL database dump complete"
# how long recording the outcome waits for another run's directory lock (a prune deleting, a
# backup writing); past that the outcome is reported but not written into the manifest
RECORD_LOCK_WAIT_SECONDS = 10.0
READ_CHUNK = 1024 * 1024
COPY_END = b"\\.\n"  # the line that ends a COPY's data in a plain script
IDENT = rb'"(?:[^"]|"")*"|[^".\s(]+'
COPY_RE = re.compile(rb"^COPY (" + IDENT + rb")\.(" + IDENT + rb") .*FROM stdin;\r?\n?$")
TOC_DATA_RE = re.compile(r"^\d+; \d+ \d+ TABLE DATA (.*)$")


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


def _regular_files(base: Path) -> tuple[set[str], list[str]]:
    """Relative paths of the regular files under ``base`` (links not followed), and a problem
    for everything else found there (symbolic links, devices, sockets...)."""
    present: set[str] = set()
    strange: list[str] = []
    for root, dirs, files in os.walk(base, followlinks=False):
        for name in dirs + files:
            path = Path(root) / name
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                strange.append(f"{path}: a symbolic link (a backup holds regular files only)")
            elif stat.S_ISREG(mode):
                present.add(str(path.relative_to(base)))
            elif not stat.S_ISDIR(mode):
                strange.append(f"{path}: not a regular file")
    return present, strange


def checksum_problems(entry: BackupEntry) -> list[str]:
    """Every file whose size or sha256 differs from the manifest (or that is missing/extra, or
    not a regular file: nothing is read through a symbolic link)."""
    manifest = entry.manifest
    problems: list[str] = []
    if manifest.format == "directory":
        base = entry.data_path
        if base.is_symlink() or not base.is_dir():
            return [f"{base}: not a directory of this backup's own"]
        present, problems = _regular_files(base)
        for extra in sorted(present - {f.path for f in manifest.files}):
            problems.append(f"{base / extra}: not in the manifest")
    else:
        base = entry.data_path.parent
        present = {item.path for item in manifest.files if (base / item.path).is_file()}
        problems = [
            f"{base / item.path}: a symbolic link (a backup holds regular files only)"
            for item in manifest.files
            if (base / item.path).is_symlink()
        ]
    for item in manifest.files:
        path = base / item.path
        if item.path not in present or path.is_symlink():
            if not path.is_symlink():
                problems.append(f"{path}: missing")
            continue
        size = path.lstat().st_size
        if size != item.size:
            problems.append(f"{path}: size {size} bytes, manifest says {item.size}")
            continue
        if sha256_file(path) != item.sha256:
            problems.append(f"{path}: sha256 mismatch (file changed since the backup)")
    return problems


class _ScriptReader:
    """Lines of a plain SQL script, and a fast skip over a COPY's data (a search for the
    ``\\.`` line in large chunks instead of a Python loop over every data line)."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.buf = b""
        self.pos = 0

    def _more(self) -> bool:
        chunk = self.handle.read(READ_CHUNK)
        if not chunk:
            return False
        self.buf = self.buf[self.pos :] + chunk
        self.pos = 0
        return True

    def readline(self) -> bytes:
        while True:
            end = self.buf.find(b"\n", self.pos)
            if end >= 0:
                line, self.pos = self.buf[self.pos : end + 1], end + 1
                return line
            if not self._more():
                line, self.pos = self.buf[self.pos :], len(self.buf)
                return line

    def skip_copy_data(self) -> bool:
        """Move past the line ending the current COPY's data; False at the end of the file."""
        while len(self.buf) - self.pos < len(COPY_END) and self._more():
            pass
        if self.buf.startswith(COPY_END, self.pos):  # no rows
            self.pos += len(COPY_END)
            return True
        while True:
            found = self.buf.find(b"\n" + COPY_END, self.pos)
            if found >= 0:
                self.pos = found + 1 + len(COPY_END)
                return True
            self.pos = max(len(self.buf) - len(COPY_END), self.pos)  # may straddle chunks
            if not self._more():
                return False


def _identifier(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    return text[1:-1].replace('""', '"') if text.startswith('"') else text


def plain_script(path: Path) -> tuple[str | None, set[str] | None]:
    """(a problem with a plain SQL script or None, the tables it holds COPY data of as
    ``schema name``); (None, None) when it cannot be read here (zstd/lz4: checksum only)."""
    if path.name.endswith((".zst", ".lz4")):
        return None, None  # no decompressor in the standard library
    opener: Any = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        return read_script(handle, path)


def read_script(handle: Any, path: object) -> tuple[str | None, set[str] | None]:
    """:func:`plain_script` of an open (decompressed) stream; ``path`` names it in problems."""
    tables: set[str] = set()
    complete = False
    reader = _ScriptReader(handle)
    head = b""
    while line := reader.readline():
        if len(head) < 4096:
            head += line
        if line.startswith(b"COPY "):
            match = COPY_RE.match(line)
            if match is None:
                return f"{path}: unreadable COPY statement {line[:120]!r}", None
            tables.add(f"{_identifier(match[1])} {_identifier(match[2])}")
            if not reader.skip_copy_data():
                break
        elif line.startswith(PLAIN_TRAILER):
            complete = True
    if PLAIN_HEADER not in head[:4096]:
        return f"{path}: does not start like a pg_dump SQL script", None
    if not complete:
        return f"{path}: no 'dump complete' trailer (truncated script)", None
    return None, tables


def toc_tables(listing: str) -> set[str]:
    """``schema name`` of every TABLE DATA entry of a ``pg_restore --list`` listing (the owner,
    the last word, left out)."""
    found = set()
    for line in listing.splitlines():
        match = TOC_DATA_RE.match(line)
        if match:
            rest = match[1]
            found.add(rest.rsplit(" ", 1)[0] if " " in rest else rest)
    return found


def _spellings(key: str) -> set[str]:
    """The ``schema name`` forms a ``schema.table`` key can stand for (either may hold dots)."""
    parts = key.split(".")
    return {".".join(parts[:i]) + " " + ".".join(parts[i:]) for i in range(1, len(parts))}


def coverage_problems(row_counts: dict[str, int], archive: set[str]) -> list[str]:
    """Tables with data in the archive (``schema name``) but no row count in the manifest, and
    counted tables the archive does not hold."""
    spelled = {key: _spellings(key) for key in row_counts}
    known = set().union(*spelled.values()) if spelled else set()
    problems = [
        f"table {t.replace(' ', '.', 1)!r} has data in the archive but no row count in the manifest"
        for t in sorted(archive - known)
    ]
    problems += [
        f"the manifest counts rows of {key!r}, which the archive does not hold"
        for key, forms in sorted(spelled.items())
        if not forms & archive
    ]
    return problems


def coverage_check(entry: BackupEntry, archive: set[str] | None) -> Check:
    name = "row counts cover the archive"
    if archive is None:
        return Check(name, True, "not checked: the script cannot be read here (zstd/lz4)")
    problems = coverage_problems(entry.manifest.row_counts, archive)
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        return Check(name, False, f"corrupt manifest: {problems[0]}{more}")
    return Check(name, True, f"{len(archive)} tables with data, each counted in the manifest")


def content_checks(entry: BackupEntry, pg_bin: str | None) -> list[Check]:
    """Is the archive readable, and do the manifest's row counts cover exactly its tables?"""
    if entry.manifest.format == "plain":
        return script_checks(entry, *plain_script(entry.data_path))
    readable, tables = toc_check(entry, pg_bin)
    return [readable, coverage_check(entry, tables)] if readable.ok else [readable]


def script_checks(entry: BackupEntry, issue: str | None, tables: set[str] | None) -> list[Check]:
    """The checks of a plain script read by :func:`read_script`."""
    checks = [Check("sql header/trailer", issue is None, issue or "looks complete")]
    return [*checks, coverage_check(entry, tables)] if issue is None else checks


def content_problems(entry: BackupEntry, pg_bin: str | None = None) -> list[str]:
    """What a restore must refuse once the checksums passed: an unreadable archive, or row
    counts that do not cover exactly its tables."""
    return [c.detail for c in content_checks(entry, pg_bin) if not c.ok]


def manifest_check(entry: BackupEntry) -> Check:
    if entry.manifest.sealed:
        return Check("manifest", True, "digest ok, names only its own files")
    return Check(
        "manifest",
        True,
        "written before manifests carried a digest (version 1): nothing to check it against; "
        "recording this verification seals it",
    )


def toc_check(entry: BackupEntry, pg_bin: str | None) -> tuple[Check, set[str] | None]:
    """``pg_restore --list`` of a custom/directory archive (no connection needed), and the
    tables it holds data of."""
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
    with tempfile.TemporaryDirectory(prefix="dbadmin-toc-") as tmp:
        listing = Path(tmp) / "toc.list"
        argv = [str(choice.binary.path), "--list", f"--file={listing}", str(entry.data_path)]
        result = run_tool(argv, tool_env(DbUrl()))
        if result.returncode != 0:
            detail = "; ".join(result.stderr_tail[-2:]) or f"exit {result.returncode}"
            return Check("pg_restore --list", False, f"{entry.data_path}: {detail}"), None
        tables = toc_tables(listing.read_text(encoding="utf-8", errors="replace"))
    readable = f"table of contents readable ({choice.binary.version})"
    return Check("pg_restore --list", True, readable), tables


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
