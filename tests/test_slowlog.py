"""`dbadmin slow-queries` top / snapshot / enable against the session server (pg_stat_statements
preloaded). Each test works in its own fresh database, so pg_stat_statements entries (keyed by
database) do not mix between tests."""

from __future__ import annotations

import dataclasses
import uuid

import psycopg2
import pytest
from conftest import Cli, PgServer

from dbadmin.errors import ExitCode
from dbadmin.urls import DbUrl


def _workload(url: DbUrl, table: str, calls: int) -> None:
    """`calls` executions of one statement shape, with different literals each time."""
    conn = psycopg2.connect(**url.connect_kwargs())
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for i in range(calls):
                cur.execute(f"SELECT count(*) FROM {table} WHERE id > {i}")
    finally:
        conn.close()


def _setup(cli: Cli, url: DbUrl, table: str) -> None:
    res = cli("slow-queries", "enable", "-d", url.render(), "--json")
    assert res.exit_code == 0, res.stdout + res.stderr
    conn = psycopg2.connect(**url.connect_kwargs())
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, pad text)")
        cur.execute(f"INSERT INTO {table} SELECT g, repeat('x', 50) FROM generate_series(1, 500) g")
    conn.close()


def _group(doc: dict, table: str) -> dict:  # type: ignore[type-arg]
    found = [g for g in doc["groups"] if f"FROM {table} WHERE id >" in g["query"]]
    assert len(found) == 1, [g["query"] for g in doc["groups"]]
    return found[0]


def test_top_lists_the_workload_with_its_call_count(cli: Cli, fresh_db: DbUrl) -> None:
    table = f"slow_{uuid.uuid4().hex[:8]}"
    _setup(cli, fresh_db, table)
    _workload(fresh_db, table, 7)
    res = cli("slow-queries", "top", "-d", fresh_db.render(), "--json", "--top", "50")
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert doc["source"] == "pg_stat_statements"
    group = _group(doc, table)
    assert group["count"] == group["calls"] == 7
    assert "$1" in group["query"]  # normalized by pg_stat_statements
    for key in ("fingerprint", "total_ms", "mean_ms", "max_ms", "stddev_ms", "rows",
                "hit_pct", "temp_blks", "io_ms", "share_pct"):  # fmt: skip
        assert key in group
    assert group["rows"] == 7
    assert 0 < group["share_pct"] <= 100
    assert group["hit_pct"] is None or 0 <= group["hit_pct"] <= 100
    # dbadmin's own statements are not in the report
    assert not any("pg_stat_statements" in g["query"] for g in doc["groups"])


def test_bare_group_runs_top_and_sorts(cli: Cli, fresh_db: DbUrl) -> None:
    table = f"slow_{uuid.uuid4().hex[:8]}"
    _setup(cli, fresh_db, table)
    _workload(fresh_db, table, 3)
    res = cli("slow-queries", "-d", fresh_db.render(), "--json", "--sort", "calls", "--top", "1")
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert doc["sort"] == "calls" and len(doc["groups"]) == 1
    res = cli("slow-queries", "top", "-d", fresh_db.render(), "--min-calls", "3")
    assert res.exit_code == 0, res.stderr
    assert table in res.stdout and "calls" in res.stdout
    res = cli("slow-queries", "top", "-d", fresh_db.render(), "--sort", "nonsense")
    assert res.exit_code == ExitCode.USAGE


def test_missing_extension_is_an_actionable_error(cli: Cli, fresh_db: DbUrl) -> None:
    res = cli("slow-queries", "top", "-d", fresh_db.render())
    assert res.exit_code == ExitCode.USAGE
    assert "pg_stat_statements is not installed in database" in res.stderr
    assert "dbadmin slow-queries enable" in res.stderr
    assert "Neon" in res.stderr and "shared_preload_libraries" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_snapshot_deltas_survive_a_reset(cli: Cli, fresh_db: DbUrl, pg_server: PgServer) -> None:
    table = f"snap_{uuid.uuid4().hex[:8]}"
    _setup(cli, fresh_db, table)
    url = fresh_db.render()
    _workload(fresh_db, table, 5)
    first = cli("slow-queries", "snapshot", "-d", url, "--json")
    assert first.exit_code == 0, first.stderr
    assert first.json()["created_schema"] is True  # type: ignore[index]
    _workload(fresh_db, table, 4)  # counted in no snapshot: lost by the reset below
    pg_server.execute("SELECT pg_stat_statements_reset()", fresh_db.database or "postgres")
    _workload(fresh_db, table, 3)  # after the reset: fewer calls than the first snapshot saw
    second = cli("slow-queries", "snapshot", "-d", url, "--json")
    assert second.exit_code == 0, second.stderr
    assert second.json()["created_schema"] is False  # type: ignore[index]
    res = cli("slow-queries", "top", "-d", url, "--since", "1h", "--json", "--top", "100")
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert doc["source"] == "snapshots" and doc["snapshots_used"] == 2
    group = _group(doc, table)
    assert group["count"] == 3  # the post-reset calls; a naive difference would give 3 - 5 = -2
    assert doc["series_restarts"] >= 1
    for g in doc["groups"]:
        assert g["count"] >= 0 and g["total_ms"] >= 0 and g["rows"] >= 0
    # pg_stat_statements itself was never reset by dbadmin: the live counter still says 3
    live = _group(cli("slow-queries", "top", "-d", url, "--json", "--top", "100").json(), table)
    assert live["count"] == 3


def test_snapshot_without_history_and_pruning(cli: Cli, fresh_db: DbUrl) -> None:
    table = f"snap_{uuid.uuid4().hex[:8]}"
    _setup(cli, fresh_db, table)
    url = fresh_db.render()
    res = cli("slow-queries", "top", "-d", url, "--since", "24h")
    assert res.exit_code == ExitCode.PROBLEM
    assert "dbadmin slow-queries snapshot" in res.stderr
    assert cli("slow-queries", "snapshot", "-d", url).exit_code == 0
    conn = psycopg2.connect(**fresh_db.connect_kwargs())
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("UPDATE dbadmin.pgss_snapshots SET taken_at = now() - interval '30 days'")
    conn.close()
    res = cli("slow-queries", "snapshot", "-d", url, "--keep-days", "14", "--json")
    assert res.exit_code == 0, res.stderr
    assert res.json()["pruned_snapshots"] == 1  # type: ignore[index]
    # the 30-day-old snapshot is gone; the window falls back to what remains, and says so
    res = cli("slow-queries", "top", "-d", url, "--since", "7d", "--json")
    assert res.exit_code == 0, res.stderr
    assert res.json()["snapshots_used"] == 1  # type: ignore[index]
    assert "history starts at" in res.stderr


def test_enable_reports_done_then_already(cli: Cli, fresh_db: DbUrl) -> None:
    res = cli("slow-queries", "enable", "-d", fresh_db.render(), "--threshold", "300ms", "--json")
    assert res.exit_code == 0, res.stdout + res.stderr
    steps = {s["name"].split(" for ")[0]: s for s in res.json()["steps"]}  # type: ignore[index]
    assert steps["shared_preload_libraries"]["status"] == "already"
    assert steps["CREATE EXTENSION pg_stat_statements"]["status"] == "done"
    assert steps["log_min_duration_statement"]["status"] == "done"
    again = cli("slow-queries", "enable", "-d", fresh_db.render(), "--threshold", "300ms")
    assert again.exit_code == 0, again.stdout + again.stderr
    assert "already" in again.stdout and "done" not in again.stdout
    conn = psycopg2.connect(**fresh_db.connect_kwargs())
    with conn.cursor() as cur:
        cur.execute("SHOW log_min_duration_statement")
        assert cur.fetchone()[0] == "300ms"  # type: ignore[index]
    conn.close()


def test_non_superuser_sees_what_it_can_and_is_told(
    cli: Cli, fresh_db: DbUrl, pg_server: PgServer
) -> None:
    table = f"slow_{uuid.uuid4().hex[:8]}"
    _setup(cli, fresh_db, table)
    _workload(fresh_db, table, 2)  # run by postgres: hidden from the plain role below
    role = f"reader_{uuid.uuid4().hex[:8]}"
    pg_server.execute(f"CREATE ROLE {role} LOGIN")
    try:
        pg_server.execute(f"GRANT SELECT ON {table} TO {role}", fresh_db.database or "postgres")
        plain = dataclasses.replace(fresh_db, user=role)
        _workload(plain, table, 2)
        res = cli("slow-queries", "top", "-d", plain.render(), "--json", "--top", "100")
        assert res.exit_code == 0, res.stderr
        assert "lacks pg_read_all_stats" in res.stderr and "hidden" in res.stderr
        mine = [g for g in res.json()["groups"] if table in g["query"]]  # type: ignore[index]
        assert [g["user"] for g in mine] == [role] and mine[0]["count"] == 2
        # enable as a plain role: says exactly what it could not do
        res = cli("slow-queries", "enable", "-d", plain.render(), "--threshold", "1s", "--json")
        assert res.exit_code == ExitCode.PROBLEM
        steps = res.json()["steps"]  # type: ignore[index]
        failed = [s for s in steps if s["status"] in ("failed", "manual")]
        assert any("log_min_duration_statement" in s["name"] for s in failed)
        assert all(s["detail"] for s in failed)
        pg_server.execute(f"GRANT pg_read_all_stats TO {role}")
        res = cli("slow-queries", "top", "-d", plain.render(), "--json", "--top", "100")
        assert "lacks pg_read_all_stats" not in res.stderr
        users = {g["user"] for g in res.json()["groups"] if table in g["query"]}  # type: ignore[index]
        assert users == {role, "postgres"}
    finally:
        pg_server.execute(f"DROP OWNED BY {role}", fresh_db.database or "postgres")
        pg_server.execute(f"DROP ROLE {role}")


def test_top_html_report(cli: Cli, fresh_db: DbUrl, tmp_path) -> None:  # type: ignore[no-untyped-def]
    table = f"slow_{uuid.uuid4().hex[:8]}"
    _setup(cli, fresh_db, table)
    _workload(fresh_db, table, 2)
    out = tmp_path / "top.html"
    res = cli("slow-queries", "top", "-d", fresh_db.render(), "--html", str(out))
    assert res.exit_code == 0, res.stderr
    page = out.read_text()
    assert "<svg" in page and table in page


@pytest.mark.parametrize("since", ["1x", "h", "1 fortnight"])
def test_bad_since_exits_2(cli: Cli, fresh_db: DbUrl, since: str) -> None:
    res = cli("slow-queries", "top", "-d", fresh_db.render(), "--since", since)
    assert res.exit_code == ExitCode.USAGE
    assert "--since" in res.stderr


def test_extension_installed_but_not_preloaded(cli: Cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A server without shared_preload_libraries: exit 2 naming it; enable says it is manual."""
    import os
    import shutil
    import tempfile
    from pathlib import Path

    from conftest import free_port

    from dbadmin.local import Cluster, embedded_bin_dir

    sock = Path(tempfile.mkdtemp(prefix="dbadmin-nopre-"))
    os.chmod(sock, 0o777)
    cluster = Cluster(
        bin_dir=embedded_bin_dir(),
        pgdata=tmp_path / "pgdata",
        socket_dir=sock,
        port=free_port(),
        conf={"listen_addresses": "''", "fsync": "off", "shared_preload_libraries": "''"},
    )
    cluster.ensure_running()
    try:
        url = cluster.url().render()
        res = cli("slow-queries", "enable", "-d", url, "--json")
        assert res.exit_code == ExitCode.PROBLEM
        steps = {s["name"]: s for s in res.json()["steps"]}  # type: ignore[index]
        preload = steps["shared_preload_libraries"]
        assert preload["status"] == "manual" and "restart" in preload["detail"]
        assert "ALTER SYSTEM SET shared_preload_libraries" in preload["detail"]
        assert steps["CREATE EXTENSION pg_stat_statements"]["status"] == "done"
        res = cli("slow-queries", "top", "-d", url)
        assert res.exit_code == ExitCode.USAGE
        assert "installed but its library is not loaded" in res.stderr
        assert "shared_preload_libraries" in res.stderr
    finally:
        cluster.stop()
        shutil.rmtree(sock, ignore_errors=True)


def test_snapshot_deltas_across_server_restarts(cli: Cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A clean restart keeps pg_stat_statements' counters (pg_stat_statements.save): the delta
    must not count them again. A crash (a killed backend; like a Neon compute that goes away)
    loses them: the series restarts and only the calls after it count."""
    import os
    import shutil
    import signal
    import tempfile
    import time
    from pathlib import Path

    from conftest import free_port

    from dbadmin.local import Cluster, embedded_bin_dir

    bin_dir = embedded_bin_dir()
    if os.environ.get("DBADMIN_TEST_SERVER", "embedded") == "pg15":
        bin_dir = Path("/usr/lib/postgresql/15/bin")
    sock = Path(tempfile.mkdtemp(prefix="dbadmin-restart-"))
    os.chmod(sock, 0o777)
    cluster = Cluster(
        bin_dir=bin_dir,
        pgdata=tmp_path / "pgdata",
        socket_dir=sock,
        port=free_port(),
        conf={"listen_addresses": "''", "fsync": "off",
              "shared_preload_libraries": "'pg_stat_statements'"},
    )  # fmt: skip
    cluster.ensure_running()
    try:
        url = cluster.url()
        table = "restart_items"
        _setup(cli, url, table)

        def since() -> dict:  # type: ignore[type-arg]
            res = cli("slow-queries", "top", "-d", url.render(), "--since", "1h", "--json",
                      "--top", "100")  # fmt: skip
            assert res.exit_code == 0, res.stderr
            return res.json()  # type: ignore[return-value]

        _workload(url, table, 5)
        assert cli("slow-queries", "snapshot", "-d", url.render()).exit_code == 0
        cluster.stop()  # clean: the counters are saved and reloaded
        cluster.ensure_running()
        _workload(url, table, 3)
        assert _group(
            cli("slow-queries", "top", "-d", url.render(), "--json", "--top", "100").json(), table
        )["count"] == 8  # fmt: skip
        assert _group(since(), table)["count"] == 3  # not 8: nothing counted twice
        assert cli("slow-queries", "snapshot", "-d", url.render()).exit_code == 0
        # a crash (a backend killed: the postmaster reinitialises shared memory, as a Neon
        # compute that goes away does): the counters are gone and stats_reset moves
        ready = "database system is ready to accept connections"
        readies = cluster.log_file.read_text().count(ready)
        conn = psycopg2.connect(**url.connect_kwargs())
        with conn.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            victim = cur.fetchone()[0]  # type: ignore[index]
        os.kill(victim, signal.SIGKILL)
        conn.close()
        deadline = time.monotonic() + 60
        while cluster.log_file.read_text().count(ready) == readies:  # crash recovery done
            assert time.monotonic() < deadline, cluster.log_file.read_text()[-3000:]
            time.sleep(0.1)
        _workload(url, table, 2)
        doc = since()
        assert _group(doc, table)["count"] == 3 + 2
        assert doc["series_restarts"] >= 1
        assert "restarted inside the window" in " ".join(doc["warnings"])
        for g in doc["groups"]:
            assert g["count"] >= 0 and g["total_ms"] >= 0
    finally:
        cluster.stop()
        shutil.rmtree(sock, ignore_errors=True)


def test_pgss_sql_follows_the_extension_version_not_only_the_server() -> None:
    from dbadmin import sql
    from dbadmin.slowlog.pgss import Probe, load_sql

    def probe(server: int, ext: str | None) -> Probe:
        return Probe(server * 10000, "db", "u", True, True, None, ext, "public", ext, None, True)

    assert probe(18, "1.12").sql_major == 18
    assert probe(17, "1.10").sql_major == 16  # a PG17 server with the extension not updated
    assert probe(15, "1.10").sql_major == 15
    assert probe(17, None).sql_major == 17
    assert sql.source_name("slowlog", "pgss_rows", 16) == "pgss_rows.sql"
    assert sql.source_name("slowlog", "pgss_rows", 17) == "pgss_rows.17.sql"
    old, new = load_sql("top", 16), load_sql("top", 18)
    assert "/*PGSS_ROWS*/" not in old and "blk_read_time + s.blk_write_time" in old
    assert "shared_blk_read_time" in new and "stats_since" in new
    assert load_sql("top", 18) is new  # read once per process


def test_top_flags_frequent_key_lookups_as_possible_n_plus_one(cli: Cli, fresh_db: DbUrl) -> None:
    table = f"slow_{uuid.uuid4().hex[:8]}"
    _setup(cli, fresh_db, table)
    _workload(fresh_db, table, 3)  # count(*) ... WHERE id > $1: not a one-row lookup
    conn = psycopg2.connect(**fresh_db.connect_kwargs())
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for i in range(1000):  # what a lazy-loading loop leaves in pg_stat_statements
                cur.execute(f"SELECT pad FROM {table} WHERE id = {i % 500 + 1}")
    finally:
        conn.close()
    res = cli("slow-queries", "top", "-d", fresh_db.render(), "--json", "--top", "50")
    assert res.exit_code == 0, res.stderr
    groups = res.json()["groups"]  # type: ignore[index]
    flagged = [g["query"] for g in groups if g["possible_n_plus_one"]]
    assert flagged == [f"SELECT pad FROM {table} WHERE id = $1"]
    assert not _group(res.json(), table)["possible_n_plus_one"]  # type: ignore[arg-type]
    text = cli("slow-queries", "top", "-d", fresh_db.render(), "--top", "50")
    assert "possible N+1" in text.stdout
