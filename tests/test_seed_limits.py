"""Issue 14, item 3: failure isolation and no silent caps.

An unfillable table is reported with its reason and skipped with the tables that need it; the
rest is seeded; the summary is printed (human and --json); exit 1. More rows than a unique
column's type or CHECK allows is exit 2 before anything is written. Unique integer columns
(plain int keys, identity, serial) take any count up to what the type holds.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from conftest import Cli
from conftest import execute as run

from dbadmin.errors import ExitCode, UsageError
from dbadmin.urls import DbUrl

NOW = "2026-01-15T00:00:00+00:00"


def count(url: DbUrl, table: str) -> int:
    return int(run(url, f"SELECT count(*) FROM {table}")[0][0])


def seed(cli: Cli, url: DbUrl, *args: str):  # type: ignore[no-untyped-def]
    return cli("seed", "-d", url.render(), "--now", NOW, "--from-database", *args)


@pytest.mark.parametrize(
    "key",
    [
        "id int PRIMARY KEY",
        "id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        "id serial PRIMARY KEY",
        "id bigint PRIMARY KEY",
    ],
)
def test_unique_integers_take_any_count(cli: Cli, fresh_db: DbUrl, key: str) -> None:
    """Was capped at 1,000 rows with exit 0."""
    run(fresh_db, f"CREATE TABLE t ({key}, v text)")
    res = seed(cli, fresh_db, "--rows", "t=5000", "--json")
    assert res.exit_code == 0, res.stderr
    assert {t["table"]: t["rows"] for t in res.json()["tables"]} == {"t": 5000}
    assert count(fresh_db, "t") == 5000
    assert run(fresh_db, "SELECT count(DISTINCT id), min(id), max(id) FROM t")[0] == (5000, 1, 5000)
    run(fresh_db, "INSERT INTO t (v) VALUES ('next')" if "int PRIMARY" not in key else "SELECT 1")


def test_an_int4_key_plans_up_to_two_to_the_31(fresh_db: DbUrl, tmp_path: Path) -> None:
    from dbadmin.seed.run import SeedRequest, plan_seed
    from dbadmin.settings import resolve

    run(fresh_db, "CREATE TABLE t (id int PRIMARY KEY, v text)")
    settings = resolve(database_url=fresh_db.render(), environ={}, cwd=tmp_path)
    now = dt.datetime.fromisoformat(NOW)
    plan = plan_seed(settings, SeedRequest(from_database=True, rows={"t": 2**31 - 1}, now=now))
    assert [(t.table, t.rows) for t in plan.tables] == [("t", 2**31 - 1)]
    with pytest.raises(UsageError, match="more than the table can hold"):
        plan_seed(settings, SeedRequest(from_database=True, rows={"t": 2**31}, now=now))


@pytest.mark.parametrize(
    ("ddl", "rows", "room"),
    [
        ("code smallint PRIMARY KEY", 40_000, "32,767"),
        ("code int PRIMARY KEY CHECK (code BETWEEN 1 AND 100)", 101, "100"),
        ("code char(2) PRIMARY KEY", 500, "10"),
    ],
)
def test_more_rows_than_a_unique_column_holds_is_exit_2_and_nothing_written(
    cli: Cli, fresh_db: DbUrl, ddl: str, rows: int, room: str
) -> None:
    run(
        fresh_db,
        "CREATE TABLE owner (id int PRIMARY KEY, name text NOT NULL);"
        f"CREATE TABLE item ({ddl}, owner_id int NOT NULL REFERENCES owner);",
    )
    res = seed(cli, fresh_db, "--rows", f"item={rows}")
    assert res.exit_code == ExitCode.USAGE, res.stderr
    assert f"--rows item={rows:,} is more than the table can hold" in res.stderr
    assert f"room for {room} more rows" in res.stderr
    assert res.stdout == ""
    assert count(fresh_db, "owner") == 0 and count(fresh_db, "item") == 0


def test_a_profile_count_above_the_limit_is_lowered_with_a_note(cli: Cli, fresh_db: DbUrl) -> None:
    run(fresh_db, "CREATE TABLE grade (g int PRIMARY KEY CHECK (g BETWEEN 1 AND 6), label text)")
    res = seed(cli, fresh_db, "--json")  # dev profile: 100 rows per table
    assert res.exit_code == 0, res.stderr
    table = res.json()["tables"][0]
    assert table["rows"] == 6 and count(fresh_db, "grade") == 6
    assert any("lowered to 6 rows: unique column g" in note for note in table["notes"])


UNFILLABLE = """
CREATE TABLE team (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE slot (id int PRIMARY KEY, starts int, ends int, CHECK (starts + 1 = ends));
CREATE TABLE booking (id int PRIMARY KEY, slot_id int NOT NULL REFERENCES slot,
                      team_id int NOT NULL REFERENCES team);
CREATE TABLE note (id int PRIMARY KEY, slot_id int REFERENCES slot, body text);
CREATE TABLE audit (id int PRIMARY KEY, what text);
CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit rows are written by the application only'; END $$;
CREATE TRIGGER audit_refuse BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION refuse();
"""


def test_unfillable_tables_are_skipped_with_their_dependants_and_the_rest_is_seeded(
    cli: Cli, fresh_db: DbUrl
) -> None:
    run(fresh_db, UNFILLABLE)
    res = seed(cli, fresh_db, "--json")
    assert res.exit_code == ExitCode.PROBLEM, res.stderr
    doc = res.json()
    reasons = {u["table"]: u["reason"] for u in doc["unfillable"]}
    assert set(reasons) == {"slot", "booking", "audit"}
    assert "unsupported form" in reasons["slot"]
    assert "depends on" in reasons["booking"] and "slot" in reasons["booking"]
    assert "audit rows are written by the application only" in reasons["audit"]
    seeded = {t["table"]: (t["rows"], t["status"]) for t in doc["tables"]}
    assert seeded["team"] == (100, "seeded") and seeded["note"] == (100, "seeded")
    assert {name: count(fresh_db, name) for name in seeded} == {
        "audit": 0,
        "booking": 0,
        "note": 100,
        "slot": 0,
        "team": 100,
    }
    # a nullable key to the unfilled table: NULL, the table itself is seeded
    assert count(fresh_db, "note WHERE slot_id IS NOT NULL") == 0
    # the human summary too, and each unfillable table on stderr
    run(fresh_db, "TRUNCATE team, note CASCADE")
    res = seed(cli, fresh_db)
    assert res.exit_code == ExitCode.PROBLEM
    for table in ("team", "note", "slot", "booking", "audit"):
        assert table in res.stdout
    assert res.stdout.count("unfillable") == 3
    assert "cannot fill audit" in res.stderr and "cannot fill slot" in res.stderr


def test_append_counts_the_reused_parents_in_a_keys_room(cli: Cli, fresh_db: DbUrl) -> None:
    """With --append the parents' existing rows are reused: their keys are the room of a key
    made of foreign keys (was "room for 0 more rows")."""
    run(
        fresh_db,
        "CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY);"
        "CREATE TABLE ab (a_id int NOT NULL REFERENCES a, b_id int NOT NULL REFERENCES b,"
        " PRIMARY KEY (a_id, b_id));",
    )
    assert seed(cli, fresh_db, "--rows", "ab=300").exit_code == 0
    res = seed(cli, fresh_db, "--append", "--rows", "ab=200", "--json")
    assert res.exit_code == 0, res.stderr
    assert count(fresh_db, "ab") == 500 and count(fresh_db, "a") == 300
