"""The health checks' connection: one psycopg2 connection, one short transaction per query.

Every query runs in its own transaction after ``SET LOCAL statement_timeout`` (so it also works
through PgBouncer in transaction mode, where a session-level SET would leak to other clients).
A failed, cancelled or forbidden query raises :class:`CheckUnknown` with the reason, so the check
that ran it is UNKNOWN and the run goes on; the audit reuses this class with its own SQL folder.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dbadmin.health import queries
from dbadmin.sql import load as load_sql
from dbadmin.urls import error_line

if TYPE_CHECKING:
    import psycopg2.extensions

PER_QUERY_CAP = 5.0  # seconds; one slow catalog query must not eat the whole budget
GRANT_HINT = "grant pg_monitor to this role (GRANT pg_monitor TO <role>)"


class CheckUnknown(Exception):
    """A check cannot be judged (view not visible, query failed or timed out)."""


class ConnectionLost(CheckUnknown):
    pass


class Session:
    """One psycopg2 connection with a deadline; runs named queries in short transactions.

    ``sql_group`` names the folder of dbadmin/sql the queries come from and ``grant_hint`` what a
    role lacking rights should be given (the audit reuses this class with its own).
    """

    sql_group = queries.GROUP
    grant_hint = GRANT_HINT

    def __init__(
        self,
        conn: psycopg2.extensions.connection,
        deadline: float,
        password: str | None = None,
    ) -> None:
        conn.autocommit = True  # transactions are explicit: BEGIN; SET LOCAL ...; ROLLBACK
        self.conn = conn
        self.deadline = deadline
        self.password = password  # masked in error texts, with any URL's password
        self.major = 0
        self._visibility: tuple[bool, str, int] | None = None
        self.lost = False

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def statement_timeout_ms(self) -> int:
        return max(50, int(min(self.remaining(), PER_QUERY_CAP) * 1000))

    def rows(self, name: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The rows of named query ``name`` (dbadmin/sql/<sql_group>/)."""
        return self.run(name, load_sql(self.sql_group, name, self.major or 14), params)

    def run(
        self, name: str, sql: str, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """The rows of ``sql`` (called ``name`` in errors), bounded like every query here."""
        import psycopg2

        if self.lost:
            raise ConnectionLost("the connection was lost during the run")
        if self.remaining() <= 0.05:
            raise CheckUnknown("not run: the --timeout was reached")
        timeout_ms = self.statement_timeout_ms()
        try:
            with self.conn.cursor() as cur:
                # One round trip opens the transaction, bounds it and runs the query; a second
                # ends it (read-only: ROLLBACK).
                cur.execute(
                    f"BEGIN; SET LOCAL statement_timeout = {timeout_ms:d}; {sql}",
                    dict(params or {}),
                )
                columns = [d[0] for d in cur.description or ()]
                result = [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]
                cur.execute("ROLLBACK")
            return result
        except psycopg2.errors.QueryCanceled:
            self._reset()
            raise CheckUnknown(f"query cancelled by statement_timeout ({timeout_ms} ms)") from None
        except psycopg2.errors.InsufficientPrivilege as exc:
            self._reset()
            raise CheckUnknown(
                f"permission denied ({self.error_line(exc)}); {self.grant_hint}"
            ) from None
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
            if getattr(exc, "pgcode", None) is None or self.conn.closed:
                self.lost = True
                raise ConnectionLost(f"connection lost: {self.error_line(exc)}") from None
            self._reset()
            raise CheckUnknown(f"query failed: {self.error_line(exc)}") from None
        except psycopg2.Error as exc:
            self._reset()
            raise CheckUnknown(f"query {name}.sql failed: {self.error_line(exc)}") from None

    def error_line(self, exc: BaseException) -> str:
        return error_line(exc, self.password)

    def _reset(self) -> None:
        try:
            with self.conn.cursor() as cur:
                cur.execute("ROLLBACK")
        except Exception:
            self.lost = True

    def visibility(self) -> tuple[bool, str, int]:
        """(sees all sessions, role name, sessions hidden from this role)."""
        if self._visibility is None:
            row = self.rows("activity_visibility")[0]
            self._visibility = (
                bool(row["sees_all"]),
                str(row["role"]),
                int(row["hidden_sessions"] or 0),
            )
        return self._visibility
