"""`dbadmin backup create`: pg_dump in a held snapshot, written atomically, with a manifest.

Sequence (each step can fail without leaving anything that looks complete):
1. lock the backup directory (a second run exits at once);
2. on the direct URL, open a REPEATABLE READ transaction and ``pg_export_snapshot()``;
3. start pg_dump with ``--snapshot`` into ``.NAME...partial-PID``; meanwhile count every table's
   rows in the same snapshot (exact counts of exactly what is dumped);
4. pg_dump exits 0 -> fsync, sha256, chmod 0600, rename into place, fsync the directory;
5. write the manifest (atomic rename) last: its presence marks the backup complete.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbadmin import __version__
from dbadmin.backup.catalog import (
    STATISTICS_MAJOR,
    TABLE_KINDS,
    count_rows,
    stale_statistics,
    table_key,
    user_relations,
)
from dbadmin.backup.manifest import (
    FORMATS,
    NAME_RE,
    PARTIAL_MARK,
    BackupManifest,
    BackupWriteError,
    FileEntry,
    data_files,
    directory_lock,
    ensure_private_dir,
    fsync_path,
    manifest_path,
    now_utc,
    path_size,
    remove_path,
    sha256_file,
    write_json_atomic,
)
from dbadmin.backup.runner import (
    Notice,
    ToolHooks,
    pinned_path,
    prepared_tool,
    run_tool,
    tool_conninfo,
    tool_failure,
)
from dbadmin.deadline import Deadline, optional
from dbadmin.errors import DbadminError, OperationTimeout, UsageError

if TYPE_CHECKING:
    import psycopg2.extensions

    from dbadmin.settings import Settings

ProgressHook = Callable[[int, float], None]  # bytes written so far, elapsed seconds
COMPRESS_METHODS = ("gzip", "zstd", "lz4", "none")


@dataclass(frozen=True)
class BackupOptions:
    format: str = "custom"
    jobs: int = 1
    compress: str | None = None  # METHOD[:LEVEL] or LEVEL; None = pg_dump's default
    directory: Path | str | None = None  # a path or a store URL; default: DBADMIN_BACKUP_DIR
    endpoint_url: str | None = None  # S3-compatible services (default: AWS_ENDPOINT_URL)
    encrypt: bool = False  # AES-256-GCM with DBADMIN_BACKUP_KEY(_FILE) (dbadmin.backup.crypto)
    name: str | None = None
    schema_only: bool = False
    exclude_tables: tuple[str, ...] = ()
    pg_bin: str | None = None
    allow_relay: bool = True
    timeout: float | None = None  # overall limit in seconds (exit 4, nothing kept)


@dataclass(frozen=True)
class BackupResult:
    manifest: BackupManifest
    manifest_file: Path | str  # a store's objects are named by URL
    data_path: Path | str
    binary: str
    relayed: bool


@dataclass
class _Counts:
    counts: dict[str, int] = field(default_factory=dict)
    error: BaseException | None = None
    seconds: float = 0.0


# --- options -------------------------------------------------------------------------------------
def parse_compress(spec: str | None) -> tuple[str, int | None] | None:
    """``zstd``, ``gzip:9``, ``none``, ``6`` -> (method, level); None keeps pg_dump's default."""
    if spec is None or spec == "":
        return None
    text = spec.strip().lower()
    if text.isdigit():
        return ("gzip" if int(text) else "none", int(text) or None)
    method, _, level = text.partition(":")
    if method not in COMPRESS_METHODS:
        raise UsageError(
            f"unknown --compress {spec!r}", "use zstd, gzip, lz4 or none, optionally :LEVEL"
        )
    if level and not level.isdigit():
        raise UsageError(f"bad compression level in --compress {spec!r}", "e.g. zstd:3, gzip:6")
    return method, int(level) if level else None


def compress_args(spec: tuple[str, int | None] | None, pg_dump_major: int) -> list[str]:
    if spec is None:
        return []
    method, level = spec
    if pg_dump_major >= 16:
        return [f"--compress={method}" + (f":{level}" if level is not None else "")]
    if method == "none":
        return ["--compress=0"]
    if method == "gzip":
        return [f"--compress={level if level is not None else 6}"]
    raise UsageError(
        f"pg_dump {pg_dump_major} supports only gzip compression", "use --compress gzip or none"
    )


def data_name(name: str, fmt: str, spec: tuple[str, int | None] | None) -> str:
    if fmt == "directory":
        return name
    if fmt == "custom":
        return f"{name}.dump"
    suffix = {"gzip": ".gz", "zstd": ".zst", "lz4": ".lz4"}.get(spec[0], "") if spec else ""
    return f"{name}.sql{suffix}"


def validate(options: BackupOptions) -> tuple[str, int | None] | None:
    if options.format not in FORMATS:
        raise UsageError(f"unknown --format {options.format!r}", "use custom, directory or plain")
    if options.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if options.jobs > 1 and options.format != "directory":
        raise UsageError(
            "--jobs > 1 needs --format directory", "pg_dump runs in parallel only into a directory"
        )
    if options.name is not None and not NAME_RE.match(options.name):
        raise UsageError(
            f"bad backup name {options.name!r}",
            "use letters, digits, '.', '_' and '-' (no slashes, not starting with '.')",
        )
    pinned_path(options.pg_bin, "pg_dump")  # a bad --pg-bin fails before connecting
    return parse_compress(options.compress)


def build_dump_argv(
    pg_dump: str | Path,
    *,
    fmt: str,
    out_path: Path,
    snapshot: str | None,
    jobs: int = 1,
    compress: Sequence[str] = (),
    schema_only: bool = False,
    exclude_tables: Sequence[str] = (),
    statistics: bool = False,
    conninfo: str | None = None,
) -> list[str]:
    """pg_dump's argv. The connection (and password) comes from the environment, never here;
    ``conninfo`` (:func:`dbadmin.backup.runner.tool_conninfo`) adds the database name and
    keepalive settings."""
    argv = [str(pg_dump), f"--format={fmt}", f"--file={out_path}", "--no-password"]
    if conninfo:
        argv.append(f"--dbname={conninfo}")
    if fmt == "plain":
        # a SQL script cannot be filtered at restore time: make it portable (Neon roles) now
        argv += ["--no-owner", "--no-privileges"]
    if snapshot:
        argv.append(f"--snapshot={snapshot}")
    if jobs > 1:
        argv.append(f"--jobs={jobs}")
    argv += list(compress)
    if schema_only:
        argv.append("--schema-only")
    elif statistics:
        argv.append("--statistics")
    argv += [f"--exclude-table={table}" for table in exclude_tables]
    return argv


def carries_statistics(fmt: str, pg_dump_major: int, schema_only: bool) -> bool:
    """Whether the dump includes the planner statistics (``--statistics``, pg_dump 18+): a
    restore into PostgreSQL 18+ then needs no full ANALYZE. Not for plain SQL, which cannot be
    filtered at restore time and would fail on older servers (no pg_restore_relation_stats)."""
    return pg_dump_major >= STATISTICS_MAJOR and fmt != "plain" and not schema_only


def is_excluded(schema: str, table: str, patterns: Sequence[str]) -> bool:
    """pg_dump-style table patterns (``name``, ``schema.name``, ``*``/``?``; unquoted = lower)."""
    for raw in patterns:
        pattern = raw.replace('"', "") if '"' in raw else raw.lower()
        target = f"{schema}.{table}" if "." in pattern else table
        if fnmatch.fnmatchcase(target, pattern):
            return True
    return False


# --- the database side ---------------------------------------------------------------------------
def _list_tables(cur: Any, exclude: Sequence[str]) -> list[tuple[str, str]]:
    return [(s, t) for s, t in user_relations(cur, TABLE_KINDS) if not is_excluded(s, t, exclude)]


def alembic_revision(cur: Any) -> str | None:
    from dbadmin.migrate.runner import database_heads

    return ",".join(database_heads(cur)) or None


def _open_snapshot(
    settings: Settings, deadline: Deadline | None = None
) -> psycopg2.extensions.connection:
    """The session that holds the dump's snapshot; with a deadline, its statements (the row
    counts) may run only for what is left of it."""
    from dbadmin.db import connect_raw

    conn = connect_raw(
        settings.direct_url,
        connect_timeout=settings.connect_timeout,
        retry_seconds=settings.connect_retry_seconds,
        application_name="dbadmin-backup",
    )
    if deadline is not None:
        conn.autocommit = True
        with conn.cursor() as cur:
            left_ms = max(1, int(deadline.remaining() * 1000))
            cur.execute("SELECT set_config('statement_timeout', %s, false)", (str(left_ms),))
        conn.autocommit = False
    conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
    return conn


def _join(thread: threading.Thread, deadline: Deadline | None) -> None:
    while thread.is_alive():
        thread.join(0.5 if deadline is None else deadline.wait(0.5))
        if deadline is not None and thread.is_alive():
            deadline.check("counting rows in the dump's snapshot")


def remove_stale_temporaries(directory: Path) -> None:
    """Temporaries of runs that were killed (SIGKILL, power loss). Called under the directory
    lock, so none of them belongs to a running backup: the directory becomes what an unstarted
    run would have left."""
    from dbadmin.backup.manifest import TEMPORARY_REASON, scan

    for leftover in scan(directory).leftovers:
        if leftover.reason == TEMPORARY_REASON:
            remove_path(leftover.path)


def abort_connection(conn: Any) -> None:
    """Shut the connection's socket down, so a thread blocked on it (a server that stopped
    answering) gets an error at once; ``close()`` would wait for that thread."""
    import socket

    try:
        fd = os.dup(conn.fileno())
    except Exception:
        return
    with socket.socket(fileno=fd) as sock:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


# --- the run -------------------------------------------------------------------------------------
def create_backup(
    settings: Settings,
    options: BackupOptions,
    *,
    notice: Notice | None = None,
    hooks: ToolHooks | None = None,
    on_progress: ProgressHook | None = None,
) -> BackupResult:
    """Take one backup of ``settings.direct_url``; raises on any failure, leaving nothing listed."""
    from dbadmin.db import fetch_one, translate_db_error

    spec = validate(options)
    deadline = optional(options.timeout)
    target = dump_target(settings, options)
    started = now_utc()
    t0 = time.monotonic()
    hooks = hooks or ToolHooks()
    with target.locked():
        target.clean_stale()
        conn = _open_snapshot(settings, deadline)
        try:
            try:
                with conn.cursor() as cur:
                    cur.execute(
                        "SELECT pg_export_snapshot(), current_setting('server_version'), "
                        "current_setting('server_version_num')::int, current_database()"
                    )
                    snapshot, server_version, version_num, dbname = fetch_one(cur)
                    revision = alembic_revision(cur)
                    tables = (
                        [] if options.schema_only else _list_tables(cur, options.exclude_tables)
                    )
                    listed = {table_key(s, t) for s, t in tables}
                    stale = tuple(k for k in stale_statistics(cur) if k in listed)
            except DbadminError:
                raise
            except Exception as exc:
                raise translate_db_error(exc, settings.direct_url) from exc
            taken = target.taken_names()
            name = options.name or _default_name(taken, dbname, started, options.format, spec)
            data = data_name(name, options.format, spec)
            if data in taken or manifest_path(Path(), name).name in taken:
                raise UsageError(f"backup {name!r} already exists in {target.where}", "pick --name")
            with abort_on_error(target):  # from the upload's start to its end
                out_path = target.start(data)
                with prepared_tool(
                    settings.direct_url,
                    tool="pg_dump",
                    min_major=version_num // 10000,
                    pg_bin=options.pg_bin,
                    allow_relay=options.allow_relay,
                    notice=notice,
                ) as tool:
                    statistics = carries_statistics(
                        options.format, tool.binary.major, options.schema_only
                    )
                    argv = build_dump_argv(
                        tool.path,
                        fmt=options.format,
                        out_path=out_path,
                        snapshot=snapshot,
                        jobs=options.jobs,
                        compress=compress_args(spec, tool.binary.major),
                        schema_only=options.schema_only,
                        exclude_tables=options.exclude_tables,
                        statistics=statistics,
                        conninfo=tool_conninfo(dbname),
                    )
                    argv += target.dump_args
                    counts = _Counts()
                    counter = threading.Thread(
                        target=_count_in_snapshot, args=(conn, tables, counts), daemon=True
                    )

                    def on_spawn(pid: int) -> None:
                        counter.start()
                        if hooks.on_spawn:
                            hooks.on_spawn(pid)

                    def on_poll(elapsed: float) -> None:
                        if on_progress:
                            on_progress(target.written(), elapsed)
                        if hooks.on_poll:
                            hooks.on_poll(elapsed)

                    try:
                        result = run_tool(
                            argv,
                            tool.env(),
                            hooks=ToolHooks(on_spawn, on_poll, hooks.child_setup),
                            secrets=[settings.direct_url.password],
                            deadline=deadline,
                        )
                        if result.returncode != 0:
                            target.raise_own_failure()  # e.g. the upload failed: pg_dump got EPIPE
                            raise tool_failure("backup failed, nothing was kept", result)
                        _join(counter, deadline)
                        if counts.error is not None:
                            raise translate_db_error(counts.error, settings.direct_url)
                    except BaseException as exc:
                        if counter.is_alive():
                            conn.cancel()
                            counter.join(timeout=5)
                        if counter.is_alive():  # a server that does not answer: cut the session
                            abort_connection(conn)
                            counter.join(timeout=5)
                        target.abort()
                        if isinstance(exc, OperationTimeout):
                            raise OperationTimeout(f"backup stopped, nothing was kept: {exc.what}",
                                                   exc.hint) from None  # fmt: skip
                        raise
                conn.rollback()  # releases the snapshot; pg_dump is done with it
                dump_seconds = result.seconds
                t_hash = time.monotonic()
                files = target.finish()  # on failure it removes what it wrote
            hash_seconds = time.monotonic() - t_hash
            finished = now_utc()
            manifest = BackupManifest(
                name=name,
                format=options.format,
                data=data,
                compression=options.compress or "default",
                files=tuple(files),
                size_bytes=sum(f.size for f in files),
                database=settings.direct_url.masked(),
                database_name=dbname,
                server_version=server_version,
                server_version_num=int(version_num),
                pg_dump_version=tool.binary.version,
                pg_dump_path=str(tool.binary.path),
                relayed=tool.relayed,
                alembic_revision=revision,
                row_counts=counts.counts,
                schema_only=options.schema_only,
                exclude_tables=tuple(options.exclude_tables),
                jobs=options.jobs,
                started_at=started.isoformat(),
                finished_at=finished.isoformat(),
                duration_seconds=round(time.monotonic() - t0, 3),
                dbadmin_version=__version__,
                snapshot=snapshot,
                statistics=statistics,
                stale_statistics=stale,
                timings={
                    "pg_dump_seconds": round(dump_seconds, 3),
                    "row_count_seconds": round(counts.seconds, 3),
                    "checksum_seconds": round(hash_seconds, 3),
                },
            )
            # without its manifest the data is not a backup: the target removes the data if
            # the manifest cannot be written
            man_location = target.write_manifest(name, manifest.to_dict())
        finally:
            conn.close()
    return BackupResult(
        manifest, man_location, target.location_of(data), str(tool.binary.path), tool.relayed
    )


def _count_in_snapshot(conn: Any, tables: Sequence[tuple[str, str]], out: _Counts) -> None:
    started = time.monotonic()
    try:
        with conn.cursor() as cur:
            out.counts = count_rows(cur, tables)
    except BaseException as exc:  # reported by the main thread
        out.error = exc
    out.seconds = time.monotonic() - started


def _seal(temp: Path, final_name: str) -> list[FileEntry]:
    """fsync, chmod 0600 (0700 for the directory format's folder) and hash every file."""
    if temp.is_dir():
        os.chmod(temp, 0o700)
    entries = []
    for rel, path in data_files(temp):
        os.chmod(path, 0o600)
        fsync_path(path)
        rel_name = rel if temp.is_dir() else final_name
        entries.append(FileEntry(rel_name, path.stat().st_size, sha256_file(path)))
    if temp.is_dir():
        fsync_path(temp)
    return entries


def _default_name(
    taken: set[str], dbname: str, when: dt.datetime, fmt: str, spec: tuple[str, int | None] | None
) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in dbname).lstrip(".") or "db"
    base = f"{safe}-{when.strftime('%Y%m%dT%H%M%SZ')}"
    name, n = base, 1
    while manifest_path(Path(), name).name in taken or data_name(name, fmt, spec) in taken:
        n += 1
        name = f"{base}-{n}"
    return name


class DirectoryTarget:
    """Where pg_dump writes for a local directory: a ``.NAME...partial-PID`` temporary, fsynced,
    hashed, made 0600 and renamed into place once pg_dump exits 0; the manifest renamed last."""

    dump_args: tuple[str, ...] = ()

    def __init__(self, directory: Path) -> None:
        self.directory = ensure_private_dir(directory)
        self.where = str(directory)
        self.temp: Path | None = None
        self.final: Path | None = None

    def locked(self) -> AbstractContextManager[Any]:
        return directory_lock(self.directory, "backup")

    def clean_stale(self) -> None:
        remove_stale_temporaries(self.directory)

    def taken_names(self) -> set[str]:
        return {p.name for p in self.directory.iterdir()}

    def start(self, data: str) -> Path:
        self.final = self.directory / data
        self.temp = self.directory / f".{data}{PARTIAL_MARK}-{os.getpid()}"
        remove_path(self.temp)
        return self.temp

    def written(self) -> int:
        return path_size(self.temp) if self.temp else 0

    def raise_own_failure(self) -> None:
        return None

    def abort(self) -> None:
        if self.temp is not None:
            remove_path(self.temp)

    def finish(self) -> list[FileEntry]:
        assert self.temp is not None and self.final is not None
        try:
            files = _seal(self.temp, self.final.name)
            os.replace(self.temp, self.final)
            fsync_path(self.directory)
        except BaseException as exc:
            remove_path(self.temp)
            remove_path(self.final)  # did not exist before (checked under the lock)
            if isinstance(exc, OSError):
                raise BackupWriteError(
                    f"cannot finish backup file {self.final}: {exc.strerror or exc}; nothing "
                    "was kept",
                    "check free space, file size limits and permissions of the directory",
                ) from None
            raise
        return files

    def write_manifest(self, name: str, document: dict[str, Any]) -> Path:
        man_file = manifest_path(self.directory, name)
        try:
            write_json_atomic(man_file, document)
        except BaseException:
            if self.final is not None:
                remove_path(self.final)
            raise
        return man_file

    def location_of(self, data: str) -> Path:
        return self.directory / data


@contextmanager
def abort_on_error(target: Any) -> Iterator[None]:
    """Whatever stops the run (an error, Ctrl-C, SIGTERM) after the target started: abort it
    (remove the temporary, or abort the upload) before the exception goes on."""
    try:
        yield
    except BaseException:
        target.abort()
        raise


def dump_target(settings: Settings, options: BackupOptions) -> Any:
    """The local directory, or a store (``s3://...``) streamed to (see backup.streamed)."""
    from dbadmin.backup.store import StoreUrl, backup_location

    where = backup_location(options.directory, settings, options.endpoint_url)
    if isinstance(where, StoreUrl) or options.encrypt:
        from dbadmin.backup.dirstream import stream_target

        return stream_target(where, settings, options)
    return DirectoryTarget(where)
