"""`dbadmin health pool`: a real QueuePool driven against a real server, and the Neon sizing rules."""

from __future__ import annotations

import json
import time

from conftest import Cli, PgServer, free_port

from dbadmin.health.pool import (
    ServerView,
    compute_headroom,
    neon_compute_for,
    neon_min_compute,
)
from dbadmin.settings import PoolSettings
from dbadmin.urls import DbUrl

SLOW_QUERY = "SELECT pg_sleep(0.05)"


def _pool_env(size: int, overflow: int, timeout: float) -> dict[str, str]:
    return {
        "DATABASE_POOL_SIZE": str(size),
        "DATABASE_MAX_OVERFLOW": str(overflow),
        "DATABASE_POOL_TIMEOUT": str(timeout),
    }


def test_a_too_small_pool_times_out_and_exits_2(cli: Cli, pg_server: PgServer) -> None:
    res = cli(
        "health",
        "pool",
        "-d",
        pg_server.url().render(),
        "--concurrency",
        "10",
        "--duration",
        "1.5s",
        "--query",
        SLOW_QUERY,
        "--json",
        env=_pool_env(2, 0, 0.2),
    )
    doc = res.json()
    assert res.exit_code == 2, doc
    assert doc["status"] == "CRITICAL"
    assert doc["pool"]["pool_size"] == 2 and doc["pool"]["pool_timeout"] == 0.2
    assert doc["load"]["timeouts"] > 0 and doc["load"]["errors"] == 0
    assert doc["connections"]["peak_open"] <= 2 and doc["connections"]["overflow_used"] == 0
    assert any(v.startswith("pool saturated") for v in doc["verdicts"])
    assert any("DATABASE_POOL_SIZE" in a for a in doc["advice"])


def test_an_ample_pool_exits_0_and_shows_the_server_view(cli: Cli, pg_server: PgServer) -> None:
    res = cli(
        "health",
        "pool",
        "-d",
        pg_server.url().render(),
        "-k",
        "10",
        "--duration",
        "1.5",
        "--query",
        SLOW_QUERY,
        "--json",
        env=_pool_env(10, 0, 5),
    )
    doc = res.json()
    assert res.exit_code == 0, doc
    load = doc["load"]
    assert load["timeouts"] == 0 and load["errors"] == 0 and load["checkouts"] > 50
    assert load["query_ms"]["p50"] >= 50  # pg_sleep(0.05) really ran
    assert set(load["wait_ms"]) == {"p50", "p95", "p99", "max"}
    server = doc["server"]
    assert server["max_connections"] == int(pg_server.execute("SHOW max_connections")[0][0])
    assert 1 <= server["ours"] <= 10  # the server saw the pool's connections by state
    assert set(server["ours_by_state"]) <= {"active", "idle", "idle in transaction"}
    head = doc["headroom"]
    assert head["endpoint"] == "direct" and head["demand"] == 10
    assert head["available"] == (
        server["max_connections"] - server["reserved"] - server["other_connections"]
    )
    assert doc["verdicts"][0].startswith("pool fits")


def test_pools_that_exceed_the_server_are_critical(cli: Cli, pg_server: PgServer) -> None:
    res = cli(
        "health",
        "pool",
        "-d",
        pg_server.url().render(),
        "-k",
        "2",
        "--duration",
        "0.5",
        "--instances",
        "4",
        "--json",
        env=_pool_env(10, 20, 5),
    )
    doc = res.json()
    assert res.exit_code == 2, doc
    assert doc["headroom"]["demand"] == 120 and doc["headroom"]["headroom"] < 0
    assert any(v.startswith("server headroom") for v in doc["verdicts"])
    assert any("PgBouncer" in a for a in doc["advice"])


def test_table_output_for_people(cli: Cli, pg_server: PgServer) -> None:
    res = cli("health", "pool", "-d", pg_server.url().render(), "-k", "2", "--duration", "0.3")
    assert res.exit_code == 0, res.stderr
    for word in ("checkouts", "checkout wait", "server view", "headroom", "verdict: pool fits"):
        assert word in res.stdout


def test_pool_against_a_server_that_is_down_is_unknown(cli: Cli) -> None:
    started = time.monotonic()
    res = cli(
        "health",
        "pool",
        "-d",
        f"postgresql://u:pw-77@127.0.0.1:{free_port()}/db",
        env={"DBADMIN_CONNECT_RETRY": "1"},
    )
    assert res.exit_code == 3
    assert time.monotonic() - started < 10
    assert res.stderr.strip().splitlines()[-1].startswith("dbadmin: error: cannot connect")
    assert "pw-77" not in res.stderr


def test_neon_compute_sizes() -> None:
    assert neon_compute_for(104) == "0.25 CU"
    assert neon_compute_for(419) == "1 CU"
    assert neon_compute_for(3357) == "8 CU"
    assert neon_compute_for(4000) == "9 CU+"
    assert neon_min_compute(90) == "0.25 CU"
    assert neon_min_compute(98) == "0.5 CU"  # 104 - 7 reserved for Neon's superuser
    assert neon_min_compute(1000) == "4 CU"
    assert neon_min_compute(5000) is None


def test_neon_direct_and_pooled_headroom_rules() -> None:
    pool = PoolSettings(pool_size=10, max_overflow=20)
    view = ServerView(max_connections=419, reserved=3, ours_by_state={}, other_connections=12)
    direct = DbUrl.parse("postgresql://u:p@ep-cool-1234.eu-central-1.aws.neon.tech/app")
    head = compute_headroom(direct, pool, 20, view)
    assert head.endpoint == "neon-direct"
    assert head.demand == 600
    assert head.available == 419 - 7 - 12  # Neon reserves 7 for its superuser
    assert head.headroom < 0 and head.used_pct > 100
    assert head.neon_compute == "1 CU" and head.neon_compute_needed == "2 CU"

    pooled = DbUrl.parse("postgresql://u:p@ep-cool-1234-pooler.eu-central-1.aws.neon.tech/app")
    head = compute_headroom(pooled, pool, 20, view)
    assert head.endpoint == "neon-pooled"
    assert head.available == 10_000 and head.headroom == 9_400
    assert head.server_pool == 377  # 90% of max_connections
    assert "queues" in head.explanation


def test_connections_killed_mid_run_are_invalidated_and_reopened(
    cli: Cli, pg_server: PgServer
) -> None:
    """pg_terminate_backend() on the pool's connections during the run: pre_ping finds them dead
    at checkout, the pool invalidates them and opens new ones, and the report counts both."""
    import os
    import threading

    app = f"dbadmin-pool-{os.getpid()}"  # the driver's application_name (it runs in-process)
    killed: list[int] = []

    def kill_the_pool() -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not killed:
            time.sleep(0.3)
            rows = pg_server.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE application_name = '{app}'"
            )
            killed.extend(1 for r in rows if r[0])

    killer = threading.Thread(target=kill_the_pool, daemon=True)
    killer.start()
    res = cli(
        "health",
        "pool",
        "-d",
        pg_server.url().render(),
        "-k",
        "3",
        "--duration",
        "2",
        "--query",
        "SELECT pg_sleep(0.01)",
        "--json",
        env=_pool_env(3, 0, 5),
    )
    killer.join(10)
    doc = res.json()
    assert killed, "no pool connection was seen to terminate"
    conns, load = doc["connections"], doc["load"]
    assert doc["pool"]["pool_pre_ping"] is True
    assert conns["invalidated"] >= 1, doc
    assert conns["reopened"] >= 1 and conns["opened"] > conns["peak_open"], doc
    assert load["checkouts"] > 20 and load["timeouts"] == 0
    # a connection killed while its query ran is an error (CRITICAL); one killed while idle in
    # the pool is only an invalidation found by pre_ping
    if load["errors"]:
        assert res.exit_code == 2 and "terminat" in (load["first_error"] or ""), doc
    else:
        assert res.exit_code == 0, doc


def test_a_p95_checkout_wait_above_the_threshold_is_a_warning(
    cli: Cli, pg_server: PgServer
) -> None:
    """No timeouts, but 4 threads queue for 2 connections: the p95 wait (about one query
    time, 50 ms) is above a lowered pool_wait threshold, so the pool is reported saturated."""
    res = cli(
        "health",
        "pool",
        "-d",
        pg_server.url().render(),
        "-k",
        "4",
        "--duration",
        "1",
        "--query",
        SLOW_QUERY,
        "--warn",
        "pool_wait=10",
        "--crit",
        "pool_wait=5000",
        "--json",
        env=_pool_env(2, 0, 5),
    )
    doc = res.json()
    assert res.exit_code == 1, doc
    assert doc["load"]["timeouts"] == 0 and doc["load"]["wait_ms"]["p95"] >= 10
    assert any("checkout wait p95" in v for v in doc["verdicts"])
    assert any("DATABASE_POOL_SIZE" in a for a in doc["advice"])


def _leaked_parts(secret: str, text: str, size: int = 4) -> list[str]:
    """Every piece of ``secret`` (``size`` characters or more) that shows in ``text``."""
    return [
        secret[i : i + size] for i in range(len(secret) - size + 1) if secret[i : i + size] in text
    ]


def test_a_long_error_never_shows_any_part_of_the_password(cli: Cli, pg_server: PgServer) -> None:
    """The first error is cut to 200 characters: masking must come first, or a URL cut before
    its '@' keeps the start of its password; the settings' password is masked even bare."""
    from conftest import PASSWORD

    url = pg_server.password_url()
    # unmasked, "token <pw> " + 140 x + " postgresql://u:" (183 characters) puts the 200th
    # character inside the URL's password
    message = f"token {PASSWORD} {'x' * 140} postgresql://u:{PASSWORD}@db.example.com/app"
    query = f"DO $$ BEGIN RAISE EXCEPTION '%', '{message}'; END $$"
    res = cli(
        "health", "pool", "-d", url.render(), "-k", "1", "--duration", "0.3",
        "--query", query, "--json",
    )  # fmt: skip
    doc = res.json()
    assert res.exit_code == 2, doc
    first = doc["load"]["first_error"]
    assert doc["load"]["errors"] > 0 and first.startswith("token *** xxx"), first
    assert len(first) == 200 and "x" * 140 + " postgresql://u:***@db.example.com/app" in first
    assert doc["load"].pop("query") == query  # the query as given is echoed; nothing else
    assert _leaked_parts(PASSWORD, json.dumps(doc) + res.stderr) == []


def test_percentiles_are_nearest_rank() -> None:
    from dbadmin.health.pool import Percentiles
    from dbadmin.stats import nearest_rank

    assert nearest_rank([], 0.5) == 0.0
    assert nearest_rank([7.0], 0.99) == 7.0
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert [nearest_rank(values, q) for q in (0.0, 0.05, 0.5, 0.95, 0.99, 1.0)] == [
        1.0, 1.0, 10.0, 19.0, 20.0, 20.0,
    ]  # fmt: skip
    p = Percentiles.of([v / 1000 for v in reversed(values)])  # seconds in, ms out, any order
    assert (p.p50, p.p95, p.p99, p.max) == (10.0, 19.0, 20.0, 20.0)
    assert Percentiles.of([]) == Percentiles(0.0, 0.0, 0.0, 0.0)
