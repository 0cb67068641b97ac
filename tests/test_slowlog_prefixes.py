"""`slow-queries log` infers the whole log_line_prefix of logs written by a real server.

One server (embedded PostgreSQL 18, or 15 in the pg15 lane) is started once per prefix with
logging_collector, log_min_duration_statement=0, connection and checkpoint logging: each file has
the postmaster's start and shutdown lines, the checkpointer's, connection lines with an unknown
user, TCP and Unix-socket sessions, an application name with spaces, an empty one and an error.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import Cli
from slowlog_servers import (
    TCP_HBA,
    TCP_LOGGING,
    logging_cluster,
    pgbadger_queries,
    reconfigure,
)

from dbadmin.local import Cluster
from dbadmin.slowlog.logparse import parse_logs

PREFIXES = (
    "%m [%p] ",  # PostgreSQL's default
    "%m [%p] %q%u@%d ",  # Debian's
    "%t:%r:%u@%d:[%p]:",  # AWS RDS / Aurora
    "%t-%c-",  # Azure Database for PostgreSQL
    "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",  # pgBadger's documentation
    "%t [%p]: user=%u,db=%d,app=%a,client=%h ",  # pgBadger's documentation
    "%m [%p] %q%u@%d %a ",  # application names with spaces
    "%m [%p] %l %s %q%v %x %u@%d ",
    "%m [%p] %e %b: %q%Q %u@%d %h ",
    "%n [%c] %q%r %a ",
)


@dataclass(frozen=True)
class PrefixLog:
    prefix: str
    path: Path
    statements: int  # statements that completed (each logs a duration)


def _workload(cluster: Cluster) -> int:
    """Sessions over TCP and the Unix socket, three application names, writes, one error."""
    import psycopg2

    tcp = {"host": "127.0.0.1", "port": cluster.port, "user": "postgres", "dbname": "postgres"}
    done = 0
    sessions = [
        psycopg2.connect(**tcp, application_name="PostgreSQL JDBC Driver"),
        psycopg2.connect(**cluster.url().connect_kwargs(), application_name="psql"),
        psycopg2.connect(**tcp, application_name=""),
    ]
    try:
        for conn in sessions:
            conn.autocommit = True
        jdbc, psql, anonymous = (conn.cursor() for conn in sessions)
        for cur, sql in (
            (jdbc, "DROP TABLE IF EXISTS items"),
            (jdbc, "CREATE TABLE items (id int PRIMARY KEY, name text)"),
            (jdbc, "INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 20) g"),
            (psql, "SELECT name FROM items WHERE id = 1"),
            (anonymous, "SELECT name FROM items WHERE id = 2"),
            (jdbc, "UPDATE items SET name = 'x' WHERE id = 3"),
            (psql, "SELECT count(*)\nFROM items"),
            (anonymous, "CHECKPOINT"),
        ):
            cur.execute(sql)
            done += 1
        try:
            psql.execute("SELECT * FROM missing_table")
        except psycopg2.errors.UndefinedTable:
            pass
    finally:
        for conn in sessions:
            conn.close()
    return done


@pytest.fixture(scope="module")
def prefix_logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, PrefixLog]]:
    root = tmp_path_factory.mktemp("slowlog-prefixes")
    sock = Path(tempfile.mkdtemp(prefix="dbadmin-prefix-"))
    os.chmod(sock, 0o777)
    cluster = logging_cluster(
        root,
        sock,
        {**TCP_LOGGING, "log_disconnections": "on", "compute_query_id": "on"},
        hba=TCP_HBA,
    )
    logs: dict[str, PrefixLog] = {}
    try:
        cluster.ensure_running()  # initdb once
        for k, prefix in enumerate(PREFIXES):
            reconfigure(
                cluster, {"log_line_prefix": f"'{prefix}'", "log_filename": f"'prefix-{k}.log'"}
            )
            cluster.ensure_running()
            statements = _workload(cluster)
            cluster.stop()  # the shutdown lines end the file
            path = cluster.pgdata / "collected" / f"prefix-{k}.log"
            logs[prefix] = PrefixLog(prefix, path, statements)
    finally:
        cluster.stop()
    yield logs
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(sock, ignore_errors=True)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_the_whole_prefix_is_inferred_from_a_real_log(
    prefix_logs: dict[str, PrefixLog], prefix: str, cli: Cli
) -> None:
    log = prefix_logs[prefix]
    text = log.path.read_text()
    assert "database system is ready to accept connections" in text  # background lines
    assert "checkpoint starting" in text and "connection received" in text
    res = cli("slow-queries", "log", str(log.path), "--json", "--top", "50")
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert doc["prefixes"] == [prefix]  # type: ignore[index]
    assert doc["unparsed_lines"] == 0  # type: ignore[index]
    assert doc["total_queries"] == log.statements  # type: ignore[index]
    assert doc["errors"] == 1  # type: ignore[index]
    apps = {app for g in doc["groups"] for app in g["applications"]}  # type: ignore[index]
    if "%a" in prefix:
        assert "PostgreSQL JDBC Driver" in apps and "psql" in apps
    assert parse_logs([log.path], prefix=prefix).as_dict() == parse_logs([log.path]).as_dict()


@pytest.mark.parametrize("prefix", PREFIXES)
def test_query_counts_equal_pgbadgers(
    prefix_logs: dict[str, PrefixLog], prefix: str, tmp_path: Path
) -> None:
    log = prefix_logs[prefix]
    theirs = pgbadger_queries(log.path, "stderr", prefix, tmp_path)
    assert parse_logs([log.path]).total_queries == theirs == log.statements
