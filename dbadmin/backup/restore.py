"""`dbadmin restore`: verify first, refuse to overwrite by accident, restore, compare, ANALYZE.

Planning (:func:`plan_restore`) changes nothing: it checks the backup's checksums, finds the
target, and refuses a target that already has tables unless ``clean`` (exit 2). The CLI shows
the plan, asks for typed confirmation, then :func:`execute_restore` runs pg_restore (or psql for
plain SQL) with ``--no-owner --no-privileges`` (Neon roles are not superusers),
``--single-transaction --exit-on-error`` when jobs = 1 (all or nothing) and ``--if-exists`` with
``--clean`` (and ``--no-statistics`` for a target before 18); then
:func:`dbadmin.backup.postrestore.after_restore` compares exact row counts with the manifest and
ANALYZEs what lacks current planner statistics.
"""

from __future__ import annotations

import gzip
import re
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from dbadmin.backup.catalog import ANY_KINDS, STATISTICS_MAJOR, count_user_relations
from dbadmin.backup.databases import connect, create_database, drop_database
from dbadmin.backup.integrity import checksum_problems, content_problems
from dbadmin.backup.manifest import BackupEntry, BackupManifest
from dbadmin.backup.postrestore import ANALYZE_WORKERS, PostRestore, after_restore
from dbadmin.backup.runner import (
    Notice,
    PreparedTool,
    ToolHooks,
    ToolResult,
    prepared_tool,
    run_tool,
    tool_conninfo,
    tool_failure,
)
from dbadmin.deadline import Deadline
from dbadmin.errors import ConnectError, ProblemFound, UsageError
from dbadmin.signals import child_preexec
from dbadmin.urls import DbUrl

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from dbadmin.settings import Settings

TRANSACTION_TIMEOUT_MAJOR = 17  # servers before 17 reject "SET transaction_timeout"
OLD_SERVER_HEADER_LINE = b"SET transaction_timeout = 0;"
HEADER_BYTES = 64 * 1024


@dataclass(frozen=True)
class RestorePlan:
    entry: BackupEntry
    target: DbUrl
    target_exists: bool
    target_tables: int
    server_major: int
    clean: bool
    create: bool
    jobs: int
    steps: tuple[str, ...]
    checksum_seconds: float = 0.0
    thorough: bool = False  # count(*) and ANALYZE every table (see backup/postrestore.py)
    analyze: bool = True  # False for a scratch database that is dropped right after
    open_data: Callable[[], AbstractContextManager[IO[bytes]]] | None = None  # streamread


@dataclass(frozen=True)
class RestoreResult:
    plan: RestorePlan
    tool: str
    relayed: bool
    restore_seconds: float
    after: PostRestore
    mismatches: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def row_counts(self) -> dict[str, int]:
        return self.after.row_counts


# --- argv ----------------------------------------------------------------------------------------
def restore_argv(
    pg_restore: str | Path,
    data: Path,
    *,
    dbname: str | None,
    clean: bool = False,
    jobs: int = 1,
    no_statistics: bool = False,
) -> list[str]:
    """pg_restore's argv: the database *name* only; host, user and password come from the env.

    ``dbname=None`` renders the SQL script on stdout instead (``--file=-``). ``no_statistics``:
    leave out the planner statistics a pg_dump 18 archive carries (servers before 18 reject
    them); ANALYZE provides them afterwards.
    """
    target = f"--dbname={dbname}" if dbname is not None else "--file=-"
    argv = [str(pg_restore), target, "--no-owner", "--no-privileges", "--no-password"]
    if no_statistics:
        argv.append("--no-statistics")
    if clean:
        argv += ["--clean", "--if-exists"]
    if jobs > 1:
        argv.append(f"--jobs={jobs}")
    elif dbname is None:
        argv.append("--single-transaction")  # BEGIN/COMMIT in the script; psql stops on error
    else:
        argv += ["--single-transaction", "--exit-on-error"]
    argv.append(str(data))
    return argv


def psql_argv(psql: str | Path, *, dbname: str, file: Path | None) -> list[str]:
    """psql's argv. Reading a ``file`` itself, psql wraps it in one transaction
    (``--single-transaction``). Fed through a pipe (``file=None``) it must NOT: psql commits a
    single transaction at end of input, and a pipe also ends when its writer dies, so a killed
    dbadmin would commit half a restore. Piped input carries its own BEGIN and COMMIT instead
    (:func:`transaction_wrapped`, pg_restore's script), and psql leaving at end of input without
    the COMMIT makes the server roll everything back."""
    argv = [
        str(psql),
        "--no-psqlrc",
        "--quiet",
        "--no-password",
        "--set=ON_ERROR_STOP=1",
        f"--dbname={dbname}",
    ]
    if file is not None:
        argv += ["--single-transaction", f"--file={file}"]
    return argv


def transaction_wrapped(
    feed: Callable[[IO[bytes]], None],
) -> Callable[[IO[bytes]], None]:
    """``feed`` between ``BEGIN;`` and ``COMMIT;``; the COMMIT is written only after ``feed``
    returned normally, i.e. after the whole source was read."""

    def wrapped(pipe: IO[bytes]) -> None:
        pipe.write(b"BEGIN;\n")
        feed(pipe)
        pipe.write(b"\n;\nCOMMIT;\n")

    return wrapped


# --- helpers -------------------------------------------------------------------------------------
def compare_counts(expected: dict[str, int], actual: dict[str, int]) -> list[str]:
    problems = []
    for table, rows in sorted(expected.items()):
        if table not in actual:
            problems.append(f"{table}: missing (expected {rows} rows)")
        elif actual[table] != rows:
            problems.append(f"{table}: {actual[table]} rows, manifest says {rows}")
    return problems


def target_state(url: DbUrl, settings: Settings) -> tuple[int, int] | None:
    """(server major, number of user tables/views) of the target database; None when it does
    not exist (one connection either way)."""
    try:
        conn = connect(url, settings)
    except ConnectError as exc:
        if re.search(r'database "[^"]*" does not exist', exc.what):
            return None
        raise
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW server_version_num")
            major = int(cur.fetchone()[0]) // 10000
            return major, count_user_relations(cur, ANY_KINDS)
    finally:
        conn.close()


def server_major_via(url: DbUrl, settings: Settings, maintenance_db: str = "postgres") -> int:
    conn = connect(url.with_database(maintenance_db), settings)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW server_version_num")
            return int(cur.fetchone()[0]) // 10000
    finally:
        conn.close()


# --- plan ----------------------------------------------------------------------------------------
def plan_restore(
    settings: Settings,
    entry: BackupEntry,
    *,
    target_url: DbUrl | None = None,
    clean: bool = False,
    create: bool = False,
    jobs: int = 1,
    checksums_verified: bool = False,
    thorough: bool = False,
    analyze: bool = True,
    pg_bin: str | None = None,
) -> RestorePlan:
    """Check everything that can be checked without changing anything.

    The backup is verified first (checksums, then its table of contents or COPY statements
    against the manifest's row counts: :func:`dbadmin.backup.integrity.content_problems`) unless
    ``checksums_verified`` says the caller has just done so (``backup verify --restore-test``:
    hashing a large backup twice is wasted time).
    """
    if jobs < 1:
        raise UsageError("--jobs must be at least 1")
    manifest = entry.manifest
    if manifest.format == "plain" and jobs > 1:
        raise UsageError("a plain SQL backup restores with psql: --jobs does not apply")
    if manifest.format == "plain" and clean:
        raise UsageError(
            "--clean is not supported for plain SQL backups (the script has no DROP statements)",
            "restore into an empty database (--create with a new --target-url), or use a "
            "custom/directory backup",
        )
    if manifest.format == "plain" and manifest.data.endswith((".zst", ".lz4")):
        raise UsageError(
            f"plain backup {manifest.data} is {manifest.data.rsplit('.', 1)[1]}-compressed",
            "decompress it and run psql, or take custom-format backups",
        )
    hashed = time.monotonic()
    problems = (
        [] if checksums_verified else checksum_problems(entry) or content_problems(entry, pg_bin)
    )
    checksum_seconds = round(time.monotonic() - hashed, 3)
    if problems:
        raise ProblemFound(
            f"backup {manifest.name} failed its checksum or manifest check, refusing to "
            f"restore: {problems[0]}"
            + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""),
            "it changed since it was written; use another backup (`dbadmin backup list`)",
        )
    target = (target_url or settings.direct_url).direct()
    if not target.database:
        raise UsageError("the target URL names no database", "add /DBNAME to --target-url")
    state = target_state(target, settings)
    exists = state is not None
    steps: list[str] = [
        f"sha256 of {len(manifest.files)} file(s) verified just before: ok"
        if checksums_verified
        else f"verify sha256 of {len(manifest.files)} file(s): ok"
    ]
    if state is not None:
        major, tables = state
        if tables and not clean:
            raise UsageError(
                f"{target.describe()} already has {tables} tables/views; nothing was changed",
                "pass --clean to drop and replace the backup's objects, or restore into a new "
                "database (--target-url .../newdb --create)",
            )
    else:
        if not create:
            raise UsageError(
                f"{target.describe()} does not exist", "pass --create to create it first"
            )
        major, tables = server_major_via(target, settings), 0
        steps.append(f"create database {target.database}")
    old_server = major < TRANSACTION_TIMEOUT_MAJOR
    if old_server and jobs > 1 and manifest.format != "plain":
        steps.append(f"--jobs {jobs} ignored: a PostgreSQL {major} target is restored as a script")
        jobs = 1
    workers = f"--jobs={jobs}" if jobs > 1 else "--single-transaction --exit-on-error"
    if manifest.format == "plain":
        steps.append(
            f"psql --single-transaction ON_ERROR_STOP=1 < {manifest.data}"
            + (
                f" (drop 'SET transaction_timeout', unknown to PostgreSQL {major})"
                if old_server
                else ""
            )
        )
    elif old_server:
        steps.append(
            "pg_restore --no-owner --no-privileges --single-transaction"
            + (" --clean --if-exists" if clean else "")
            + f" --file=- {manifest.data} | (drop 'SET transaction_timeout', unknown to "
            f"PostgreSQL {major}) | psql ON_ERROR_STOP=1"
        )
    else:
        steps.append(
            f"pg_restore --no-owner --no-privileges {workers}"
            + (" --clean --if-exists" if clean else "")
            + f" {manifest.data}"
        )
    steps += after_steps(manifest, major, thorough=thorough, analyze=analyze)
    return RestorePlan(
        entry=entry,
        target=target,
        target_exists=exists,
        target_tables=tables,
        server_major=major,
        clean=clean,
        create=create,
        jobs=jobs,
        steps=tuple(steps),
        checksum_seconds=checksum_seconds,
        thorough=thorough,
        analyze=analyze,
    )


def after_steps(
    manifest: BackupManifest, major: int, *, thorough: bool, analyze: bool
) -> list[str]:
    """What :func:`dbadmin.backup.postrestore.after_restore` will do, for the plan's steps."""
    tables = len(manifest.row_counts)
    if thorough:
        counts = f"count(*) each of the {tables} tables and compare with the manifest"
    else:
        counts = (
            f"confirm the row counts of {tables} tables with the manifest by the server's insert "
            "counters (count(*) where they differ; --thorough: always)"
        )
    steps = []
    if manifest.statistics:
        steps.append(
            "restore the planner statistics the backup carries"
            if major >= STATISTICS_MAJOR
            else f"leave out the backup's planner statistics (PostgreSQL {major} cannot take them)"
        )
    if analyze:
        steps.append(
            "ANALYZE every table"
            if thorough
            else "ANALYZE each table whose statistics are missing or stale"
        )
    return [*steps, counts]


# --- run -----------------------------------------------------------------------------------------
def execute_restore(
    settings: Settings,
    plan: RestorePlan,
    *,
    pg_bin: str | None = None,
    allow_relay: bool = True,
    notice: Notice | None = None,
    hooks: ToolHooks | None = None,
    deadline: Deadline | None = None,
) -> RestoreResult:
    """Run the plan. A database this run creates is dropped again if the restore into it fails,
    times out or is interrupted (Ctrl-C, SIGTERM, SIGHUP): an unstarted run would not have it.
    A killed run (SIGKILL) can leave it behind, empty: its restore rolled back."""
    manifest = plan.entry.manifest
    target = plan.target
    if not plan.target_exists:
        create_database(target, settings)
    try:
        tool, result, session_name = _restore_data(
            settings, plan, pg_bin=pg_bin, allow_relay=allow_relay, notice=notice, hooks=hooks,
            deadline=deadline,
        )  # fmt: skip
    except BaseException:
        if not plan.target_exists:
            _drop_quietly(target, settings)
        raise
    after = after_restore(
        target,
        manifest.row_counts,
        stale_on_source=manifest.stale_statistics,
        thorough=plan.thorough,
        analyze=plan.analyze,
        workers=max(ANALYZE_WORKERS, plan.jobs),
        connect=lambda url: connect(url, settings, deadline=deadline),
        server_major=plan.server_major,
        restore_sessions=session_name,
    )
    return RestoreResult(
        plan=plan,
        tool=str(tool.binary.path),
        relayed=tool.relayed,
        restore_seconds=round(result.seconds, 3),
        after=after,
        mismatches=tuple(compare_counts(manifest.row_counts, after.row_counts)),
    )


def _drop_quietly(target: DbUrl, settings: Settings) -> None:
    """Best effort: the original error is the one to report."""
    try:
        drop_database(target, settings)
    except Exception:
        pass


def _restore_data(
    settings: Settings,
    plan: RestorePlan,
    *,
    pg_bin: str | None,
    allow_relay: bool,
    notice: Notice | None,
    hooks: ToolHooks | None,
    deadline: Deadline | None,
) -> tuple[PreparedTool, ToolResult, str]:
    """pg_restore or psql, all or nothing (jobs = 1): (tool, its result, its session name)."""
    manifest = plan.entry.manifest
    target = plan.target
    # pg_restore must read the archive (made by pg_dump N) and talk to the server
    min_major = max(plan.server_major, manifest.pg_dump_major)
    tool_name = "psql" if manifest.format == "plain" else "pg_restore"
    with prepared_tool(
        target,
        tool=tool_name,
        min_major=min_major,
        pg_bin=pg_bin,
        allow_relay=allow_relay,
        notice=notice,
    ) as tool:
        # a name of its own for the restore's sessions, so their end can be waited for
        session_name = f"dbadmin-restore-{secrets.token_hex(4)}"
        env = {**tool.env(), "PGAPPNAME": session_name}
        dbname = tool_conninfo(target.database or "")
        data = plan.entry.data_path
        script_mode = plan.server_major < TRANSACTION_TIMEOUT_MAJOR
        no_statistics = (
            tool.binary.major >= STATISTICS_MAJOR and plan.server_major < STATISTICS_MAJOR
        )
        if manifest.format == "plain":
            gz = data.name.endswith(".gz")
            piped = gz or script_mode or plan.open_data is not None
            argv = psql_argv(tool.path, dbname=dbname, file=None if piped else data)

            def feed_file(pipe: IO[bytes]) -> None:
                local: Any = lambda: (gzip.open if gz else open)(data, "rb")  # noqa: E731
                with (plan.open_data or local)() as source:
                    copy_for_old_server(source, pipe, filter_header=script_mode)

            result = run_tool(
                argv,
                env,
                hooks=hooks,
                feed=transaction_wrapped(feed_file) if piped else None,
                secrets=[target.password],
                deadline=deadline,
            )
        elif script_mode:
            # pg_restore 17+ always emits "SET transaction_timeout = 0", which servers before 17
            # reject: render the script (-f -) and feed psql without that one header line.
            script = _ScriptSource(
                restore_argv(
                    tool.path, data, dbname=None, clean=plan.clean, jobs=1,
                    no_statistics=no_statistics,
                ),
                env,
            )  # fmt: skip
            psql = tool.sibling("psql")
            argv = psql_argv(psql.path, dbname=dbname, file=None)
            # the script holds pg_restore's own BEGIN ... COMMIT (--single-transaction)
            result = run_tool(
                argv,
                env,
                hooks=hooks,
                feed=script.feed,
                secrets=[target.password],
                deadline=deadline,
            )
            if script.returncode not in (0, None) and result.returncode == 0:
                result = ToolResult(script.argv, script.returncode, script.stderr_tail, 0.0)
            elif script.returncode not in (0, None):
                result = ToolResult(
                    result.argv, result.returncode, script.stderr_tail + result.stderr_tail
                )
        else:
            argv = restore_argv(
                tool.path, data, dbname=dbname, clean=plan.clean, jobs=plan.jobs,
                no_statistics=no_statistics,
            )  # fmt: skip
            result = run_tool(argv, env, hooks=hooks, secrets=[target.password], deadline=deadline)
        if result.returncode != 0:
            hint = (
                "the restore ran in one transaction: nothing was applied"
                if plan.jobs == 1
                else "with --jobs > 1 the restore is not atomic: the target may be partly restored"
            )
            raise tool_failure(f"restore into {target.describe()} failed", result, hint)
    return tool, result, session_name


def copy_for_old_server(source: IO[bytes], sink: IO[bytes], *, filter_header: bool) -> int:
    """Stream ``source`` to ``sink``; with ``filter_header``, drop pg_dump 17+'s
    ``SET transaction_timeout = 0;`` from the script's preamble (before any COPY data, so table
    contents are never touched). Returns the number of lines dropped."""
    removed = 0
    if filter_header:
        head = source.read(HEADER_BYTES)
        cut = head.rfind(b"\n") + 1
        head, rest = head[:cut], head[cut:]
        kept = []
        in_preamble = True
        for line in head.split(b"\n"):
            if line.startswith(b"COPY "):
                in_preamble = False
            if in_preamble and line.strip() == OLD_SERVER_HEADER_LINE:
                removed += 1
                continue
            kept.append(line)
        sink.write(b"\n".join(kept) + rest)
    shutil.copyfileobj(source, sink, 1024 * 1024)
    return removed


class _ScriptSource:
    """``pg_restore --file=-`` whose stdout is fed (filtered) into psql's stdin."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.argv = tuple(argv)
        self.env = env
        self.returncode: int | None = None
        self.stderr_tail: tuple[str, ...] = ()

    def feed(self, pipe: IO[bytes]) -> None:
        import subprocess
        import tempfile

        from dbadmin.urls import scrub

        with tempfile.TemporaryFile() as errors:
            proc = subprocess.Popen(
                list(self.argv), env=self.env, stdout=subprocess.PIPE, stderr=errors,
                stdin=subprocess.DEVNULL, preexec_fn=child_preexec(),
            )  # fmt: skip
            assert proc.stdout is not None
            try:
                copy_for_old_server(proc.stdout, pipe, filter_header=True)
            finally:
                proc.stdout.close()
                if proc.poll() is None:
                    try:
                        proc.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                self.returncode = proc.wait()
                errors.seek(0)
                text = errors.read(65536).decode("utf-8", "replace")
                self.stderr_tail = tuple(scrub(line) for line in text.splitlines()[-20:] if line)
