"""Chaos for `dbadmin explain` (issue 13, items 6 and 7): a server that stops answering in the
middle of a statement, settings that try to lift --timeout, and statements whose effects would
outlive the rolled-back transaction. Real server, both lanes; every wait is bounded.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from conftest import Cli, PgServer
from test_explain import run_sql

from dbadmin.errors import ExitCode
from dbadmin.explain.safety import statement_effects
from dbadmin.urls import DbUrl

UNREACHABLE = "postgresql://u:pw@127.0.0.1:1/db"


def _wait_for(url: DbUrl, sql: str, expected: list[tuple[object, ...]], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while (got := run_sql(url, sql)) != expected:
        assert time.monotonic() < deadline, f"{sql} -> {got}, expected {expected}"
        time.sleep(0.1)


# --- nothing hangs -----------------------------------------------------------------------------
def test_a_backend_that_stops_answering_ends_explain_with_exit_4_in_bounded_time(
    fresh_db: DbUrl, pg_server: PgServer
) -> None:
    """SIGSTOP the explain session's backend mid-statement: the server's statement_timeout
    never fires, so only the client-side deadline (cancel, then cutting the socket) ends it."""
    app = f"chaos_{uuid.uuid4().hex[:8]}"
    url = fresh_db.with_query(application_name=app)
    timeout = 3.0
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dbadmin", "explain", "-d", url.render(), "--timeout", "3",
         "SELECT pg_sleep(60)"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )  # fmt: skip
    find = (
        "SELECT pid FROM pg_stat_activity WHERE application_name = '"
        + app
        + "' AND state = 'active' AND query LIKE 'EXPLAIN%pg_sleep(60)%'"
    )
    pid: int | None = None
    try:
        deadline = time.monotonic() + 20
        while pid is None:
            rows = run_sql(fresh_db, find)
            if rows:
                pid = int(rows[0][0])  # type: ignore[call-overload]
                break
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr
            time.sleep(0.05)
        os.kill(pid, signal.SIGSTOP)
        _, err = proc.communicate(timeout=30)
        elapsed = time.monotonic() - started
    finally:
        if pid is not None:
            os.kill(pid, signal.SIGCONT)
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == ExitCode.TIMEOUT, err
    assert "did not answer within --timeout 3 s" in err and "Traceback" not in err
    # generous bound that proves "no hang": timeout + grace + abort waits + interpreter start
    assert elapsed < timeout + 12, elapsed
    # once it can run again, the backend finds its client gone and ends: nothing left running
    _wait_for(fresh_db, f"SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}", [(0,)], 15)


@pytest.mark.parametrize(
    "setting",
    [
        "statement_timeout=0",
        "Statement_Timeout=1h",
        "lock_timeout=0",
        "idle_in_transaction_session_timeout=0",
        "transaction_timeout=0",
        "transaction_read_only=off",
    ],
)
def test_set_cannot_lift_the_timeout_or_read_only(cli: Cli, setting: str) -> None:
    # refused before connecting: the unreachable server would otherwise give exit 3
    res = cli("explain", "-d", UNREACHABLE, "--timeout", "3", "--set", setting, "SELECT 1")
    assert res.exit_code == ExitCode.USAGE, res.stderr
    assert "is not allowed" in res.stderr and "--timeout" in res.stderr


def test_other_settings_still_apply(cli: Cli, fresh_db: DbUrl) -> None:
    res = cli("explain", "-d", fresh_db.render(), "--json", "--set", "work_mem=7MB", "SELECT 1")
    assert res.exit_code == 0, res.stderr
    assert res.json()["settings"].get("work_mem") == "7MB"  # type: ignore[index,union-attr]


# --- explain cannot act outside its transaction ------------------------------------------------
WRITES = """
CREATE TABLE t (id int PRIMARY KEY);
INSERT INTO t VALUES (1), (2), (3);
CREATE SEQUENCE s;
CREATE FUNCTION sneaky() RETURNS int LANGUAGE sql VOLATILE AS 'INSERT INTO t VALUES (42) RETURNING 1';
"""


def test_a_plain_select_runs_read_only(cli: Cli, fresh_db: DbUrl) -> None:
    run_sql(fresh_db, WRITES)
    url = fresh_db.render()
    res = cli("explain", "-d", url, "SELECT sneaky()")
    assert res.exit_code == ExitCode.PROBLEM, res.stderr
    assert "read-only transaction" in res.stderr and "--allow-side-effects" in res.stderr
    # read-write on request, and still rolled back
    res = cli("explain", "-d", url, "--allow-side-effects", "SELECT sneaky()")
    assert res.exit_code == 0, res.stderr
    assert run_sql(fresh_db, "SELECT count(*) FROM t") == [(3,)]


@pytest.mark.parametrize(
    "sql",
    [
        "WITH d AS (DELETE FROM t RETURNING *) SELECT count(*) FROM d",
        "SELECT * FROM t WHERE id = 1 FOR UPDATE SKIP LOCKED",
        "SELECT * INTO t2 FROM t",
        "DELETE FROM t",
    ],
)
def test_statements_that_write_or_lock_still_run_and_roll_back(
    cli: Cli, fresh_db: DbUrl, sql: str
) -> None:
    run_sql(fresh_db, WRITES)
    res = cli("explain", "-d", fresh_db.render(), "--json", sql)
    assert res.exit_code == 0, res.stderr
    assert run_sql(fresh_db, "SELECT count(*) FROM t") == [(3,)]
    assert run_sql(fresh_db, "SELECT to_regclass('t2') IS NULL") == [(True,)]


def test_calls_that_survive_a_rollback_are_refused(cli: Cli, fresh_db: DbUrl) -> None:
    """Each refused before anything runs; the victim session lives, the sequence is untouched."""
    import psycopg2

    run_sql(fresh_db, WRITES + "SELECT setval('s', 10);")
    victim = psycopg2.connect(**fresh_db.connect_kwargs())
    try:
        with victim.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            pid = cur.fetchone()[0]  # type: ignore[index]
        url = fresh_db.render()
        refused = {
            f"SELECT pg_terminate_backend({pid})": "pg_terminate_backend",
            f"SELECT * FROM pg_catalog.pg_cancel_backend({pid})": "pg_cancel_backend",
            f"SELECT id FROM t WHERE id = 1 OR pg_terminate_backend({pid})": "pg_terminate_backend",
            f"WITH x AS (SELECT pg_terminate_backend({pid})) SELECT * FROM x": "pg_terminate_backend",
            "SELECT (SELECT pg_reload_conf())": "pg_reload_conf",
            "SELECT pg_rotate_logfile()": "pg_rotate_logfile",
            "SELECT setval('s', 1000)": "setval",
            "SELECT nextval('s')": "nextval",
            "INSERT INTO t SELECT nextval('s')": "nextval",
            "SELECT pg_advisory_lock(1)": "pg_advisory_lock",
            "SELECT lo_export(1, '/tmp/x')": "lo_export",
            "SELECT lo_import('/etc/passwd')": "lo_import",
            "SELECT lo_unlink(1)": "lo_unlink",
            "SELECT dblink_exec('host=x', 'DROP TABLE t')": "dblink_exec",
            "SELECT * FROM dblink('host=x', 'SELECT 1') AS r(i int)": "dblink",
            'SELECT "PG_TERMINATE_BACKEND"(1)': "pg_terminate_backend",  # lower-cased: conservative
            "UPDATE t SET id = id WHERE pg_stat_reset() IS NULL": "pg_stat_reset",
        }
        for sql, name in refused.items():
            res = cli("explain", "-d", url, sql)
            assert res.exit_code == ExitCode.USAGE, (sql, res.stderr)
            assert f"{name}()" in res.stderr and "--allow-side-effects" in res.stderr, sql
            assert "nothing was run" in res.stderr
        with victim.cursor() as cur:  # the victim's session was never touched
            cur.execute("SELECT 1")
        assert run_sql(fresh_db, "SELECT last_value FROM s") == [(10,)]
        # --no-analyze plans without running anything: allowed, still no effect
        res = cli("explain", "-d", url, "--no-analyze", f"SELECT pg_terminate_backend({pid})")
        assert res.exit_code == 0, res.stderr
        with victim.cursor() as cur:
            cur.execute("SELECT 1")
        # the flag really runs it: this is what the refusal prevented
        res = cli("explain", "-d", url, "--allow-side-effects", "SELECT setval('s', 1000)")
        assert res.exit_code == 0, res.stderr
        assert run_sql(fresh_db, "SELECT last_value FROM s") == [(1000,)]
    finally:
        victim.close()


def test_transactional_calls_are_not_refused(cli: Cli, fresh_db: DbUrl) -> None:
    run_sql(fresh_db, WRITES)
    url = fresh_db.render()
    for sql in (
        "SELECT pg_notify('ch', 'x')",  # delivered only on commit: the rollback drops it
        "SELECT pg_advisory_xact_lock(1)",  # released by the rollback
        "SELECT currval_ok FROM (SELECT 1 AS currval_ok) s",
    ):
        res = cli("explain", "-d", url, sql)
        assert res.exit_code == 0, (sql, res.stderr)


@pytest.mark.parametrize(
    ("sql", "name"),
    [
        ("VACUUM t", "VACUUM"),
        ("VACUUM (ANALYZE) t", "VACUUM"),
        ("CREATE INDEX CONCURRENTLY ix ON t (id)", "CREATE INDEX CONCURRENTLY"),
        ("DROP INDEX CONCURRENTLY ix", "DROP INDEX CONCURRENTLY"),
        ("REINDEX (CONCURRENTLY) TABLE t", "REINDEX CONCURRENTLY"),
        ("CREATE DATABASE other", "CREATE DATABASE"),
        ("DROP DATABASE other", "DROP DATABASE"),
        ("ALTER SYSTEM SET work_mem = '1GB'", "ALTER SYSTEM"),
    ],
)
def test_statements_that_cannot_run_in_a_transaction_are_refused_clearly(
    cli: Cli, sql: str, name: str
) -> None:
    res = cli("explain", "-d", UNREACHABLE, sql)  # refused before connecting
    assert res.exit_code == ExitCode.USAGE, res.stderr
    assert f"{name} cannot run inside a transaction block" in res.stderr
    assert "nothing was run" in res.stderr


def test_copy_to_program_is_refused(cli: Cli) -> None:
    res = cli("explain", "-d", UNREACHABLE, "COPY t TO PROGRAM 'touch /tmp/owned'")
    assert res.exit_code == ExitCode.USAGE and "COPY" in res.stderr


def test_the_lexer_fallback_finds_the_same_calls() -> None:
    """Text pglast cannot parse (a typo the server will report, or newer syntax)."""
    effects = statement_effects("SELEC pg_terminate_backend(1), x FROM t")
    assert effects.side_effects == ("pg_terminate_backend",)
    assert statement_effects("SELECT 1 FROM t WHERE x = ANY(").read_only is True
    assert statement_effects("SELECT 1 FROM t WHERE x = ANY( FOR UPDATE").read_only is False
    assert statement_effects("SELECT pg_sleep(1)").side_effects == ()
