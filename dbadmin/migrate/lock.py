"""The migration lock: one migrator per database, on a dedicated direct connection.

:class:`AdvisoryLock` is the mechanism (``dbadmin seed`` uses it too, under its own key);
:class:`MigrationLock` is the migrators' instance of it. A session-level advisory lock
(``pg_try_advisory_lock``) is held for the whole run by its own
connection, so it survives the per-revision transactions and is released if the process dies.
While holding it, the same connection watches ``pg_blocking_pids()`` of the migrating session,
so that a revision that times out on ``lock_timeout`` can name who blocked it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Self

from dbadmin.db import fetch_one
from dbadmin.errors import ConfigError, ConnectError, OperationTimeout
from dbadmin.migrate.runtime import LOCK_APPLICATION_NAME, LOCK_CLASSID, LOCK_OBJID
from dbadmin.urls import scrub, scrub_sql

if TYPE_CHECKING:
    import psycopg2.extensions

    from dbadmin.settings import Settings
    from dbadmin.urls import DbUrl

log = logging.getLogger("dbadmin.migrate")

HOLDER_SQL = """
SELECT a.pid, a.backend_start, a.application_name, a.usename, host(a.client_addr), a.state
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s
  AND l.objsubid = 2 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""
BLOCKERS_SQL = """
SELECT a.pid, a.query, a.state, a.xact_start, a.application_name, a.usename
FROM pg_stat_activity a WHERE a.pid = ANY (pg_blocking_pids(%s)) ORDER BY a.pid
"""


@dataclass(frozen=True)
class LockHolder:
    """The session holding the migration lock (another migrator)."""

    pid: int
    since: datetime | None
    application_name: str
    user: str | None
    client: str | None

    def describe(self) -> str:
        since = self.since.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if self.since else "?"
        who = self.application_name or "unknown application"
        where = f" from {self.client}" if self.client else ""
        return f"pid {self.pid} ({who}, user {self.user or '?'}{where}, connected since {since})"


@dataclass(frozen=True)
class Blocker:
    """A session holding a lock the migration waited for."""

    pid: int
    query: str
    state: str | None
    xact_start: datetime | None
    application_name: str
    user: str | None

    def describe(self) -> str:
        query = scrub_sql(" ".join(self.query.split()))
        if len(query) > 200:
            query = query[:197] + "..."
        since = (
            f", in transaction since {self.xact_start.strftime('%H:%M:%S')}"
            if self.xact_start
            else ""
        )
        app = f" {self.application_name}" if self.application_name else ""
        return f"pid {self.pid} ({self.user or '?'}{app}, {self.state or '?'}{since}): {query}"


def _direct_url_or_refuse(settings: Settings, purpose: str) -> DbUrl:
    url = settings.direct_url
    if url.is_pooler:
        raise ConfigError(
            f"the direct URL {url.describe()} is a -pooler endpoint (PgBouncer, transaction mode)",
            "session-level locks do not work through it; set DATABASE_DIRECT_URL to the direct "
            "endpoint (the host without -pooler)",
        )
    if settings.url.is_pooler:
        log.info(
            "using the direct endpoint %s for %s (not the -pooler endpoint)",
            url.describe(),
            purpose,
        )
    return url


class AdvisoryLock:
    """``with AdvisoryLock(settings, wait=60) as lock:`` — held until the block ends.

    Subclasses name their key (``objid``, under dbadmin's ``LOCK_CLASSID``), what the lock
    guards (``label``, for messages) and the lock session's ``application_name``.
    """

    objid = LOCK_OBJID
    label = "migration"
    purpose = "migrations"
    application_name = LOCK_APPLICATION_NAME

    def __init__(
        self,
        settings: Settings,
        *,
        wait: float = 60.0,
        on_wait: Callable[[LockHolder | None], None] | None = None,
        poll: float = 0.2,
    ) -> None:
        self.settings = settings
        self.url = _direct_url_or_refuse(settings, self.purpose)
        self.wait = wait
        self.on_wait = on_wait or self._log_wait
        self.poll = poll
        self.conn: psycopg2.extensions.connection | None = None
        self.waited = 0.0
        self._use = threading.Lock()

    def __enter__(self) -> Self:
        from dbadmin.db import connect_raw

        conn = connect_raw(
            self.url,
            connect_timeout=self.settings.connect_timeout,
            retry_seconds=self.settings.connect_retry_seconds,
            application_name=self.application_name,
        )
        conn.autocommit = True
        self.conn = conn
        try:
            self._acquire()
        except BaseException:
            conn.close()
            self.conn = None
            raise
        return self

    def _acquire(self) -> None:
        assert self.conn is not None
        started = time.monotonic()
        deadline = started + max(self.wait, 0.0)
        reported: int | None = -1
        with self.conn.cursor() as cur:
            while True:
                cur.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASSID, self.objid))
                if fetch_one(cur)[0]:
                    self.waited = time.monotonic() - started
                    return
                holder = self.holder()
                if (holder.pid if holder else None) != reported:
                    reported = holder.pid if holder else None
                    self.on_wait(holder)
                if time.monotonic() >= deadline:
                    who = holder.describe() if holder else "another session"
                    raise OperationTimeout(
                        f"another {self.label} holds the {self.label} lock: {who}; "
                        f"gave up after {self.wait:g} s",
                        "wait for it to finish, or raise --lock-wait",
                    )
                time.sleep(min(self.poll, max(deadline - time.monotonic(), 0.01)))

    def holder(self) -> LockHolder | None:
        assert self.conn is not None
        with self._use, self.conn.cursor() as cur:
            cur.execute(HOLDER_SQL, (LOCK_CLASSID, self.objid))
            row = cur.fetchone()
        if row is None:
            return None
        return LockHolder(int(row[0]), row[1], row[2] or "", row[3], row[4])

    def blockers_of(self, pid: int) -> list[Blocker]:
        assert self.conn is not None
        with self._use, self.conn.cursor() as cur:
            cur.execute(BLOCKERS_SQL, (pid,))
            rows = cur.fetchall()
        return [Blocker(int(r[0]), r[1] or "", r[2], r[3], r[4] or "", r[5]) for r in rows]

    def check_alive(self) -> None:
        """Raise when the lock's connection died (the lock went with it)."""
        assert self.conn is not None
        try:
            with self._use, self.conn.cursor() as cur:
                cur.execute("SELECT 1")
        except Exception as exc:
            raise ConnectError(
                f"lost the {self.label} lock's connection: {scrub(str(exc).strip())}",
                "the database stays at the last completed revision; run `dbadmin migrate up` again",
            ) from None

    def __exit__(self, *exc: object) -> None:
        conn, self.conn = self.conn, None
        if conn is None:
            return
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASSID, self.objid))
        except Exception:  # closing the session releases it anyway
            pass
        finally:
            conn.close()

    def _log_wait(self, holder: LockHolder | None) -> None:
        who = holder.describe() if holder else "another session"
        log.info("waiting for the %s lock held by %s", self.label, who)


class MigrationLock(AdvisoryLock):
    """One migrator per database (``dbadmin migrate up/down/stamp``)."""


class BlockerWatch:
    """Polls who blocks the migrating session; remembers the last blockers seen."""

    def __init__(self, lock: AdvisoryLock, pid: int, interval: float = 0.1) -> None:
        self.lock = lock
        self.pid = pid
        self.interval = interval
        self.last: list[Blocker] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dbadmin-blocker-watch", daemon=True)

    def __enter__(self) -> BlockerWatch:
        self._thread.start()
        return self

    def reset(self) -> None:
        self.last = []

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                found = self.lock.blockers_of(self.pid)
            except Exception:  # the main thread notices a dead lock connection
                return
            if found:
                self.last = found

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
