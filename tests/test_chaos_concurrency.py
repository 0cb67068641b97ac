"""Chaos: concurrency limits (issue 13, item 8: the pool bound and prune's lock).

- `health pool --concurrency` above 1,000, or above what the server accepts (max_connections
  minus its reserved slots; the test server has max_connections 60), exits 2 before any load:
  the server's own session counter (pg_stat_database.sessions, PostgreSQL 14+) proves that no
  connection was opened at all (above 1,000) or only the one that read max_connections.
- `backup prune` takes the directory lock a running backup holds: while the lock is held (here
  by the test, exactly as `backup` holds it) prune waits --wait seconds and then exits 1 with
  nothing deleted; a holder that lets go within --wait is waited for.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from conftest import Cli, PgServer

from dbadmin.backup.manifest import PARTIAL_MARK, directory_lock, scan
from dbadmin.errors import ExitCode
from dbadmin.urls import DbUrl


# --- health pool --concurrency ---------------------------------------------------------------------
def _sessions(server: PgServer, db: str) -> int:
    """Sessions ever established to ``db``, once none is left (a backend flushes its counters
    when it exits, before it leaves pg_stat_activity)."""
    deadline = time.monotonic() + 15
    while server.execute(f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}'")[0][0]:
        assert time.monotonic() < deadline, "sessions of the test database never ended"
        time.sleep(0.05)
    rows = server.execute(f"SELECT sessions FROM pg_stat_database WHERE datname = '{db}'")
    return int(rows[0][0])


def _reserved(server: PgServer) -> int:
    sql = "SELECT current_setting('superuser_reserved_connections')::int"
    if server.major >= 16:
        sql += " + current_setting('reserved_connections')::int"
    return int(server.execute(sql)[0][0])


@pytest.mark.parametrize("over", ["dbadmin", "server"])
def test_pool_concurrency_beyond_the_bound_exits_2_before_any_load(
    over: str, cli: Cli, pg_server: PgServer, fresh_db: DbUrl
) -> None:
    max_connections = int(pg_server.execute("SHOW max_connections")[0][0])
    reserved = _reserved(pg_server)
    server_bound = max_connections - reserved
    assert server_bound < 1000  # the harness's server (max_connections 60)
    concurrency = 1001 if over == "dbadmin" else server_bound + 1
    db = fresh_db.database or ""
    before = _sessions(pg_server, db)
    started = time.monotonic()
    res = cli("health", "pool", "-d", fresh_db.render(), "-k", str(concurrency),
              "--duration", "30s", "--json")  # fmt: skip
    assert time.monotonic() - started < 20  # refused at once, not after a 30 s load
    assert res.exit_code == ExitCode.USAGE, (res.stdout, res.stderr)
    assert res.stdout == "" and res.stderr.count("\n") == 1 and "nothing was started" in res.stderr
    opened = _sessions(pg_server, db) - before
    if over == "dbadmin":
        assert "dbadmin's limit of 1,000 threads" in res.stderr
        assert opened == 0  # refused before connecting
    else:
        expected = f"above {server_bound} (the server's max_connections {max_connections} minus "
        assert expected + f"{reserved} reserved)" in res.stderr, res.stderr
        assert opened == 1  # the one connection that read max_connections; no pool, no load


def test_pool_concurrency_at_the_bound_runs(cli: Cli, pg_server: PgServer, fresh_db: DbUrl) -> None:
    bound = int(pg_server.execute("SHOW max_connections")[0][0]) - _reserved(pg_server)
    env = {"DATABASE_POOL_SIZE": "2", "DATABASE_MAX_OVERFLOW": "0", "DATABASE_POOL_TIMEOUT": "5"}
    res = cli("health", "pool", "-d", fresh_db.render(), "-k", str(bound),
              "--duration", "0.3", "--json", env=env)  # fmt: skip
    doc = res.json()
    assert doc["load"]["concurrency"] == bound and doc["load"]["checkouts"] > 0  # type: ignore[index]
    assert doc["connections"]["peak_open"] <= 2  # type: ignore[index]


# --- backup prune and the directory lock -----------------------------------------------------------
@pytest.fixture
def two_backups(cli: Cli, pg_server: PgServer, fresh_db: DbUrl, tmp_path: Path) -> Path:
    pg_server.execute("CREATE TABLE t (x int); INSERT INTO t SELECT 1", fresh_db.database or "")
    backups = tmp_path / "bk"
    for name in ("a", "b"):
        res = cli("backup", "-d", fresh_db.render(), "--dir", str(backups), "--name", name)
        assert res.exit_code == 0, res.stderr
    return backups


def test_prune_while_a_backup_holds_the_lock_exits_1_and_deletes_nothing(
    cli: Cli, two_backups: Path
) -> None:
    backups = two_backups
    temporary = backups / f".c.dump{PARTIAL_MARK}-424242"  # what a running backup writes
    temporary.write_bytes(b"a dump being written")
    before = sorted(p.name for p in backups.iterdir())
    with directory_lock(backups, "backup"):  # held exactly as a running `dbadmin backup` holds it
        started = time.monotonic()
        res = cli("backup", "prune", "--keep", "0", "--yes", "--wait", "0.5", "--dir", str(backups))
        waited = time.monotonic() - started
        dry = cli("backup", "prune", "--keep", "0", "--dry-run", "--wait", "0", "--dir",
                  str(backups), "--json")  # fmt: skip
    assert res.exit_code == ExitCode.PROBLEM, (res.stdout, res.stderr)
    assert "another dbadmin run holds the lock" in res.stderr and "backup pid" in res.stderr
    assert "nothing was done" in res.stderr and res.stderr.count("\n") == 1
    assert 0.5 <= waited < 30
    assert dry.exit_code == ExitCode.PROBLEM and dry.stdout == ""
    assert sorted(p.name for p in backups.iterdir()) == before  # the temporary included
    # the lock released: the same prune deletes the old backup and the leftover
    done = cli("backup", "prune", "--keep", "0", "--yes", "--dir", str(backups), "--json")
    assert done.exit_code == 0, done.stderr
    doc = done.json()
    assert doc["deleted"] == [{"name": "a", "reason": "beyond the newest 0"}]  # type: ignore[index]
    assert doc["leftovers_removed"] == [str(temporary)]  # type: ignore[index]
    assert [b.name for b in scan(backups).backups] == ["b"] and not temporary.exists()


def test_prune_waits_for_a_lock_released_within_wait(cli: Cli, two_backups: Path) -> None:
    backups = two_backups
    acquired = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with directory_lock(backups, "verify"):
            acquired.set()
            release.wait(10)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert acquired.wait(10)
    timer = threading.Timer(0.4, release.set)
    timer.start()
    try:
        res = cli("backup", "prune", "--keep", "1", "--yes", "--wait", "20", "--dir", str(backups),
                  "--json")  # fmt: skip
    finally:
        release.set()
        timer.cancel()
        holder.join(10)
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["kept"] == ["b"]
    assert [b.name for b in scan(backups).backups] == ["b"]
