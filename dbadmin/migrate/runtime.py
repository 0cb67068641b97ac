"""Pieces shared by dbadmin's runner and the bundled env.py: the migration lock's key and the
per-transaction timeouts.

Kept small and free of Alembic imports so that env.py (also run by plain ``alembic``) can use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

# pg_advisory_lock(int4, int4): "dbad", "migr". Shows in pg_locks as classid/objid, objsubid 2.
LOCK_CLASSID = 0x64626164
LOCK_OBJID = 0x6D696772
LOCK_APPLICATION_NAME = "dbadmin-migrate"


def timeout_sql(lock_timeout_ms: int, statement_timeout_ms: int, *, local: bool = True) -> str:
    scope = "SET LOCAL" if local else "SET"
    return (
        f"{scope} lock_timeout = {int(lock_timeout_ms)}; "
        f"{scope} statement_timeout = {int(statement_timeout_ms)}"
    )


def install_timeouts(
    connection: Connection, lock_timeout_ms: int, statement_timeout_ms: int
) -> None:
    """Apply ``SET LOCAL lock_timeout/statement_timeout`` at the start of every transaction the
    connection begins (Alembic begins one per revision).

    Inside Alembic's ``autocommit_block()`` there is no transaction: the session-level ``SET`` is
    used instead; that is safe because this is a dedicated direct connection, never a pooler.
    """
    from sqlalchemy import event

    def on_begin(conn: Any) -> None:
        dbapi = conn.connection.dbapi_connection
        with dbapi.cursor() as cur:
            cur.execute(
                timeout_sql(lock_timeout_ms, statement_timeout_ms, local=not dbapi.autocommit)
            )

    event.listen(connection, "begin", on_begin)
