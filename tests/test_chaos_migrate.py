"""Chaos: `dbadmin migrate up` stopped by a signal in the middle of a revision.

An event trigger in the target database sleeps after each CREATE TABLE, so the signal arrives
while the first revision is half-applied inside its transaction. Afterwards the database is as an
unstarted run left it: no table, no alembic_version row, and the advisory lock is free again.
SIGTERM does not wait for the sleeping statement: dbadmin cancels it (dbadmin.signals).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PgServer
from test_chaos_restore import (
    _check_exit,
    _dbadmin,
    _stalled,
    _stop,
    _user_tables,
    _wait_sessions_gone,
    _wait_until,
)

STALL_TABLES_SQL = """
CREATE FUNCTION stall() RETURNS event_trigger LANGUAGE plpgsql AS
$$ BEGIN PERFORM pg_sleep(30); END $$;
CREATE EVENT TRIGGER stall_tables ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION stall();
"""


@pytest.fixture
def stalling_db(pg_server: PgServer) -> Iterator[str]:
    name = pg_server.create_database()
    pg_server.execute(STALL_TABLES_SQL, name)
    pg_server.execute(f'ALTER DATABASE "{name}" SET client_connection_check_interval = 200')
    yield name
    pg_server.drop_database(name)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_migration_stopped_mid_revision_leaves_an_unstarted_database(
    sig: signal.Signals, pg_server: PgServer, stalling_db: str, tmp_path: Path
) -> None:
    url = pg_server.url(stalling_db).render()
    proc = _dbadmin("migrate", "up", "-d", url, cwd=tmp_path)
    _wait_until("the first CREATE TABLE", _stalled(pg_server, stalling_db), proc)
    signalled = time.monotonic()
    code, err, _children = _stop(proc, sig)
    # the running statement was cancelled, not waited for (the trigger sleeps 30 s)
    assert time.monotonic() - signalled < 20
    _check_exit(code, err, sig)
    _wait_sessions_gone(pg_server, stalling_db)
    assert _user_tables(pg_server, stalling_db) == []  # no half revision, no alembic_version
    # the advisory lock went with the session: a new run is not blocked by a ghost
    pg_server.execute("DROP EVENT TRIGGER stall_tables", stalling_db)
    again = _dbadmin("migrate", "up", "-d", url, cwd=tmp_path)
    _out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert "alembic_version" in _user_tables(pg_server, stalling_db)
