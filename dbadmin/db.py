"""Engines and connections: psycopg2, connect timeout, retries with backoff, error translation.

A connect failure is waited out only when it can pass for that endpoint: a server starting or
a Neon compute waking (connection refused on a TCP port, "the database system is starting up",
Neon's "compute is starting"), or the socket of a server that is starting (its lock file is
there, or it is dbadmin's embedded server's socket directory). Anything else fails at once
(exit 3): no such host, no socket at another path, authentication, no such database, a bad
sslmode. While waiting, one log record starts the wait and live updates follow (marked with
``extra={WAIT_STATUS: ...}``): the CLI shows them as one status line on a terminal and as one
line in a log. Messages go through :func:`scrub`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from dbadmin import signals
from dbadmin.errors import ConfigError, ConnectError, DbadminError, OperationTimeout, SqlError
from dbadmin.urls import DbUrl, scrub

if TYPE_CHECKING:
    import psycopg2.extensions
    from sqlalchemy.engine import Connection, Engine

    from dbadmin.settings import Settings

log = logging.getLogger("dbadmin")
APPLICATION_NAME = "dbadmin"

TRANSIENT_MARKERS = (
    "connection refused",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "terminating connection due to administrator command",
    "server closed the connection unexpectedly",
    "ssl syscall error",
    "timeout expired",
    "connection timed out",
    "too many clients already",
    "remaining connection slots are reserved",
    "no such file or directory",  # unix socket not there yet (server starting)
    "could not receive data from server",
    "compute is starting",
    "couldn't connect to compute node",
)
AUTH_MARKERS = (
    "password authentication failed",
    "no password supplied",
    "authentication failed",
    "pg_hba.conf",
    'role "',
)


WAIT_STATUS = "dbadmin_wait"  # log records about a connect wait: "start", "update" or "end"
EMBEDDED_SOCKET_PREFIX = "dbadmin-"  # dbadmin.local.socket_dir_for's directories under /tmp


def is_transient(message: str) -> bool:
    low = message.lower()
    if any(marker in low for marker in AUTH_MARKERS):
        return False
    return any(marker in low for marker in TRANSIENT_MARKERS)


def is_transient_for(message: str, url: DbUrl) -> bool:
    """:func:`is_transient`, and for a Unix socket that is not there: only when a server is
    starting on it (its ``.s.PGSQL.PORT.lock`` exists) or it is in an embedded server's socket
    directory (``HOME/run`` beside ``HOME/pgdata``, or ``/tmp/dbadmin-*``), which dbadmin starts.
    A socket path with a typo fails at once."""
    if not is_transient(message):
        return False
    host = url.host or ""
    if not host.startswith("/") or "no such file or directory" not in message.lower():
        return True
    from pathlib import Path

    directory = Path(host)
    if (directory / f".s.PGSQL.{url.port or 5432}.lock").exists():
        return True
    if directory.name == "run" and (directory.parent / "pgdata").is_dir():
        return True
    import tempfile

    return directory.name.startswith(EMBEDDED_SOCKET_PREFIX) and directory.parent in {
        Path("/tmp"),
        Path(tempfile.gettempdir()),
    }


def login_user(url: DbUrl) -> str:
    """The user libpq logs in as: the URL's, else $PGUSER, else the operating-system user."""
    import getpass
    import os

    try:
        return url.user or os.environ.get("PGUSER") or getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for this uid
        return "(default)"


def translate_connect_error(exc: BaseException, url: DbUrl) -> DbadminError:
    """Turn a psycopg2 connect failure into a one-line, secret-free DbadminError."""
    raw = str(exc).strip()
    first = raw.splitlines()[0] if raw else type(exc).__name__
    message = scrub(first, url.password)
    low = raw.lower()
    where = url.describe()
    if "password authentication failed" in low or "no password supplied" in low:
        return ConnectError(
            f"authentication failed for user {login_user(url)} on {where}",
            "check the user and password in DATABASE_URL (the password is not shown)",
        )
    if "does not exist" in low and "database" in low:
        return ConnectError(f"{message}", "create the database or fix the name in the URL")
    if "could not translate host name" in low or "name or service not known" in low:
        return ConnectError(
            f"cannot resolve host {url.host}", "check the host name in DATABASE_URL"
        )
    if "sslmode value" in low and "not compiled in" in low:
        return ConfigError(message, "this libpq lacks TLS; install psycopg2-binary")
    if "invalid sslmode value" in low:
        return ConnectError(
            message, "use sslmode=disable, allow, prefer, require, verify-ca or verify-full"
        )
    if "no such file or directory" in low and (url.host or "").startswith("/"):
        return ConnectError(
            f"no server socket at {url.host} (port {url.port or 5432})",
            "check the socket directory and port in the URL; is the server running?",
        )
    if "endpoint id is not specified" in low:
        return ConnectError(
            "the Neon endpoint ID was not sent (old libpq without SNI)",
            "upgrade libpq (psycopg2-binary) or add options=endpoint%3D<endpoint-id> to the URL",
        )
    if "timeout expired" in low or "timed out" in low:
        return ConnectError(f"connection to {where} timed out", "check the host, port and firewall")
    return ConnectError(
        f"cannot connect to {where}: {message}",
        "check that the server is running and the URL is right",
    )


def connect_raw(
    url: DbUrl,
    *,
    connect_timeout: int = 10,
    retry_seconds: float = 30.0,
    application_name: str = APPLICATION_NAME,
    sleep: Callable[[float], None] = time.sleep,
) -> psycopg2.extensions.connection:
    """A psycopg2 connection, waiting out transient failures (:func:`is_transient_for`) within
    ``retry_seconds``; a permanent one is raised at once."""
    import psycopg2

    kwargs: dict[str, Any] = url.connect_kwargs()
    kwargs.setdefault("connect_timeout", str(connect_timeout))
    kwargs.setdefault("application_name", application_name)
    deadline = time.monotonic() + max(retry_seconds, 0.0)
    delay = 0.25
    attempt = 0
    waiting_since: float | None = None
    try:
        while True:
            attempt += 1
            try:
                conn = psycopg2.connect(**kwargs)
                signals.track(conn)  # a stop signal cancels its running statement at once
                if waiting_since is not None:
                    took = time.monotonic() - waiting_since
                    log.info("connected to %s after %.1f s", url.describe(), took, extra=_END)
                    waiting_since = None
                return conn
            except psycopg2.OperationalError as exc:
                message = str(exc)
                transient = is_transient_for(message, url)
                remaining = deadline - time.monotonic()
                if not transient or remaining <= 0:
                    error = translate_connect_error(exc, url)
                    if transient and attempt > 1:
                        error.what += (
                            f" (gave up after {attempt} attempts in {retry_seconds:.0f} s)"
                        )
                    raise error from None
                first = message.strip().splitlines()[0] if message.strip() else ""
                reason = scrub(first, url.password)
                if waiting_since is None:
                    waiting_since = time.monotonic()
                    log.warning(
                        "waiting for %s (%s), up to %.0f s",
                        url.describe(),
                        reason,
                        remaining,
                        extra={WAIT_STATUS: "start"},
                    )
                _sleep_counting_down(
                    min(delay * (1 + random.random()), remaining, 5.0), deadline, url, sleep
                )
                delay = min(delay * 2, 5.0)
    finally:
        if waiting_since is not None:  # gave up or interrupted: end the status line
            log.info("stopped waiting for %s", url.describe(), extra=_END)


_END = {WAIT_STATUS: "end"}


def _sleep_counting_down(
    seconds: float, deadline: float, url: DbUrl, sleep: Callable[[float], None]
) -> None:
    """Sleep ``seconds`` in slices of at most one second, logging the budget left after each
    (the live status line on a terminal; dropped in logs)."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        sleep(min(left, 1.0))
        log.info(
            "waiting for %s: %.0f s left",
            url.describe(),
            max(deadline - time.monotonic(), 0.0),
            extra={WAIT_STATUS: "update"},
        )


def make_engine(
    settings: Settings,
    *,
    direct: bool = False,
    url: DbUrl | None = None,
    pooled: bool = False,
    **engine_kwargs: Any,
) -> Engine:
    """An Engine for the configured database.

    ``direct=True`` uses the direct endpoint (Neon: never the ``-pooler``) for session work.
    ``pooled=True`` mirrors the application's QueuePool settings; otherwise NullPool (a CLI run
    opens few connections and must not keep them).
    """
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    target = url or (settings.direct_url if direct else settings.url)

    def creator() -> psycopg2.extensions.connection:
        return connect_raw(
            target,
            connect_timeout=settings.connect_timeout,
            retry_seconds=settings.connect_retry_seconds,
        )

    options: dict[str, Any] = {"creator": creator}
    if pooled:
        pool = settings.pool
        options.update(
            pool_size=pool.pool_size,
            max_overflow=pool.max_overflow,
            pool_timeout=pool.pool_timeout,
            pool_recycle=pool.pool_recycle,
            pool_pre_ping=pool.pool_pre_ping,
        )
    else:
        options["poolclass"] = NullPool
    options.update(engine_kwargs)
    return create_engine(target.render(driver="psycopg2", hide_password=True), **options)


@contextmanager
def connect(
    settings: Settings, *, direct: bool = False, url: DbUrl | None = None
) -> Iterator[Connection]:
    """A SQLAlchemy connection that is always closed, with errors translated."""
    engine = make_engine(settings, direct=direct, url=url)
    try:
        with engine.connect() as conn:
            yield conn
    except DbadminError:
        raise
    except Exception as exc:
        raise translate_db_error(
            exc, url or (settings.direct_url if direct else settings.url)
        ) from exc
    finally:
        engine.dispose()


@contextmanager
def raw_connection(
    settings: Settings, *, direct: bool = False, url: DbUrl | None = None, autocommit: bool = False
) -> Iterator[psycopg2.extensions.connection]:
    """A plain psycopg2 connection (for COPY and fine-grained transaction control)."""
    target = url or (settings.direct_url if direct else settings.url)
    conn = connect_raw(
        target,
        connect_timeout=settings.connect_timeout,
        retry_seconds=settings.connect_retry_seconds,
    )
    conn.autocommit = autocommit
    try:
        yield conn
    except DbadminError:
        raise
    except Exception as exc:
        raise translate_db_error(exc, target) from exc
    finally:
        conn.close()


def translate_db_error(exc: BaseException, url: DbUrl | None = None) -> BaseException:
    """Map driver/SQLAlchemy errors to DbadminError; leaves anything else untouched."""
    import psycopg2
    from sqlalchemy import exc as sa_exc

    original: BaseException = exc
    if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None:
        original = exc.orig
    password = url.password if url else None
    if isinstance(original, psycopg2.errors.QueryCanceled):
        return OperationTimeout(
            f"statement cancelled: {scrub(pg_message(original), password)}",
            "raise the timeout or make the statement cheaper",
        )
    if isinstance(original, psycopg2.errors.LockNotAvailable):
        return OperationTimeout(
            f"lock not available: {scrub(pg_message(original), password)}",
            "another session holds a conflicting lock; retry later",
        )
    if (
        isinstance(original, psycopg2.OperationalError)
        and getattr(original, "pgcode", None) is None
    ):
        if url is not None:
            return translate_connect_error(original, url)
        return ConnectError(scrub(" ".join(str(original).split()) or type(original).__name__))
    if isinstance(original, psycopg2.Error):
        return SqlError(scrub(pg_message(original), password))
    return exc


def pg_message(exc: BaseException) -> str:
    """PostgreSQL's primary message with its position, on one line."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag else None
    text = primary or str(exc).strip().splitlines()[0]
    position = getattr(diag, "statement_position", None) if diag else None
    if position:
        text += f" (at character {position})"
    hint = getattr(diag, "message_hint", None) if diag else None
    if hint:
        text += f"; hint: {hint}"
    return text


def fetch_one(cur: psycopg2.extensions.cursor) -> tuple[Any, ...]:
    """The row of a query that always returns one (a SELECT of expressions, SHOW, an aggregate).

    psycopg2 types ``fetchone()`` as optional; no row here is the server's surprise, not a None
    to index further down.
    """
    row = cur.fetchone()
    if row is None:
        raise SqlError("the server returned no row for a query that always returns one")
    return row


def server_version_num(conn: Connection) -> int:
    from sqlalchemy import text

    return int(conn.execute(text("SHOW server_version_num")).scalar_one())
