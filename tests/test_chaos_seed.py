"""`dbadmin seed` under concurrency and signals (issue 13, item 8): two seeds never both load, a
killed seed leaves the database as an unstarted seed would. Real processes, real server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg2
import pytest
from conftest import execute as query

from dbadmin.errors import ExitCode
from dbadmin.urls import DbUrl

NOW = "2026-01-15T00:00:00+00:00"
SCHEMA = """
CREATE TABLE parent (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE child (
    id uuid PRIMARY KEY,
    parent_id int NOT NULL REFERENCES parent,
    note text,
    created_at timestamptz NOT NULL
);
CREATE INDEX child_created ON child (created_at);
"""


def counts(url: DbUrl) -> dict[str, int]:
    return {t: query(url, f"SELECT count(*) FROM {t}")[0][0] for t in ("parent", "child")}


def start_seed(url: DbUrl, *args: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "dbadmin", "seed", "-d", url.render(), "--now", NOW]
    cmd += ["--from-database", *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, out, err


@contextmanager
def share_lock(url: DbUrl, table: str) -> Iterator[psycopg2.extensions.connection]:
    """Hold SHARE on ``table``: reads (planning) go on, a COPY into it waits until released."""
    conn = psycopg2.connect(**url.connect_kwargs())
    try:
        with conn.cursor() as cur:
            cur.execute(f"LOCK TABLE {table} IN SHARE MODE")
        yield conn
    finally:
        conn.rollback()
        conn.close()


def seed_sessions(url: DbUrl) -> int:
    return query(
        url,
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'dbadmin-seed' "
        "AND datname = current_database()",
    )[0][0]


def copy_waiting(url: DbUrl, table: str) -> bool:
    return bool(
        query(
            url,
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            f"AND query LIKE 'COPY \"{table}\"%' AND datname = current_database()",
        )[0][0]
    )


def test_a_second_seed_waits_for_the_first_then_sees_its_rows(fresh_db: DbUrl) -> None:
    """First seed holds the seed lock (its COPY into child is held up by a table lock the test
    takes); a second seed with a short --lock-wait gives up with exit 4 naming the holder; a
    third one waits, and once the first commits it behaves as a seed of a filled database
    (exit 2, refusing non-empty tables): the rows are loaded exactly once."""
    query(fresh_db, SCHEMA)
    with share_lock(fresh_db, "child"):
        first = start_seed(fresh_db, "--rows", "child=900", "--json")
        try:
            wait_for(lambda: copy_waiting(fresh_db, "child"), "the first seed's COPY to wait")
            code, out, err = finish(start_seed(fresh_db, "--rows", "child=900", "--lock-wait", "1"))
            assert code == ExitCode.TIMEOUT, err
            assert out == ""
            assert "another seed holds the seed lock: pid" in err and "--lock-wait" in err
            assert counts(fresh_db) == {"parent": 0, "child": 0}  # nothing committed yet
            third = start_seed(fresh_db, "--rows", "child=900", "--lock-wait", "60")
            wait_for(lambda: seed_sessions(fresh_db) == 2, "the third seed to wait for the lock")
        except BaseException:
            first.kill()
            raise
    code, out, err = finish(first)
    assert code == 0, err
    loaded = {t["table"]: t["rows"] for t in json.loads(out)["tables"]}
    code, out, err = finish(third)
    assert code == ExitCode.USAGE, err
    assert "waiting up to 60 s for the seed lock" in err
    assert "refusing to seed tables that already have rows" in err
    assert counts(fresh_db) == loaded and loaded["child"] == 900


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_a_killed_seed_leaves_the_database_as_an_unstarted_one(fresh_db: DbUrl, sig: int) -> None:
    """Killed while loading its second table (the first one fully loaded by then): nothing is
    left, not even the first table; the indexes dropped for the bulk load are back; the lock
    went with the process, so the next seed runs and fills everything."""
    query(fresh_db, SCHEMA)
    indexes = query(fresh_db, "SELECT indexname FROM pg_indexes WHERE tablename = 'child'")
    proc = start_seed(fresh_db, "--rows", "child=300000", "--batch-size", "2000")
    try:
        wait_for(
            lambda: (
                proc.poll() is not None
                or query(
                    fresh_db,
                    "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY \"child\"%'",
                )[0][0]
                > 0
            ),
            "the COPY into child",
        )
        assert proc.poll() is None, "the seed finished before it could be killed"
        time.sleep(0.3)
        os.kill(proc.pid, sig)
        code, _, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code != 0, err
    if sig == signal.SIGINT:
        assert code == ExitCode.INTERRUPTED, err
    # the server notices the dead client and rolls its transaction back
    wait_for(
        lambda: (
            query(
                fresh_db,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
            )[0][0]
            == 0
        ),
        "the killed seed's sessions to end",
    )
    assert counts(fresh_db) == {"parent": 0, "child": 0}
    assert query(fresh_db, "SELECT indexname FROM pg_indexes WHERE tablename = 'child'") == indexes
    code, _, err = finish(start_seed(fresh_db, "--rows", "child=900", "--lock-wait", "5"))
    assert code == 0, err
    assert counts(fresh_db)["child"] == 900
