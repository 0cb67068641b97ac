"""`dbadmin health`: each condition is created for real on a real server, then reported."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg2
import pytest
from conftest import Cli, PgServer, _server, free_port

from dbadmin.health import queries
from dbadmin.health.checks import CHECK_NAMES
from dbadmin.health.thresholds import resolve_thresholds
from dbadmin.local import embedded_bin_dir
from dbadmin.urls import DbUrl


def _connect(url: DbUrl) -> psycopg2.extensions.connection:
    return psycopg2.connect(**url.connect_kwargs())


def _health(cli: Cli, url: DbUrl, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    res = cli("health", "-d", url.render(), "--json", *args, env=env)
    assert res.stdout.strip(), res.stderr
    return res, res.json()


def _wait_until(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_fresh_database_is_ok_with_every_check_and_stable_keys(cli: Cli, fresh_db: DbUrl) -> None:
    res, doc = _health(cli, fresh_db)
    assert res.exit_code == 0, doc
    assert doc["status"] == "OK" and doc["exit_code"] == 0
    assert list(doc["checks"]) == list(CHECK_NAMES)
    for name, check in doc["checks"].items():
        assert check["status"] == "OK", (name, check)
        assert set(check) == {
            "status",
            "value",
            "unit",
            "warn",
            "crit",
            "summary",
            "advice",
            "metrics",
            "details",
            "elapsed_ms",
        }
    latency = doc["checks"]["latency"]["metrics"]
    assert latency["pings"] == 10 and latency["first_connect_ms"] > 0
    assert doc["checks"]["connections"]["metrics"]["max_connections"] >= 10
    assert doc["server_version"] and doc["endpoint"] == "local"


def test_idle_in_transaction_past_a_lowered_threshold_warns_naming_its_pid(
    cli: Cli, fresh_db: DbUrl
) -> None:
    idle = _connect(fresh_db)
    try:
        with idle.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            pid = cur.fetchone()[0]  # the transaction stays open: idle in transaction
        time.sleep(1.3)
        res, doc = _health(
            cli, fresh_db, "--check", "idle_in_transaction", "--warn", "idle_in_transaction=1"
        )
        check = doc["checks"]["idle_in_transaction"]
        assert res.exit_code == 1, doc
        assert check["status"] == "WARNING" and check["value"] >= 1
        assert f"pid {pid}" in check["summary"]
        assert [d["pid"] for d in check["details"]] == [pid]
        assert "idle_in_transaction_session_timeout" in check["advice"]
        nagios = cli(
            "health",
            "-d",
            fresh_db.render(),
            "--nagios",
            "-c",
            "idle_in_transaction",
            "--warn",
            "idle_in_transaction=1",
            "--crit",
            "idle_in_transaction=600",
        )
        assert nagios.exit_code == 1
        line = nagios.stdout.strip()
        assert "\n" not in line and line.startswith("DBADMIN WARNING: ")
        assert f"pid {pid}" in line and "| idle_in_transaction=" in line and ";1;600" in line
    finally:
        idle.close()


def test_a_lock_wait_names_the_blocked_and_the_blocking_pid(cli: Cli, fresh_db: DbUrl) -> None:
    holder = _connect(fresh_db)
    waiter = _connect(fresh_db)
    try:
        with holder.cursor() as cur:
            cur.execute("CREATE TABLE accounts (id int PRIMARY KEY, balance int)")
            cur.execute("INSERT INTO accounts VALUES (1, 100)")
            holder.commit()
            cur.execute("UPDATE accounts SET balance = 0 WHERE id = 1")  # holds the row lock
            cur.execute("SELECT pg_backend_pid()")
            holder_pid = cur.fetchone()[0]
        with waiter.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            waiter_pid = cur.fetchone()[0]
        waiter.commit()

        def blocked_update() -> None:
            with waiter.cursor() as cur:
                cur.execute("UPDATE accounts SET balance = 1 WHERE id = 1")
            waiter.rollback()

        thread = threading.Thread(target=blocked_update, daemon=True)
        thread.start()

        def waiting() -> bool:
            with holder.cursor() as cur:
                cur.execute(
                    "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (waiter_pid,)
                )
                return cur.fetchone()[0] == "Lock"

        _wait_until(waiting)
        time.sleep(0.7)
        res, doc = _health(cli, fresh_db, "-c", "lock_waits", "--warn", "lock_waits=0.5")
        check = doc["checks"]["lock_waits"]
        assert res.exit_code == 1, doc
        assert check["status"] == "WARNING"
        assert f"pid {waiter_pid}" in check["summary"] and f"pid {holder_pid}" in check["summary"]
        assert (check["details"][0]["blocked_pid"], check["details"][0]["blocking_pid"]) == (
            waiter_pid,
            holder_pid,
        )
        assert "UPDATE accounts" in check["details"][0]["blocked_query"]
        holder.rollback()
        thread.join(10)
        assert not thread.is_alive()
    finally:
        holder.close()
        waiter.close()


def test_duplicate_index_and_fk_without_index_are_reported(cli: Cli, fresh_db: DbUrl) -> None:
    conn = _connect(fresh_db)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE customers (id bigint PRIMARY KEY)")
            cur.execute(
                "CREATE TABLE orders (id bigint PRIMARY KEY, "
                "customer_id bigint REFERENCES customers (id), placed date, status text)"
            )
            cur.execute("CREATE INDEX orders_placed ON orders (placed)")
            cur.execute("CREATE INDEX orders_placed_status ON orders (placed, status)")
            cur.execute("CREATE UNIQUE INDEX customers_id_again ON customers (id)")
        res, doc = _health(cli, fresh_db, "-c", "duplicate_indexes,fk_without_index")
        assert res.exit_code == 1, doc
        dup = doc["checks"]["duplicate_indexes"]
        assert dup["status"] == "WARNING" and dup["value"] == 2
        pairs = {(d["index"], d["covered_by"]) for d in dup["details"]}
        assert pairs == {
            ("orders_placed", "orders_placed_status"),
            ("customers_id_again", "customers_pkey"),
        }
        fk = doc["checks"]["fk_without_index"]
        assert fk["status"] == "WARNING" and fk["value"] == 1
        assert fk["details"][0]["table"] == "orders"
        assert fk["details"][0]["columns"] == "customer_id"
        assert fk["details"][0]["referenced_table"] == "customers"
        assert fk["details"][0]["suggestion"] == (
            "CREATE INDEX CONCURRENTLY ON public.orders (customer_id);"
        )
        with conn.cursor() as cur:  # fixing both makes the checks OK
            cur.execute("CREATE INDEX ON orders (customer_id, placed)")
            cur.execute("DROP INDEX orders_placed, customers_id_again")
        res, doc = _health(cli, fresh_db, "-c", "duplicate_indexes,fk_without_index")
        assert res.exit_code == 0, doc
    finally:
        conn.close()


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    """A dedicated server with max_connections=10 (3 reserved for superusers: 7 usable)."""
    yield from _server(
        tmp_path_factory.mktemp("small"), embedded_bin_dir(), {"max_connections": "10"}
    )


def test_connections_near_a_low_max_connections_are_critical(
    cli: Cli, small_server: PgServer
) -> None:
    url = small_server.url()
    res, doc = _health(cli, url, "-c", "connections")
    assert res.exit_code == 0, doc
    held = [_connect(url) for _ in range(6)]
    try:
        res, doc = _health(cli, url, "-c", "connections")
        check = doc["checks"]["connections"]
        assert res.exit_code == 2, doc
        assert check["status"] == "CRITICAL" and check["value"] >= 95
        assert check["metrics"] == {"used": 7, "max_connections": 10, "reserved": 3}
        assert "7 of 7 usable connections" in check["summary"]
        assert {"state": "idle", "count": 6} in check["details"]
    finally:
        for conn in held:
            conn.close()


@pytest.fixture
def roles(pg_server: PgServer) -> Iterator[tuple[str, str]]:
    suffix = uuid.uuid4().hex[:8]
    monitor, plain = f"h_monitor_{suffix}", f"h_plain_{suffix}"
    pg_server.execute(f"CREATE ROLE {monitor} LOGIN IN ROLE pg_monitor")
    pg_server.execute(f"CREATE ROLE {plain} LOGIN")
    try:
        yield monitor, plain
    finally:
        pg_server.execute(f"DROP ROLE IF EXISTS {monitor}")
        pg_server.execute(f"DROP ROLE IF EXISTS {plain}")


def test_non_superuser_roles_pg_monitor_sees_all_plain_role_gets_unknown(
    cli: Cli, fresh_db: DbUrl, roles: tuple[str, str]
) -> None:
    monitor, plain = roles
    idle = _connect(fresh_db)  # a superuser session idle in transaction
    try:
        with idle.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            pid = cur.fetchone()[0]
        time.sleep(1.2)
        res, doc = _health(cli, replace(fresh_db, user=monitor), "--warn", "idle_in_transaction=1")
        assert res.exit_code == 1, doc
        unknown = {n: c["summary"] for n, c in doc["checks"].items() if c["status"] == "UNKNOWN"}
        assert unknown == {}, unknown
        assert f"pid {pid}" in doc["checks"]["idle_in_transaction"]["summary"]

        res, doc = _health(
            cli, replace(fresh_db, user=plain), "-c", "idle_in_transaction,connections"
        )
        check = doc["checks"]["idle_in_transaction"]
        assert res.exit_code == 3, doc
        assert check["status"] == "UNKNOWN"
        assert f"not visible to role {plain}" in check["summary"]
        assert "pg_monitor" in check["advice"]
        assert doc["checks"]["connections"]["status"] == "OK"
    finally:
        idle.close()


def test_server_down_is_unknown_within_the_timeout_with_one_line(cli: Cli, tmp_path: Path) -> None:
    url = f"postgresql://nobody:pw-down-1@127.0.0.1:{free_port()}/app"
    prom = tmp_path / "down.prom"
    started = time.monotonic()
    res = cli("health", "-d", url, "--timeout", "3s", "--nagios", "--prometheus", str(prom))
    elapsed = time.monotonic() - started
    assert res.exit_code == 3
    assert elapsed < 5, elapsed  # 3 s budget (+ interpreter slack); not the 30 s retry default
    assert res.stdout.count("\n") == 1 and res.stdout.startswith("DBADMIN UNKNOWN: cannot connect")
    assert res.stderr.strip().splitlines()[-1].startswith("dbadmin: error: cannot connect")
    assert "pw-down-1" not in res.stdout + res.stderr
    from prometheus_client.parser import text_string_to_metric_families

    families = {f.name: f for f in text_string_to_metric_families(prom.read_text())}
    assert families["dbadmin_health_up"].samples[0].value == 0
    assert families["dbadmin_health_status"].samples[0].value == 3
    res = cli("health", "-d", url, "--timeout", "2", "--json")
    assert res.exit_code == 3 and res.json()["status"] == "UNKNOWN"  # type: ignore[index]
    assert len(res.stderr.strip().splitlines()) >= 1


def test_prometheus_textfile_parses(cli: Cli, fresh_db: DbUrl, tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    prom = tmp_path / "textfile" / "dbadmin.prom"
    prom.parent.mkdir()
    res = cli("health", "-d", fresh_db.render(), "--prometheus", str(prom))
    assert res.exit_code == 0, res.stderr
    assert res.stdout == ""  # cron: the file is the output
    text = prom.read_text()
    assert text.count("# HELP ") == text.count("# TYPE ") >= 8
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["dbadmin_health_up"].samples[0].value == 1
    statuses = {s.labels["check"]: s.value for s in families["dbadmin_health_check_status"].samples}
    assert statuses == dict.fromkeys(CHECK_NAMES, 0.0)
    values = {s.labels["check"]: s for s in families["dbadmin_health_check_value"].samples}
    assert values["connections"].labels["unit"] == "%"
    metrics = {
        (s.labels["check"], s.labels["metric"])
        for s in families["dbadmin_health_check_metric"].samples
    }
    assert ("latency", "p95_ms") in metrics
    assert [p.name for p in prom.parent.iterdir()] == ["dbadmin.prom"]  # no temp file left


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (300, 300))


def test_prometheus_file_is_never_half_written(fresh_db: DbUrl, tmp_path: Path) -> None:
    """A write that fails half way (RLIMIT_FSIZE) leaves the previous file intact, no temp file."""
    prom = tmp_path / "dbadmin.prom"
    cmd = [
        sys.executable,
        "-m",
        "dbadmin",
        "health",
        "-d",
        fresh_db.render(),
        "--prometheus",
        str(prom),
    ]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    before = prom.read_bytes()
    assert len(before) > 300
    failed = subprocess.run(
        cmd, capture_output=True, text=True, timeout=60, preexec_fn=_limit_file_size
    )
    assert failed.returncode == 3, failed.stderr
    assert "cannot write" in failed.stderr and "previous file was left" in failed.stderr
    assert prom.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".dbadmin.prom")] == []


def test_thresholds_precedence_flags_env_pyproject_defaults(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.dbadmin.health]\npings = 3\n"
        "[tool.dbadmin.health.warn]\nidle_in_transaction = 30\nlong_queries = 20\n"
        "[tool.dbadmin.health.crit]\nidle_in_transaction = 'off'\n"
    )
    sub = tmp_path / "app" / "src"
    sub.mkdir(parents=True)
    t = resolve_thresholds(
        env={"DBADMIN_HEALTH_WARN_LONG_QUERIES": "10", "DBADMIN_HEALTH_WARN_CONNECTIONS": "80"},
        cwd=sub,
        warn_flags=["connections=70,cache_hit=98"],
        crit_flags=["lock_waits=off"],
    )
    assert t.pair("idle_in_transaction") == (30, None)  # pyproject
    assert t.pair("long_queries") == (10, 300)  # env beats pyproject
    assert t.pair("connections") == (70, 95)  # flag beats env
    assert t.pair("cache_hit") == (98, 95)
    assert t.pair("lock_waits") == (60, None)
    assert t.pair("wraparound") == (1.3e9, 1.4e9)  # default
    assert t.param("pings") == 3


def test_pyproject_thresholds_apply_to_a_run(cli: Cli, fresh_db: DbUrl, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.dbadmin.health.warn]\ndatabase_size = 1\n[tool.dbadmin.health.crit]\n"
        "database_size = 100000\n"
    )
    res, doc = _health(cli, fresh_db, "-c", "database_size")
    assert res.exit_code == 1 and doc["checks"]["database_size"]["warn"] == 1, doc
    res, doc = _health(
        cli, fresh_db, "-c", "database_size", env={"DBADMIN_HEALTH_WARN_DATABASE_SIZE": "off"}
    )
    assert res.exit_code == 0, doc


@pytest.mark.parametrize(
    "args",
    [
        ("--warn", "bogus=1"),
        ("--crit", "connections=lots"),
        ("--check", "nope"),
        ("--json", "--nagios"),
        ("--timeout", "soon"),
        ("--no-such-flag",),
        ("pool", "--no-such-flag"),
        ("pool", "--duration", "forever"),
    ],
)
def test_usage_errors_are_unknown_3(cli: Cli, args: tuple[str, ...]) -> None:
    res = cli("health", "-d", "postgresql://u@127.0.0.1:1/db", *args)
    assert res.exit_code == 3, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr


def test_version_specific_sql_is_chosen_by_major() -> None:
    assert queries.source_name("connections", 15) == "connections.sql"
    assert queries.source_name("connections", 18) == "connections.16.sql"
    assert queries.source_name("replication_slots", 16) == "replication_slots.sql"
    assert queries.source_name("replication_slots", 17) == "replication_slots.17.sql"
    assert queries.source_name("unused_indexes", 14) == "unused_indexes.sql"


def test_every_check_runs_on_postgres_15(cli: Cli, pg15_server: PgServer) -> None:
    name = pg15_server.create_database()
    try:
        url = pg15_server.url(name)
        pg15_server.execute(
            "CREATE TABLE t (id serial PRIMARY KEY, n int); CREATE INDEX ON t (n); "
            "CREATE INDEX t_n_id ON t (n, id); SELECT setval('t_id_seq', 2000000000); "
            # a bigint sequence behind an integer column overflows at 2^31-1, not 2^63-1
            "CREATE TABLE t2 (id int PRIMARY KEY); "
            "CREATE SEQUENCE t2_seq AS bigint OWNED BY t2.id; SELECT setval('t2_seq', 2100000000)",
            name,
        )
        res, doc = _health(cli, url)
        assert doc["server_version"].startswith("15")
        statuses = {n: c["status"] for n, c in doc["checks"].items()}
        assert "UNKNOWN" not in statuses.values(), doc
        assert statuses["duplicate_indexes"] == "WARNING"
        seq = doc["checks"]["sequences"]
        assert seq["status"] == "CRITICAL" and seq["value"] > 97  # 2.1e9 of 2^31-1
        top, second = seq["details"]
        assert (top["sequence"], top["sequence_type"], top["column_type"]) == (
            "t2_seq",
            "bigint",
            "integer",
        )
        assert second["sequence"] == "t_id_seq" and 93 < second["used_pct"] < 94
        assert res.exit_code == 2
    finally:
        pg15_server.drop_database(name)


def test_json_is_the_only_stdout(cli: Cli, fresh_db: DbUrl) -> None:
    res = cli("health", "-d", fresh_db.render(), "--json", "-c", "latency")
    json.loads(res.stdout)
    assert res.exit_code == 0


def test_a_server_that_accepts_but_never_answers_is_unknown_within_the_timeout(cli: Cli) -> None:
    """A listener that never speaks (a hung host): the connect attempt gets a short libpq
    connect_timeout derived from --timeout, not DBADMIN_CONNECT_TIMEOUT's 10 s."""
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        started = time.monotonic()
        res = cli(
            "health", "-d", f"postgresql://u@127.0.0.1:{port}/db", "--timeout", "3", "--nagios"
        )
        elapsed = time.monotonic() - started
    assert res.exit_code == 3
    assert elapsed < 6, elapsed
    assert res.stdout.startswith("DBADMIN UNKNOWN: ") and "timed out" in res.stdout


def test_ctrl_c_exits_130(tmp_path: Path) -> None:
    import os
    import signal

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dbadmin",
            "health",
            "--timeout",
            "60",
            "-d",
            f"postgresql://u:pw-int-5@127.0.0.1:{free_port()}/db",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "waiting for" not in proc.stderr.readline():
        pass
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "pw-int-5" not in out + err


def test_a_blocked_check_query_hits_statement_timeout_and_the_run_stays_bounded(
    cli: Cli, fresh_db: DbUrl
) -> None:
    """fk_without_index reads pg_relation_size(), which waits behind an ACCESS EXCLUSIVE lock:
    SET LOCAL statement_timeout cancels it, and the checks after it are not run past --timeout."""
    locker = _connect(fresh_db)
    try:
        with locker.cursor() as cur:
            cur.execute(
                "CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE c (p_id int REFERENCES p)"
            )
            locker.commit()
            cur.execute("LOCK TABLE c IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        res, doc = _health(cli, fresh_db, "-c", "fk_without_index,database_size", "--timeout", "2")
        elapsed = time.monotonic() - started
        assert res.exit_code == 3, doc
        assert elapsed < 4.5, elapsed
        fk = doc["checks"]["fk_without_index"]
        assert fk["status"] == "UNKNOWN" and "statement_timeout" in fk["summary"]
        assert doc["checks"]["database_size"]["status"] in {"OK", "UNKNOWN"}
    finally:
        locker.close()


class FreezingProxy:
    """A TCP relay to the server that stops relaying (without closing anything) once the client
    sends a given byte string: a network that hangs mid-query, which no server-side
    statement_timeout can end."""

    def __init__(self, upstream_port: int, freeze_on: bytes) -> None:
        import socket

        self.upstream_port = upstream_port
        self.freeze_on = freeze_on
        self.frozen = threading.Event()
        self.sockets: list[socket.socket] = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream_port))
            self.sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, src, dst, from_client: bool) -> None:  # type: ignore[no-untyped-def]
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                return
            if not data:
                return
            if from_client and self.freeze_on in data:
                self.frozen.set()
            if self.frozen.is_set():
                continue  # swallow everything: the client waits forever for an answer
            try:
                dst.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self.listener.close()
        for sock in self.sockets:
            sock.close()


def test_a_network_that_hangs_mid_query_is_cut_off_at_the_timeout(
    cli: Cli, pg_server: PgServer
) -> None:
    assert pg_server.tcp_port is not None
    proxy = FreezingProxy(pg_server.tcp_port, b"max_connections")
    try:
        url = f"postgresql://postgres@127.0.0.1:{proxy.port}/postgres"
        started = time.monotonic()
        res = cli("health", "-d", url, "--timeout", "2", "--nagios", "-c", "connections,latency")
        elapsed = time.monotonic() - started
        assert proxy.frozen.is_set()  # the connections query was sent and never answered
        assert res.exit_code == 3
        assert elapsed < 5, elapsed
        assert res.stdout.startswith("DBADMIN UNKNOWN: the health run did not finish within")
    finally:
        proxy.close()


def test_invalid_unused_index_dead_tuples_inactive_slot_and_long_query(
    cli: Cli, pg_server: PgServer, fresh_db: DbUrl
) -> None:
    conn = _connect(fresh_db)
    conn.autocommit = True
    slot = f"h_slot_{uuid.uuid4().hex[:8]}"
    runner = _connect(fresh_db)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "CREATE TABLE events (id int, kind int) WITH (autovacuum_enabled = off);"
                "INSERT INTO events SELECT g, g % 3 FROM generate_series(1, 3000) g;"
                "CREATE INDEX events_kind ON events (kind);"
            )
            with pytest.raises(psycopg2.errors.UniqueViolation):  # leaves an invalid index
                cur.execute("CREATE UNIQUE INDEX CONCURRENTLY events_kind_unique ON events (kind)")
            cur.execute("DELETE FROM events WHERE id > 500")
            cur.execute("SELECT pg_create_physical_replication_slot(%s, true)", (slot,))
        conn.close()  # its statistics are flushed when the backend exits

        def dead_tuples_visible() -> bool:
            rows = pg_server.execute(
                "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'events'",
                fresh_db.database or "",
            )
            return bool(rows) and rows[0][0] >= 2500

        _wait_until(dead_tuples_visible)
        with runner.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            runner_pid = cur.fetchone()[0]
        runner.commit()
        sleeper = threading.Thread(
            target=lambda: runner.cursor().execute("SELECT pg_sleep(2.5)"), daemon=True
        )
        sleeper.start()
        time.sleep(1.2)
        res, doc = _health(
            cli,
            fresh_db,
            "-c",
            "invalid_indexes,unused_indexes,vacuum,replication_slots,long_queries",
            "--warn",
            "long_queries=1",
            env={"DBADMIN_HEALTH_UNUSED_INDEX_MIN_MB": "0"},
        )
        checks = doc["checks"]
        assert res.exit_code == 2, doc  # vacuum: 83% dead tuples is CRITICAL
        assert checks["invalid_indexes"]["status"] == "WARNING"
        assert checks["invalid_indexes"]["details"][0]["index"] == "events_kind_unique"
        unused = {d["index"] for d in checks["unused_indexes"]["details"]}
        assert "events_kind" in unused and "events_kind_unique" not in unused
        vacuum = checks["vacuum"]
        assert vacuum["status"] == "CRITICAL" and vacuum["details"][0]["table"] == "events"
        assert vacuum["details"][0]["last_vacuum"] is None
        slots = checks["replication_slots"]
        assert slots["status"] == "WARNING" and slot in slots["summary"]
        long_q = checks["long_queries"]
        assert long_q["status"] == "WARNING" and f"pid {runner_pid}" in long_q["summary"]
        assert "pg_sleep" in long_q["details"][0]["query"]
        sleeper.join(10)
    finally:
        runner.close()
        pg_server.execute(
            f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
            f"WHERE slot_name = '{slot}'"
        )


def test_check_and_skip_select_the_checks(cli: Cli, fresh_db: DbUrl) -> None:
    res, doc = _health(cli, fresh_db, "--skip", "latency", "--skip", "database_size,vacuum")
    assert res.exit_code == 0, doc
    assert list(doc["checks"]) == [
        n for n in CHECK_NAMES if n not in {"latency", "database_size", "vacuum"}
    ]
    res, doc = _health(cli, fresh_db, "-c", "latency,connections", "--skip", "latency")
    assert list(doc["checks"]) == ["connections"]
    res = cli("health", "-d", fresh_db.render(), "-c", "latency", "--skip", "latency")
    assert res.exit_code == 3 and "no checks left" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_wraparound_is_judged_on_xid_age_and_on_freeze_max_age_percent(
    cli: Cli, fresh_db: DbUrl
) -> None:
    res, doc = _health(cli, fresh_db, "-c", "wraparound")
    check = doc["checks"]["wraparound"]
    assert res.exit_code == 0 and check["status"] == "OK", doc
    age, pct = check["value"], check["metrics"]["freeze_pct"]
    assert age > 0 and (check["warn"], check["crit"]) == (1.3e9, 1.4e9)
    assert "oldest transaction ID age" in check["summary"]
    res, doc = _health(
        cli, fresh_db, "-c", "wraparound", "--warn", f"wraparound={age}", "--crit", "wraparound=off"
    )
    assert res.exit_code == 1 and doc["checks"]["wraparound"]["status"] == "WARNING", doc
    assert "VACUUM (FREEZE)" in doc["checks"]["wraparound"]["advice"]
    # the percentage of autovacuum_freeze_max_age alone can make it CRITICAL
    res, doc = _health(
        cli, fresh_db, "-c", "wraparound", "--crit", f"wraparound_freeze_pct={max(pct, 1e-6):g}"
    )
    assert res.exit_code == 2 and doc["checks"]["wraparound"]["status"] == "CRITICAL", doc


def test_cache_hit_is_skipped_with_too_few_reads_and_judged_below_the_threshold(
    cli: Cli, pg_server: PgServer, fresh_db: DbUrl
) -> None:
    res, doc = _health(cli, fresh_db, "-c", "cache_hit", "--warn", "cache_hit=101")
    check = doc["checks"]["cache_hit"]
    assert res.exit_code == 0 and check["value"] is None, doc
    assert "too few reads to judge" in check["summary"]

    conn = _connect(fresh_db)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE hot (id int PRIMARY KEY, pad text)")
        cur.execute("INSERT INTO hot SELECT g, repeat('x', 200) FROM generate_series(1, 5000) g")
        for _ in range(3):
            cur.execute("SELECT count(*) FROM hot WHERE pad <> ''")
    conn.close()  # the backend's statistics are flushed when it exits

    def counted() -> bool:
        rows = pg_server.execute(
            "SELECT coalesce(heap_blks_hit, 0) FROM pg_statio_user_tables WHERE relname = 'hot'",
            fresh_db.database or "",
        )
        return bool(rows) and rows[0][0] > 0

    _wait_until(counted)
    env = {"DBADMIN_HEALTH_CACHE_HIT_MIN_BLOCKS": "1"}
    res, doc = _health(cli, fresh_db, "-c", "cache_hit", env=env)
    check = doc["checks"]["cache_hit"]
    assert check["value"] is not None and 0 < check["value"] <= 100, doc
    assert check["metrics"]["hits"] > 0
    # lower is worse: a ratio below the WARNING threshold warns
    res, doc = _health(cli, fresh_db, "-c", "cache_hit", "--warn", "cache_hit=101", env=env)
    check = doc["checks"]["cache_hit"]
    assert res.exit_code == 1 and check["status"] == "WARNING", doc
    assert "shared buffers" in check["summary"] and check["advice"]


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("--debug", "health", "--timeout", "soon"), {}),
        (("health", "--timeout", "soon", "--nagios"), {"DBADMIN_DEBUG": "1"}),
        (("--debug", "health", "pool", "--duration", "forever"), {}),
    ],
)
def test_debug_adds_the_traceback_and_keeps_the_unknown_exit(
    cli: Cli, args: tuple[str, ...], env: dict[str, str]
) -> None:
    res = cli(*args, env=env)
    assert res.exit_code == 3, (res.stdout, res.stderr)
    assert "Traceback" in res.stderr and "UsageError" in res.stderr
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("dbadmin: error: --") and "is not a duration" in last
    if "--nagios" in args:
        assert res.stdout.count("\n") == 1 and res.stdout.startswith("DBADMIN UNKNOWN: --timeout")
    res = cli(*(a for a in args if a != "--debug"), env={"DBADMIN_DEBUG": ""})
    assert res.exit_code == 3 and "Traceback" not in res.stderr


def test_check_errors_are_one_line_with_every_password_masked(pg_server: PgServer) -> None:
    """A failed check's reason comes from the server's error: one line, the connection's
    password masked even bare, URLs' passwords masked before any cut."""
    from conftest import PASSWORD

    from dbadmin.health.session import Session
    from dbadmin.urls import error_line

    conn = _connect(pg_server.password_url())
    try:
        session = Session(conn, time.monotonic() + 5, PASSWORD)
        message = f"token {PASSWORD} {'x' * 300} postgres://app:{PASSWORD}@host/db"
        with conn.cursor() as cur, pytest.raises(psycopg2.Error) as caught:
            cur.execute(f"DO $$ BEGIN RAISE EXCEPTION '%', '{message}'; END $$")
        exc = caught.value
        assert PASSWORD in str(exc) and "\n" in str(exc).strip()  # the raw text leaks
        line = session.error_line(exc)
        assert line == f"token *** {'x' * 300} postgres://app:***@host/db"
        for limit in range(1, len(message) + 10):
            cut = error_line(exc, PASSWORD, limit=limit)
            assert len(cut) <= limit and line.startswith(cut)
            assert not any(PASSWORD[i : i + 4] in cut for i in range(len(PASSWORD) - 3)), cut
    finally:
        conn.close()
