"""Running migrations safely, callable from Python like Alembic's ``command.py``.

``upgrade(settings, "head")`` takes the migration lock on a dedicated direct connection, then
applies one revision at a time on a second direct connection, each in its own transaction with
``SET LOCAL lock_timeout`` / ``statement_timeout``. A revision that fails on ``lock_timeout`` is
rolled back and retried with backoff; after the last attempt the error names the blocking session.
Any other failure rolls that revision back (the database stays at the previous one) and reports the
failing statement. Each applied revision's file checksum is recorded.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dbadmin.errors import (
    DbadminError,
    OperationTimeout,
    SqlError,
    UsageError,
)
from dbadmin.migrate.heads import load_scripts
from dbadmin.migrate.lock import Blocker, BlockerWatch, LockHolder, MigrationLock
from dbadmin.urls import scrub

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import Script, ScriptDirectory
    from sqlalchemy.engine import Connection

    from dbadmin.settings import Settings

log = logging.getLogger("dbadmin.migrate")


@dataclass(frozen=True)
class MigrateOptions:
    """How a run behaves; the CLI's flags map one to one."""

    config_path: str | None = None
    lock_wait: float = 60.0  # seconds to wait for another migrator
    lock_timeout: float = 5.0  # SET LOCAL lock_timeout, seconds
    statement_timeout: float = 0.0  # SET LOCAL statement_timeout, seconds; 0 = none
    attempts: int = 3  # per revision, when it fails on lock_timeout
    backoff: float = 1.0  # seconds before the 2nd attempt; doubles, with jitter
    on_lock_wait: Callable[[LockHolder | None], None] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class AppliedRevision:
    revision: str
    message: str
    duration_ms: float
    attempts: int


@dataclass(frozen=True)
class MigrateResult:
    direction: str  # "up" | "down" | "stamp"
    target: str
    before: tuple[str, ...]
    after: tuple[str, ...]
    applied: tuple[AppliedRevision, ...]
    lock_waited_s: float
    endpoint: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


class MigrationFailed(SqlError):
    """A revision failed; it was rolled back and the database stays at the previous revision."""

    def __init__(self, what: str, hint: str | None, statement: str | None) -> None:
        super().__init__(what, hint)
        self.statement = statement


# --- configuration -----------------------------------------------------------------------------
def resolve_revision(scripts: ScriptDirectory, revision: str) -> None:
    """Exit 2 early for a revision that does not exist (before touching the database)."""
    if revision in {"head", "heads", "base"} or revision.startswith(("-", "+")):
        return
    target = revision.split("@")[-1] if "@" in revision else revision
    try:
        found = scripts.get_revisions(target)
    except Exception as exc:  # alembic's CommandError and RevisionError variants
        raise UsageError(
            f"unknown revision {revision!r}: {exc}", "see `dbadmin migrate history`"
        ) from None
    if not found:
        raise UsageError(f"unknown revision {revision!r}", "see `dbadmin migrate history`")


def current_heads(conn: Connection) -> tuple[str, ...]:
    from alembic.runtime.migration import MigrationContext

    heads = MigrationContext.configure(conn).get_current_heads()
    conn.commit()
    return tuple(sorted(heads))


def database_heads(cursor: Any) -> tuple[str, ...]:
    """The revisions in ``alembic_version`` (none when it does not exist), from a DB-API cursor;
    for callers on a raw connection (``current_heads`` wants a SQLAlchemy one)."""
    cursor.execute("SELECT to_regclass('alembic_version') IS NOT NULL")
    if not cursor.fetchone()[0]:
        return ()
    cursor.execute("SELECT version_num FROM alembic_version")
    return tuple(sorted(row[0] for row in cursor.fetchall()))


# --- the run -----------------------------------------------------------------------------------
@contextmanager
def migration_session(
    settings: Settings, options: MigrateOptions
) -> Iterator[tuple[MigrationLock, Connection, BlockerWatch]]:
    """Lock connection + migration connection + blocker watch, all closed at the end."""
    from sqlalchemy import text

    from dbadmin.db import make_engine, translate_db_error
    from dbadmin.migrate import checksums
    from dbadmin.migrate.runtime import install_timeouts

    with MigrationLock(settings, wait=options.lock_wait, on_wait=options.on_lock_wait) as lock:
        engine = make_engine(settings, direct=True)
        try:
            with engine.connect() as conn:
                pid = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
                conn.execute(text("SET application_name = 'dbadmin-migrate (migrating)'"))
                conn.commit()
                checksums.ensure_table(conn)
                install_timeouts(
                    conn,
                    lock_timeout_ms=int(options.lock_timeout * 1000),
                    statement_timeout_ms=int(options.statement_timeout * 1000),
                )
                with BlockerWatch(lock, pid) as watch:
                    yield lock, conn, watch
        except DbadminError:
            raise
        except Exception as exc:
            translated = translate_db_error(exc, settings.direct_url)
            if translated is exc:
                raise
            raise translated from exc
        finally:
            engine.dispose()


def bind_connection(config: Config, settings: Settings, conn: Connection) -> Config:
    """``config`` with dbadmin's settings and the open migration connection, for env.py."""
    config.attributes["dbadmin_settings"] = settings
    config.attributes["connection"] = conn
    return config


def upgrade(
    settings: Settings, revision: str = "head", *, options: MigrateOptions | None = None
) -> MigrateResult:
    """Apply pending revisions up to ``revision`` (default head), one transaction each."""
    from alembic import command

    from dbadmin.migrate import checksums

    options = options or MigrateOptions()
    config, scripts = load_scripts(settings, options.config_path)
    resolve_revision(scripts, revision)
    with migration_session(settings, options) as (lock, conn, watch):
        before = current_heads(conn)
        pending = pending_revisions(scripts, revision, before)
        applied: list[AppliedRevision] = []
        for script in pending:
            lock.check_alive()
            log.info("applying %s (%s)", script.revision, _first_line(script.doc))

            def apply_step(target: str = script.revision) -> None:
                command.upgrade(bind_connection(config, settings, conn), target)

            attempts, duration = _with_retries(
                options, watch, script.revision, apply_step, conn, scripts
            )
            checksums.record(conn, script, duration_ms=duration)
            conn.commit()
            applied.append(
                AppliedRevision(script.revision, _first_line(script.doc), duration, attempts)
            )
        after = current_heads(conn)
        return MigrateResult(
            "up", revision, before, after, tuple(applied), lock.waited, lock.url.describe()
        )


def downgrade(
    settings: Settings,
    revision: str,
    *,
    options: MigrateOptions | None = None,
    loaded: tuple[Config, ScriptDirectory] | None = None,
) -> MigrateResult:
    """Revert to ``revision`` (an id, ``base`` or ``-N``); each revision in its own transaction.

    A linear history is reverted one revision per step (durations, retries and the failing
    revision are then exact); branched histories go through Alembic in one call. ``loaded`` is
    what ``load_scripts`` returned for ``options.config_path``, when the caller already has it.
    """
    from alembic import command

    from dbadmin.migrate import checksums

    options = options or MigrateOptions()
    config, scripts = loaded or load_scripts(settings, options.config_path)
    resolve_revision(scripts, revision)
    with migration_session(settings, options) as (lock, conn, watch):
        before = current_heads(conn)
        if revision.startswith("-") and not before:
            raise UsageError(f"cannot go down {revision}: the database is at base")
        steps = _linear_down_steps(scripts, before, revision)
        done: list[AppliedRevision] = []
        try:
            if steps is None:
                attempts, duration = _with_retries(
                    options,
                    watch,
                    None,
                    lambda: command.downgrade(bind_connection(config, settings, conn), revision),
                    conn,
                    scripts,
                )
                after = current_heads(conn)
                gone = set(checksums.applied_revisions(scripts, before)) - set(
                    checksums.applied_revisions(scripts, after)
                )
                done = [
                    AppliedRevision(r, _first_line(scripts.get_revision(r).doc), duration, attempts)
                    for r in sorted(gone)
                ]
            for script, target in steps or ():
                lock.check_alive()
                log.info("reverting %s (%s)", script.revision, _first_line(script.doc))

                def revert_step(target: str = target) -> None:
                    command.downgrade(bind_connection(config, settings, conn), target)

                attempts, duration = _with_retries(
                    options, watch, script.revision, revert_step, conn, scripts
                )
                done.append(
                    AppliedRevision(script.revision, _first_line(script.doc), duration, attempts)
                )
        finally:
            conn.rollback()
            checksums.sync(conn, scripts, current_heads(conn))
        after = current_heads(conn)
        return MigrateResult(
            "down", revision, before, after, tuple(done), lock.waited, lock.url.describe()
        )


def _linear_down_steps(
    scripts: ScriptDirectory, current: tuple[str, ...], revision: str
) -> list[tuple[Script, str]] | None:
    """[(revision to revert, target after it)] newest first, or None when not linear."""
    if len(current) != 1:
        return None if current else []
    chain: list[Script] = []
    script: Script | None = scripts.get_revision(current[0])
    while script is not None:
        down = script.down_revision
        if isinstance(down, (tuple, list)):
            return None  # a merge point: let Alembic walk it
        chain.append(script)
        script = scripts.get_revision(down) if down else None
    ids = [s.revision for s in chain]
    if revision == "base":
        count = len(chain)
    elif revision.startswith("-") and revision[1:].isdigit():
        count = int(revision[1:])
        if count > len(chain):
            raise UsageError(
                f"cannot go down {revision}: only {len(chain)} revisions are applied",
                "use `base` to revert everything",
            )
    elif revision in ids:
        count = ids.index(revision)
    else:
        return None  # a label, a partial id, another branch: Alembic resolves it
    steps = []
    for script in chain[:count]:
        down = script.down_revision
        steps.append((script, down if isinstance(down, str) else "base"))
    return steps


def stamp(
    settings: Settings, revision: str, *, options: MigrateOptions | None = None
) -> MigrateResult:
    """Record ``revision`` as applied without running it (after `schema create`, or to adopt an
    existing database); checksums are recorded for everything now marked applied."""
    from alembic import command

    from dbadmin.migrate import checksums

    options = options or MigrateOptions()
    config, scripts = load_scripts(settings, options.config_path)
    resolve_revision(scripts, revision)
    with migration_session(settings, options) as (lock, conn, _watch):
        before = current_heads(conn)
        try:
            command.stamp(bind_connection(config, settings, conn), revision)
        except Exception as exc:
            conn.rollback()
            raise _usage_or_failure(exc, revision) from None
        conn.commit()
        after = current_heads(conn)
        checksums.sync(conn, scripts, after, by=f"stamp by {checksums.applied_by()}")
        return MigrateResult("stamp", revision, before, after, (), lock.waited, lock.url.describe())


def pending_revisions(
    scripts: ScriptDirectory, target: str, current: tuple[str, ...]
) -> list[Script]:
    """Revisions to apply to go from ``current`` up to ``target``, parents first."""
    try:
        upper = scripts.iterate_revisions(target, current or "base")
        pending = list(reversed(list(upper)))
    except Exception as exc:  # alembic's CommandError, or a revision map it cannot resolve
        raise UsageError(
            f"cannot upgrade to {target!r}: {exc}", "see `dbadmin migrate status`"
        ) from None
    return pending


def _with_retries(
    options: MigrateOptions,
    watch: BlockerWatch,
    revision: str | None,
    step: Callable[[], Any],
    conn: Connection,
    scripts: ScriptDirectory,
) -> tuple[int, float]:
    """Run one step; retry it when it fails on lock_timeout. Returns (attempts, duration ms)."""
    attempts = max(1, options.attempts)
    delay = options.backoff
    for attempt in range(1, attempts + 1):
        conn.commit()  # Alembic must see no open transaction, or it treats it as external
        watch.reset()
        started = time.monotonic()
        try:
            step()
            return attempt, (time.monotonic() - started) * 1000
        except Exception as exc:
            conn.rollback()
            failing = revision or _next_down(scripts, conn)
            kind = _classify(exc)
            if kind == "lock_timeout":
                blockers = list(watch.last)
                if attempt < attempts:
                    wait = delay * (1 + random.random() * 0.25)
                    log.info(
                        "revision %s waited %gs for a lock (held by %s); attempt %d/%d failed, "
                        "retrying in %.1fs",
                        failing,
                        options.lock_timeout,
                        _blockers_text(blockers),
                        attempt,
                        attempts,
                        wait,
                    )
                    time.sleep(wait)
                    delay *= 2
                    continue
                raise OperationTimeout(
                    f"revision {failing} could not get a lock within lock_timeout "
                    f"{options.lock_timeout:g}s in {attempts} attempts; blocked by "
                    f"{_blockers_text(blockers)}",
                    "end or wait for that session (pg_terminate_backend(pid) ends it), or raise "
                    "--lock-timeout/--attempts; the database stays at the previous revision",
                ) from None
            if kind == "statement_timeout":
                raise OperationTimeout(
                    f"revision {failing} exceeded statement_timeout "
                    f"{options.statement_timeout:g}s and was rolled back",
                    "raise --statement-timeout, or make the migration cheaper",
                ) from None
            raise _usage_or_failure(exc, failing) from None
    raise AssertionError("unreachable")


def _classify(exc: BaseException) -> str:
    import psycopg2
    from sqlalchemy import exc as sa_exc

    original = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else exc
    if isinstance(original, psycopg2.errors.LockNotAvailable):
        return "lock_timeout"
    if isinstance(original, psycopg2.errors.QueryCanceled):
        return "statement_timeout"
    return "other"


def _usage_or_failure(exc: BaseException, revision: str | None) -> DbadminError:
    from alembic.util import CommandError
    from sqlalchemy import exc as sa_exc

    from dbadmin.db import pg_message

    if isinstance(exc, DbadminError):
        return exc
    if isinstance(exc, CommandError):
        return UsageError(f"alembic: {exc}", "see `dbadmin migrate status` and `history`")
    statement: str | None = None
    if isinstance(exc, sa_exc.StatementError):
        statement = exc.statement
        message = pg_message(exc.orig) if exc.orig is not None else str(exc)
    else:
        message = f"{type(exc).__name__}: {exc}"
    text = f"revision {revision} failed and was rolled back: {scrub(' '.join(message.split()))}"
    if statement:
        shown = " ".join(statement.split())
        if len(shown) > 400:
            shown = shown[:397] + "..."
        text += f"; failing statement: {scrub(shown)}"
    return MigrationFailed(
        text,
        "the database stays at the previous revision; fix the revision and run it again",
        statement,
    )


def _next_down(scripts: ScriptDirectory, conn: Connection) -> str | None:
    heads = current_heads(conn)
    return ", ".join(heads) or None


def _blockers_text(blockers: list[Blocker]) -> str:
    if not blockers:
        return "a session that was not observed (it may have finished)"
    return "; ".join(b.describe() for b in blockers)


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if (doc or "").strip() else ""
