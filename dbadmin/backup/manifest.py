"""Backup manifests and the backup directory's layout.

A backup NAME is complete when ``NAME.manifest.json`` exists beside its data (``NAME.dump``,
``NAME.sql``[.gz] or the directory ``NAME/``). Data is written under a temporary name
(``.NAME.partial...``), fsynced and renamed only after pg_dump exits 0; the manifest is renamed
into place last. A run killed at any moment therefore leaves either nothing listed as complete or
a complete backup, plus temporaries that ``backup list`` reports and ``backup prune`` removes.

Files are 0600 and the backup directory 0700 (dumps hold all of the data). The directory is a
trust boundary (see :mod:`dbadmin.backup.trust`): a manifest is checked against its own digest
and may name only its own files; nothing here follows a symbolic link out of the directory, to
read, write or delete.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbadmin.backup.trust import (
    NAME_RE,
    CorruptBackup,
    check_layout,
    check_seal,
    corrupt,
    data_names,
    seal,
    stem_of,
)
from dbadmin.errors import ConfigError, DbadminError, ExitCode, UsageError
from dbadmin.files import OutputWriteError

__all__ = ["NAME_RE", "CorruptBackup"]  # re-exported: callers know them from here

MANIFEST_SUFFIX = ".manifest.json"
MANIFEST_VERSION = 2  # 2: sealed by its own digest (trust.DIGEST_KEY)
PARTIAL_MARK = ".partial"
LOCK_NAME = ".dbadmin-backup.lock"
FORMATS = ("custom", "directory", "plain")
HASH_CHUNK = 1024 * 1024
TEMPORARY_REASON = "temporary of an unfinished run"
LOCK_POLL_SECONDS = 0.05


class BackupLocked(DbadminError):
    """Another backup (or prune) holds the directory's lock. Exit 1: nothing was done."""

    exit_code = ExitCode.PROBLEM


class BackupWriteError(OutputWriteError):
    """A file of a backup (data or manifest) could not be written: disk full, file size limit,
    permissions. Exit 5, the same as a pg_dump stopped by the file size limit, so a cron job
    sees one code for "the backup could not be written"."""

    exit_code = ExitCode.EXTERNAL


# --- files ---------------------------------------------------------------------------------------
def ensure_private_dir(path: Path) -> Path:
    """Create (or tighten) a 0700 backup directory; an unusable path is a configuration error."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)
    except OSError as exc:
        raise ConfigError(
            f"cannot use backup directory {path}: {exc.strerror or exc}",
            "choose a writable directory with --dir or DBADMIN_BACKUP_DIR",
        ) from exc
    return path


def fsync_path(path: Path) -> None:
    """fsync a file, or a directory's files and the directory itself."""
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file():
                fsync_path(child)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def data_files(data: Path) -> list[tuple[str, Path]]:
    """(relative name, path) of every file of a backup, sorted (directory format: many)."""
    if data.is_dir():
        return sorted((str(p.relative_to(data)), p) for p in data.rglob("*") if p.is_file())
    return [(data.name, data)]


def remove_path(path: Path) -> None:
    """Remove a file or a whole directory, quietly (cleanup of temporaries and pruned data).

    Never follows a symbolic link: a link is removed itself, not what it points at (rmtree does
    not follow the links inside a directory either)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def remove_inside(directory: Path, path: Path) -> None:
    """:func:`remove_path` of an entry of ``directory`` itself, and of nothing else."""
    if path.parent.resolve() != directory.resolve() or path.name in ("", ".", ".."):
        raise corrupt(path, f"is not an entry of the backup directory {directory}; not deleted")
    remove_path(path)


def write_json_atomic(path: Path, document: dict[str, Any]) -> None:
    """Write, fsync, rename over ``path``, fsync the directory: readers see old or new, whole.

    The temporary is ``.NAME.partial-PID`` (``scan`` reports such files as leftovers of a killed
    run). A failed write (disk full, file size limit, permissions) removes the temporary, leaves
    ``path`` as it was and raises :class:`BackupWriteError` (exit 5) naming the file.
    """
    temp = path.with_name(f".{path.name}{PARTIAL_MARK}-{os.getpid()}")
    try:  # O_NOFOLLOW: a planted link in place of the temporary is not written through
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(document, handle, indent=2, sort_keys=False)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, 0o600)
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        fsync_path(path.parent)
    except OSError as exc:
        raise BackupWriteError(
            f"cannot write manifest {path}: {exc.strerror or exc}",
            "check free space, file size limits (ulimit -f) and permissions of the backup "
            "directory",
        ) from None


# --- the manifest --------------------------------------------------------------------------------
@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class BackupManifest:
    name: str
    format: str
    data: str  # file or directory name beside the manifest
    compression: str
    files: tuple[FileEntry, ...]
    size_bytes: int
    database: str  # masked URL
    database_name: str
    server_version: str
    server_version_num: int
    pg_dump_version: str
    pg_dump_path: str
    relayed: bool
    alembic_revision: str | None
    row_counts: dict[str, int]
    schema_only: bool
    exclude_tables: tuple[str, ...]
    jobs: int
    started_at: str
    finished_at: str
    duration_seconds: float
    dbadmin_version: str
    snapshot: str | None = None
    verification: dict[str, Any] | None = None
    manifest_version: int = MANIFEST_VERSION
    # the dump carries the planner statistics (pg_dump 18 --statistics; restored by pg_restore)
    statistics: bool = False
    # tables whose statistics were stale on the source (a restore re-analyzes them)
    stale_statistics: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    sealed: bool = True  # False: a legacy manifest (version 1) read without a digest to check

    @property
    def sha256(self) -> str:
        """One digest for the whole backup (a single file's, or over a directory's entries)."""
        if self.format != "directory" and len(self.files) == 1:
            return self.files[0].sha256
        lines = "".join(f"{f.sha256}  {f.path}\n" for f in self.files)
        return hashlib.sha256(lines.encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """The manifest document, sealed with its digest (what is written to disk)."""
        return seal(
            {
                "manifest_version": self.manifest_version,
                "name": self.name,
                "format": self.format,
                "data": self.data,
                "compression": self.compression,
                "sha256": self.sha256,
                "size_bytes": self.size_bytes,
                "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in self.files],
                "database": self.database,
                "database_name": self.database_name,
                "server_version": self.server_version,
                "server_version_num": self.server_version_num,
                "pg_dump_version": self.pg_dump_version,
                "pg_dump_path": self.pg_dump_path,
                "relayed": self.relayed,
                "alembic_revision": self.alembic_revision,
                "row_counts": dict(self.row_counts),
                "snapshot": self.snapshot,
                "statistics": self.statistics,
                "stale_statistics": list(self.stale_statistics),
                "schema_only": self.schema_only,
                "exclude_tables": list(self.exclude_tables),
                "jobs": self.jobs,
                "started_at": self.started_at,
                "finished_at": self.finished_at,
                "duration_seconds": self.duration_seconds,
                "timings": dict(self.timings),
                "dbadmin_version": self.dbadmin_version,
                "verification": self.verification,
            }
        )

    @classmethod
    def from_dict(cls, doc: dict[str, Any], *, sealed: bool = True) -> BackupManifest:
        """Raises :class:`CorruptBackup` for a document of the wrong shape."""
        try:
            return cls(
                name=doc["name"],
                format=doc["format"],
                data=doc["data"],
                compression=doc.get("compression", "default"),
                files=tuple(
                    FileEntry(f["path"], int(f["size"]), f["sha256"]) for f in doc["files"]
                ),
                size_bytes=int(doc["size_bytes"]),
                database=doc.get("database", ""),
                database_name=doc.get("database_name", ""),
                server_version=doc.get("server_version", ""),
                server_version_num=int(doc.get("server_version_num") or 0),
                pg_dump_version=doc.get("pg_dump_version", ""),
                pg_dump_path=doc.get("pg_dump_path", ""),
                relayed=bool(doc.get("relayed", False)),
                alembic_revision=doc.get("alembic_revision"),
                row_counts={k: int(v) for k, v in (doc.get("row_counts") or {}).items()},
                schema_only=bool(doc.get("schema_only", False)),
                exclude_tables=tuple(doc.get("exclude_tables") or ()),
                jobs=int(doc.get("jobs") or 1),
                started_at=doc.get("started_at", ""),
                finished_at=doc.get("finished_at", ""),
                duration_seconds=float(doc.get("duration_seconds") or 0.0),
                dbadmin_version=doc.get("dbadmin_version", ""),
                snapshot=doc.get("snapshot"),
                statistics=bool(doc.get("statistics", False)),
                stale_statistics=tuple(doc.get("stale_statistics") or ()),
                verification=doc.get("verification"),
                manifest_version=int(doc.get("manifest_version") or 1),
                timings={k: float(v) for k, v in (doc.get("timings") or {}).items()},
                sealed=sealed,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise corrupt(doc.get("name", "manifest"), f"malformed manifest ({exc!r})") from None

    @property
    def pg_dump_major(self) -> int:
        match = re.match(r"(\d+)", self.pg_dump_version)
        return int(match.group(1)) if match else 0


def manifest_path(directory: Path, name: str) -> Path:
    return directory / f"{name}{MANIFEST_SUFFIX}"


def load_document(path: Path) -> tuple[dict[str, Any], bool]:
    """The manifest's JSON document, checked against its digest, and whether it is sealed.

    A manifest that is a symbolic link, is not a JSON object, or fails its digest raises
    :class:`CorruptBackup` (exit 1); so does one that cannot be read."""
    try:
        if path.is_symlink():
            raise corrupt(path, "the manifest is a symbolic link (backups hold regular files)")
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise corrupt(path, f"unreadable manifest ({exc})") from None
    if not isinstance(doc, dict):
        raise corrupt(path, "the manifest is not a JSON object")
    return doc, check_seal(doc, path)


def read_manifest(path: Path) -> BackupManifest:
    """A manifest that passed its digest and names only its own files (else CorruptBackup)."""
    doc, sealed = load_document(path)
    return trusted_manifest(doc, sealed, path.name, path)


def trusted_manifest(
    doc: dict[str, Any], sealed: bool, file_name: str, where: object
) -> BackupManifest:
    """The manifest of a document that passed its digest, if it names only its own files."""
    manifest = BackupManifest.from_dict(doc, sealed=sealed)
    check_layout(
        own_stem=stem_of(file_name, MANIFEST_SUFFIX),
        name=manifest.name,
        fmt=manifest.format,
        data=manifest.data,
        paths=[f.path for f in manifest.files],
        where=where,
    )
    return manifest


def open_entry(man_file: Path) -> BackupEntry:
    """The backup of ``man_file``: its manifest trusted and its data present beside it, a real
    file (or, for the directory format, a real directory), not a link to somewhere else."""
    manifest = read_manifest(man_file)
    data = man_file.parent / manifest.data
    if data.is_symlink():
        raise corrupt(data, "the data is a symbolic link (backups hold regular files)")
    present = data.is_dir() if manifest.format == "directory" else data.is_file()
    if not present:
        what = (
            "missing"
            if not data.exists()
            else "not a " + ("directory" if manifest.format == "directory" else "regular file")
        )
        raise corrupt(data, f"the data of backup {manifest.name} is {what}")
    return BackupEntry(manifest, man_file, data)


# --- the directory -------------------------------------------------------------------------------
@dataclass(frozen=True)
class BackupEntry:
    """A complete backup found in a directory."""

    manifest: BackupManifest
    manifest_file: Path
    data_path: Path

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def finished(self) -> dt.datetime:
        return parse_time(self.manifest.finished_at)

    @property
    def verified(self) -> str:
        ver = self.manifest.verification
        if not ver:
            return "never"
        state = "ok" if ver.get("ok") else "FAILED"
        if ver.get("restore_test"):
            state += " (restore-tested)"
        return state


@dataclass(frozen=True)
class Leftover:
    """A temporary of a killed/failed run (or a data file whose manifest never landed)."""

    path: Path
    size_bytes: int
    reason: str

    @property
    def removable(self) -> bool:
        """Only dbadmin's own temporaries are removed by prune; anything else is reported."""
        return self.reason == TEMPORARY_REASON


@dataclass(frozen=True)
class CorruptEntry:
    """A manifest that cannot be trusted (see :mod:`dbadmin.backup.trust`), or whose data is
    missing: shown by ``backup list``, refused by verify, restore and prune."""

    manifest_file: Path
    reason: str  # the CorruptBackup's one line, without the hint

    @property
    def name(self) -> str:
        return stem_of(self.manifest_file.name, MANIFEST_SUFFIX)


@dataclass(frozen=True)
class Catalog:
    directory: Path
    backups: tuple[BackupEntry, ...]  # newest first
    leftovers: tuple[Leftover, ...]
    corrupt: tuple[CorruptEntry, ...] = ()

    def refuse_if_corrupt(self, doing: str) -> None:
        """Raise :class:`CorruptBackup` naming every corrupt backup (``doing``: what is refused)."""
        if self.corrupt:
            first = self.corrupt[0]
            more = f" (+{len(self.corrupt) - 1} more)" if len(self.corrupt) > 1 else ""
            raise CorruptBackup(
                f"{self.directory} holds a corrupt backup, {doing}: {first.reason}{more}",
                "look at it (`dbadmin backup list`), then move it out of the backup directory "
                "or name the backup to use explicitly",
            )


def parse_time(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return dt.datetime.fromtimestamp(0, dt.UTC)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def path_size(path: Path) -> int:
    """Bytes of a file or a directory's files, without following symbolic links."""
    if path.is_dir() and not path.is_symlink():
        return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    try:
        return path.lstat().st_size
    except OSError:
        return 0


def scan(directory: Path) -> Catalog:
    """Complete backups (newest first) and leftovers in ``directory`` (which may not exist)."""
    if not directory.is_dir():
        return Catalog(directory, (), ())
    backups: list[BackupEntry] = []
    claimed: set[str] = set()
    leftovers: list[Leftover] = []
    broken: list[CorruptEntry] = []
    for item in sorted(directory.iterdir()):
        if item.name.endswith(MANIFEST_SUFFIX) and not item.name.startswith("."):
            claimed.add(item.name)
            try:
                entry = open_entry(item)
            except CorruptBackup as exc:
                broken.append(CorruptEntry(item, exc.what))
                # its data (under dbadmin's own names) belongs to it, not to the leftovers
                stem = stem_of(item.name, MANIFEST_SUFFIX)
                claimed.update(n for fmt in FORMATS for n in data_names(stem, fmt))
                continue
            claimed.add(entry.data_path.name)
            backups.append(entry)
    for item in sorted(directory.iterdir()):
        if item.name == LOCK_NAME or item.name in claimed:
            continue
        if PARTIAL_MARK in item.name:
            leftovers.append(Leftover(item, path_size(item), TEMPORARY_REASON))
        elif any(leftover.path == item for leftover in leftovers):
            continue
        elif (
            item.name.startswith(".")
            or item.suffix in {".dump", ".sql", ".gz", ".zst", ".lz4"}
            or (item.is_dir() and (item / "toc.dat").exists())
        ):
            leftovers.append(Leftover(item, path_size(item), "data without a manifest"))
    backups.sort(key=lambda b: (b.finished, b.name), reverse=True)
    return Catalog(directory, tuple(backups), tuple(leftovers), tuple(broken))


def find_backup(directory: Path, ref: str | None, *, latest: bool = False) -> BackupEntry:
    """A backup by NAME in ``directory``, by PATH (data or manifest), or the newest one.

    A corrupt backup raises :class:`CorruptBackup` (exit 1). The newest one is chosen only
    when no backup in the directory is corrupt: a damaged newer backup must not make a restore
    silently pick an older one."""
    if latest or ref is None:
        catalog = scan(directory)
        catalog.refuse_if_corrupt("refusing to choose the newest backup")
        if not catalog.backups:
            raise UsageError(f"no complete backup in {directory}", "run `dbadmin backup` first")
        return catalog.backups[0]
    candidate = Path(ref).expanduser()
    if candidate.exists() and (candidate.is_dir() or "/" in ref or candidate.is_file()):
        if candidate.name.endswith(MANIFEST_SUFFIX):
            man_file = candidate
        else:
            stem = candidate.name
            for suffix in (".dump", ".sql.gz", ".sql.zst", ".sql.lz4", ".sql"):
                if stem.endswith(suffix):
                    stem = stem[: -len(suffix)]
                    break
            man_file = candidate.parent / f"{stem}{MANIFEST_SUFFIX}"
        if not man_file.exists() and not man_file.is_symlink():
            raise UsageError(
                f"{candidate} has no manifest beside it ({man_file.name})",
                "dbadmin restores only backups it can verify; run pg_restore directly otherwise",
            )
        return open_entry(man_file)
    if not NAME_RE.match(ref):
        raise UsageError(f"bad backup name {ref!r}", "`dbadmin backup list` shows the names")
    man_file = manifest_path(directory, ref)
    if not man_file.exists() and not man_file.is_symlink():
        names = ", ".join(b.name for b in scan(directory).backups[:5]) or "none"
        raise UsageError(
            f"no backup named {ref!r} in {directory}", f"`dbadmin backup list` (newest: {names})"
        )
    return open_entry(man_file)


@contextmanager
def directory_lock(
    directory: Path, purpose: str = "backup", *, wait: float = 0.0, private: bool = True
) -> Iterator[Path]:
    """An exclusive lock on the backup directory (flock: released if killed). Non-blocking by
    default; ``wait`` seconds of polling first for a holder that needs it only briefly.
    ``private`` creates the directory / tightens it to 0700 first (writers of backups).
    A lock file that is a symbolic link is refused (O_NOFOLLOW), never truncated through."""
    if private:
        ensure_private_dir(directory)
    lock_file = directory / LOCK_NAME
    try:
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigError(
                f"cannot use backup directory {directory}: lock file {lock_file} is a symbolic "
                "link (dbadmin does not write through it); nothing was done",
                f"look at where it points, then remove it (rm {lock_file})",
            ) from None
        raise ConfigError(
            f"cannot use backup directory {directory}: lock file {lock_file}: "
            f"{exc.strerror or exc}",
            "choose a writable directory with --dir or DBADMIN_BACKUP_DIR",
        ) from None
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(LOCK_POLL_SECONDS)
                    continue
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown"
            raise BackupLocked(
                f"another dbadmin run holds the lock on {directory} ({holder}); nothing was done",
                "wait for it to finish (overlapping cron runs are refused on purpose)",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{purpose} pid {os.getpid()}".encode(), 0)
        yield lock_file
    finally:
        os.close(fd)


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
