"""Chaos: `dbadmin restore` and `dbadmin backup` stopped by real signals at real moments.

dbadmin runs as a real process (``python -m dbadmin``) and gets SIGTERM, SIGKILL, SIGINT or
SIGHUP while PostgreSQL is in the middle of the restore: during the COPY of a million-row table
(seen in ``pg_stat_progress_copy``), or after all data is in, while an index is built (held
there by an event trigger that sleeps). Afterwards a new target is absent or has no table, a
``--clean`` target has exactly its old rows, and no pg_dump/pg_restore/psql outlives dbadmin.

Both lanes: on the embedded PostgreSQL 18 lane pg_restore loads the target directly (one
transaction) and psql reads a plain backup itself; on the PostgreSQL 15 lane every format goes
through the script path (pg_restore | dbadmin | psql), where a dying dbadmin used to make psql
commit half a restore.

``--timeout``: a backend is frozen with SIGSTOP in the middle of its COPY (the server still ACKs
every packet, so keepalives cannot notice), or another session holds the lock the restore needs;
backup and restore end with exit 4 soon after the limit and leave nothing behind. The bounds
only prove "does not hang".
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg2
import pytest
from conftest import PgServer

from dbadmin.backup.create import BackupOptions, create_backup
from dbadmin.backup.manifest import scan
from dbadmin.settings import resolve

BIG_ROWS = 1_000_000
OLD_ROWS = 777  # the --clean target's own data
SOURCE_SQL = f"""
CREATE TABLE big (id bigint PRIMARY KEY, n int NOT NULL, payload text);
CREATE INDEX big_n ON big (n);
CREATE TABLE small (id int PRIMARY KEY, v text);
INSERT INTO big SELECT g, g % 1000, md5(g::text) FROM generate_series(1, {BIG_ROWS}) g;
INSERT INTO small SELECT g, 'v' || g FROM generate_series(1, 100) g;
"""
# Holds a restore after its data is in: each CREATE INDEX / ADD CONSTRAINT sleeps. The sessions
# notice their client is gone within 200 ms (client_connection_check_interval, PostgreSQL 14+).
STALL_SQL = """
CREATE FUNCTION stall() RETURNS event_trigger LANGUAGE plpgsql AS
$$ BEGIN PERFORM pg_sleep(30); END $$;
CREATE EVENT TRIGGER stall_indexes ON ddl_command_end
    WHEN TAG IN ('CREATE INDEX', 'ALTER TABLE') EXECUTE FUNCTION stall();
"""
EXIT_BY_SIGNAL = {
    signal.SIGTERM: 143,
    signal.SIGHUP: 129,
    signal.SIGINT: 130,
    signal.SIGKILL: -signal.SIGKILL,
}
TOOLS = {"pg_dump", "pg_restore", "psql"}


@dataclass(frozen=True)
class Backups:
    directory: Path
    names: dict[str, str]  # format -> backup name


@pytest.fixture(scope="module")
def big_source(pg_server: PgServer) -> Iterator[str]:
    """A database with a million-row table (made once per module; never written to)."""
    source = pg_server.create_database()
    pg_server.execute(SOURCE_SQL, source)
    yield source
    pg_server.drop_database(source)


@pytest.fixture(scope="module")
def backups(
    pg_server: PgServer, big_source: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backups]:
    """One backup per format of ``big_source`` (taken once per module)."""
    source = big_source
    root = tmp_path_factory.mktemp("chaos-backups")
    settings = resolve(
        database_url=pg_server.url(source).render(), environ={"DBADMIN_HOME": str(root / "h")}
    )
    names = {}
    for fmt in ("custom", "directory", "plain"):
        options = BackupOptions(format=fmt, directory=root / "bk", name=f"chaos-{fmt}")
        names[fmt] = create_backup(settings, options).manifest.name
    yield Backups(root / "bk", names)


@pytest.fixture
def targets(pg_server: PgServer) -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        pg_server.drop_database(name)


def _dbadmin(*args: str, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "DBADMIN_HOME": str(cwd / "home"), "NO_COLOR": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "dbadmin", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
    )


def _wait_until(what: str, condition: Callable[[], bool], proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"dbadmin ended before {what}: {proc.returncode} {err} {out}")
        time.sleep(0.01)
    proc.kill()
    raise AssertionError(f"never saw {what}")


def _copying(server: PgServer, db: str) -> Callable[[], bool]:
    """True while the restore's COPY into ``big`` is part-way through."""

    def check() -> bool:
        rows = server.execute(
            "SELECT p.tuples_processed FROM pg_stat_progress_copy p "
            f"JOIN pg_database d ON d.oid = p.datid WHERE d.datname = {_lit(db)}"
        )
        return any(100_000 <= r[0] < BIG_ROWS for r in rows)

    return check


def _stalled(server: PgServer, db: str) -> Callable[[], bool]:
    """True once the restore sleeps in the event trigger, after all its data is in."""

    def check() -> bool:
        rows = server.execute(
            f"SELECT count(*) FROM pg_stat_activity WHERE datname = {_lit(db)} "
            "AND wait_event = 'PgSleep'"
        )
        return rows[0][0] > 0

    return check


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _tool_children(pid: int) -> list[psutil.Process]:
    try:
        return [c for c in psutil.Process(pid).children(recursive=True) if c.name() in TOOLS]
    except psutil.NoSuchProcess:
        return []


def _stop(proc: subprocess.Popen[str], sig: signal.Signals) -> tuple[int, str, list[int]]:
    """Send ``sig``; return (exit code, stderr, pids of its tool children at that moment)."""
    children = [c.pid for c in _tool_children(proc.pid)]
    proc.send_signal(sig)
    try:
        _out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode, err, children


def _assert_gone(pids: list[int]) -> None:
    """Children exit within seconds of dbadmin (PR_SET_PDEATHSIG / terminate on SIGTERM)."""
    deadline = time.monotonic() + 15
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if psutil.pid_exists(p) and _not_zombie(p)]
        time.sleep(0.05)
    assert not alive, f"children outlived dbadmin: {alive}"


def _not_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_sessions_gone(server: PgServer, db: str) -> None:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        rows = server.execute(
            f"SELECT count(*) FROM pg_stat_activity WHERE datname = {_lit(db)} "
            "AND pid <> pg_backend_pid()"
        )
        if rows[0][0] == 0:
            return
        time.sleep(0.1)
    raise AssertionError(f"sessions in {db} did not end")


def _database_exists(server: PgServer, db: str) -> bool:
    return bool(server.execute(f"SELECT 1 FROM pg_database WHERE datname = {_lit(db)}"))


def _user_tables(server: PgServer, db: str) -> list[str]:
    rows = server.execute(
        "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg_toast%'",
        db,
    )
    return sorted(r[0] for r in rows)


def _check_exit(code: int, err: str, sig: signal.Signals) -> None:
    assert code == EXIT_BY_SIGNAL[sig], (code, err)
    if sig != signal.SIGKILL:
        lines = [line for line in err.splitlines() if line.startswith("dbadmin: error:")]
        assert len(lines) == 1 and "Traceback" not in err, err
        word = "interrupted" if sig == signal.SIGINT else sig.name
        assert word in lines[0], err


# --- a new database: absent or empty afterwards ----------------------------------------------
@pytest.mark.parametrize(
    ("fmt", "sig"),
    [
        ("custom", signal.SIGTERM),
        ("custom", signal.SIGKILL),
        ("custom", signal.SIGINT),
        ("directory", signal.SIGKILL),
        ("directory", signal.SIGHUP),
        ("plain", signal.SIGTERM),
        ("plain", signal.SIGKILL),
        ("plain", signal.SIGINT),
    ],
)
def test_restore_into_a_new_database_killed_during_copy_leaves_nothing(
    fmt: str,
    sig: signal.Signals,
    backups: Backups,
    pg_server: PgServer,
    targets: list[str],
    tmp_path: Path,
) -> None:
    target = f"chaos_new_{fmt}_{sig.name.lower()}"
    targets.append(target)
    url = pg_server.url(target).render()
    proc = _dbadmin(
        "restore", backups.names[fmt], "--dir", str(backups.directory),
        "--target-url", url, "--create", "--yes", cwd=tmp_path,
    )  # fmt: skip
    _wait_until("the COPY of big", _copying(pg_server, target), proc)
    code, err, children = _stop(proc, sig)
    _check_exit(code, err, sig)
    _assert_gone(children)
    if sig != signal.SIGKILL:  # the clean-up drops the database it created: an unstarted run
        assert not _database_exists(pg_server, target)
        return
    _wait_sessions_gone(pg_server, target)  # SIGKILL: no clean-up, but the restore rolled back
    assert _user_tables(pg_server, target) == []


# --- --clean over an existing database: exactly its old rows afterwards -------------------------
def _old_target(server: PgServer, name: str, *, stall: bool) -> None:
    server.execute(f'CREATE DATABASE "{name}"')
    server.execute(
        f"CREATE TABLE big (id bigint PRIMARY KEY, n int NOT NULL, payload text);"
        f"INSERT INTO big SELECT g, 0, 'old' FROM generate_series(1, {OLD_ROWS}) g;"
        "CREATE TABLE small (id int PRIMARY KEY, v text); INSERT INTO small VALUES (1, 'old');",
        name,
    )
    if stall:
        server.execute(STALL_SQL, name)
        server.execute(f'ALTER DATABASE "{name}" SET client_connection_check_interval = 200')


def _old_rows(server: PgServer, db: str) -> tuple[int, int, str]:
    big = server.execute("SELECT count(*), count(*) FILTER (WHERE payload = 'old') FROM big", db)
    small = server.execute("SELECT string_agg(v, ',') FROM small", db)
    return int(big[0][0]), int(big[0][1]), small[0][0]


@pytest.mark.parametrize(
    ("fmt", "sig", "moment"),
    [
        ("custom", signal.SIGKILL, "copy"),
        ("custom", signal.SIGTERM, "indexes"),
        ("custom", signal.SIGKILL, "indexes"),
        ("directory", signal.SIGINT, "indexes"),
        ("directory", signal.SIGKILL, "copy"),
    ],
)
def test_clean_restore_killed_keeps_exactly_the_old_rows(
    fmt: str,
    sig: signal.Signals,
    moment: str,
    backups: Backups,
    pg_server: PgServer,
    targets: list[str],
    tmp_path: Path,
) -> None:
    target = f"chaos_clean_{fmt}_{sig.name.lower()}_{moment}"
    targets.append(target)
    _old_target(pg_server, target, stall=moment == "indexes")
    proc = _dbadmin(
        "restore", backups.names[fmt], "--dir", str(backups.directory),
        "--target-url", pg_server.url(target).render(), "--clean", "--yes", cwd=tmp_path,
    )  # fmt: skip
    at = _copying(pg_server, target) if moment == "copy" else _stalled(pg_server, target)
    _wait_until(f"the restore's {moment}", at, proc)
    code, err, children = _stop(proc, sig)
    _check_exit(code, err, sig)
    _assert_gone(children)
    _wait_sessions_gone(pg_server, target)
    assert _old_rows(pg_server, target) == (OLD_ROWS, OLD_ROWS, "old")


def test_plain_restore_killed_after_its_data_is_in_commits_nothing(
    backups: Backups, pg_server: PgServer, targets: list[str], tmp_path: Path
) -> None:
    """The moment that used to commit: every COPY done, the script not yet at its end."""
    target = "chaos_plain_stalled"
    targets.append(target)
    pg_server.execute(f'CREATE DATABASE "{target}"')
    pg_server.execute(STALL_SQL, target)
    pg_server.execute(f'ALTER DATABASE "{target}" SET client_connection_check_interval = 200')
    proc = _dbadmin(
        "restore", backups.names["plain"], "--dir", str(backups.directory),
        "--target-url", pg_server.url(target).render(), "--yes", cwd=tmp_path,
    )  # fmt: skip
    _wait_until("the restore's index build", _stalled(pg_server, target), proc)
    code, err, children = _stop(proc, signal.SIGKILL)
    _check_exit(code, err, signal.SIGKILL)
    _assert_gone(children)
    _wait_sessions_gone(pg_server, target)
    assert _user_tables(pg_server, target) == []


# --- backup: children die with dbadmin, nothing looks complete --------------------------------
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP])
def test_backup_stopped_by_a_signal_leaves_no_backup_and_no_child(
    sig: signal.Signals, pg_server: PgServer, big_source: str, tmp_path: Path
) -> None:
    source = big_source
    directory = tmp_path / "bk"
    proc = _dbadmin(
        "backup", "-d", pg_server.url(source).render(), "--dir", str(directory),
        "--compress", "gzip:9", cwd=tmp_path,
    )  # fmt: skip
    _wait_until(
        "pg_dump's COPY",
        lambda: bool(
            pg_server.execute(
                f"SELECT 1 FROM pg_stat_activity WHERE datname = {_lit(source)} "
                "AND query LIKE 'COPY %'"
            )
        ),
        proc,
    )
    code, err, children = _stop(proc, sig)
    assert children, "pg_dump was running"
    _check_exit(code, err, sig)
    _assert_gone(children)
    _wait_sessions_gone(pg_server, source)  # the server sessions end with them
    catalog = scan(directory)
    assert catalog.backups == ()
    if sig != signal.SIGKILL:
        assert catalog.leftovers == ()  # cleaned up like Ctrl-C
    # the next run takes its backup and clears what a killed run left
    again = _dbadmin(
        "backup", "-d", pg_server.url(source).render(), "--dir", str(directory), cwd=tmp_path
    )
    _out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    catalog = scan(directory)
    assert len(catalog.backups) == 1 and catalog.leftovers == ()


# --- --timeout: a frozen backend (SIGSTOP: the server still ACKs) or a lock nobody releases ---
HANG_BOUND = 25.0  # seconds after the limit that would mean "it hung"


@contextmanager
def _frozen(pid: int) -> Iterator[None]:
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def _copy_backend(server: PgServer, db: str) -> int | None:
    rows = server.execute(
        f"SELECT pid FROM pg_stat_activity WHERE datname = {_lit(db)} "
        "AND query LIKE 'COPY %' AND pid <> pg_backend_pid()"
    )
    return rows[0][0] if rows else None


def test_backup_timeout_with_a_frozen_backend_exits_4_and_keeps_nothing(
    pg_server: PgServer, big_source: str, tmp_path: Path
) -> None:
    directory = tmp_path / "bk"
    proc = _dbadmin(
        "backup", "-d", pg_server.url(big_source).render(), "--dir", str(directory),
        "--compress", "gzip:9", "--timeout", "3s", cwd=tmp_path,
    )  # fmt: skip
    started = time.monotonic()
    _wait_until("pg_dump's COPY", lambda: _copy_backend(pg_server, big_source) is not None, proc)
    pid = _copy_backend(pg_server, big_source)
    assert pid is not None
    with _frozen(pid):
        _out, err = proc.communicate(timeout=3 + HANG_BOUND)
        elapsed = time.monotonic() - started
    assert proc.returncode == 4, err
    assert "--timeout 3s reached" in err and "nothing was kept" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert elapsed < 3 + HANG_BOUND
    catalog = scan(directory)
    assert catalog.backups == () and catalog.leftovers == ()
    _wait_sessions_gone(pg_server, big_source)


def test_clean_restore_timeout_on_a_held_lock_exits_4_and_changes_nothing(
    backups: Backups, pg_server: PgServer, tmp_path: Path
) -> None:
    target = "chaos_timeout_lock"
    _old_target(pg_server, target, stall=False)
    holder = psycopg2.connect(**pg_server.url(target).connect_kwargs())
    try:
        holder.cursor().execute("LOCK TABLE big IN ACCESS SHARE MODE")  # DROP TABLE must wait
        proc = _dbadmin(
            "restore", backups.names["custom"], "--dir", str(backups.directory),
            "--target-url", pg_server.url(target).render(), "--clean", "--yes",
            "--timeout", "2", cwd=tmp_path,
        )  # fmt: skip
        _out, err = proc.communicate(timeout=2 + HANG_BOUND)
        assert proc.returncode == 4, err
        assert "--timeout 2s reached" in err and "Traceback" not in err
    finally:
        holder.close()
    _wait_sessions_gone(pg_server, target)
    assert _old_rows(pg_server, target) == (OLD_ROWS, OLD_ROWS, "old")
    pg_server.drop_database(target)


@pytest.mark.parametrize("fmt", ["custom", "plain"])
def test_restore_timeout_with_a_frozen_backend_exits_4(
    fmt: str, backups: Backups, pg_server: PgServer, tmp_path: Path
) -> None:
    target = f"chaos_timeout_frozen_{fmt}"
    proc = _dbadmin(
        "restore", backups.names[fmt], "--dir", str(backups.directory),
        "--target-url", pg_server.url(target).render(), "--create", "--yes",
        "--timeout", "2", cwd=tmp_path,
    )  # fmt: skip
    try:
        _wait_until(
            "the restore's COPY", lambda: _copy_backend(pg_server, target) is not None, proc
        )
        pid = _copy_backend(pg_server, target)
        assert pid is not None
        with _frozen(pid):
            _out, err = proc.communicate(timeout=2 + HANG_BOUND)
        assert proc.returncode == 4, err
        assert "--timeout 2s reached" in err and "Traceback" not in err
        # the frozen session could not be dropped while stopped; once it runs again it finds its
        # client gone and rolls back: the database is absent or has no table
        _wait_sessions_gone(pg_server, target)
        if _database_exists(pg_server, target):
            assert _user_tables(pg_server, target) == []
    finally:
        pg_server.drop_database(target)


# --- through the TLS relay: pg_restore | dbadmin | psql -> relay -> TLS server -------------------
def test_restore_through_the_relay_killed_mid_copy_commits_nothing(
    backups: Backups, pg_server: PgServer, tls_server: PgServer, tmp_path: Path
) -> None:
    """PostgreSQL 15 with TLS only: on the embedded lane the backup (pg_dump 18) needs pg_restore
    18, which has no TLS, so every byte also passes dbadmin's relay. Killing dbadmin kills the
    relay, the feeding thread and (PR_SET_PDEATHSIG) pg_restore and psql at once."""
    target = "chaos_relay_sigkill"
    url = tls_server.password_url(target).with_query(sslmode="require")
    try:
        proc = _dbadmin(
            "restore", backups.names["custom"], "--dir", str(backups.directory),
            "--target-url", url.render(), "--create", "--yes", cwd=tmp_path,
        )  # fmt: skip
        _wait_until("the COPY of big", _copying(tls_server, target), proc)
        code, err, children = _stop(proc, signal.SIGKILL)
        _check_exit(code, err, signal.SIGKILL)
        if pg_server.major >= 18:  # the backup was made by pg_dump 18
            assert "relay" in err
        _assert_gone(children)
        _wait_sessions_gone(tls_server, target)
        assert _user_tables(tls_server, target) == []
    finally:
        tls_server.drop_database(target)
