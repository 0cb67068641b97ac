"""`dbadmin seed`: determinism, idempotence, constraints, the generic generator, safety rails."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import psycopg2
import pytest
from conftest import Cli, PgServer

from dbadmin.errors import ExitCode
from dbadmin.seed.checks import ColumnCheck, parse_check
from dbadmin.seed.copy import copy_batches, rows_to_text
from dbadmin.seed.minimal import SESSION_ID
from dbadmin.urls import DbUrl

NOW = "2026-01-15T00:00:00+00:00"
REPO = Path(__file__).resolve().parent.parent
BOOKKEEPING = ("alembic_version", "dbadmin_migrations")


def query(url: DbUrl, sql: str) -> list[tuple]:
    conn = psycopg2.connect(**url.connect_kwargs())
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            rows = cur.fetchall() if cur.description else []
        conn.commit()
        return rows
    finally:
        conn.close()


def tables(url: DbUrl) -> list[str]:
    rows = query(
        url,
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    )
    return [r[0] for r in rows if r[0] not in BOOKKEEPING]


def checksums(url: DbUrl) -> dict[str, tuple[int, str]]:
    """Row count and md5 of every row's text, in a stable order, per table."""
    out = {}
    for name in tables(url):
        count, digest = query(
            url,
            f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) "
            f'FROM "{name}" t',
        )[0]
        out[name] = (count, digest)
    return out


def counts(url: DbUrl) -> dict[str, int]:
    return {name: query(url, f'SELECT count(*) FROM "{name}"')[0][0] for name in tables(url)}


def orphans(url: DbUrl) -> dict[str, int]:
    """Rows whose (non-NULL) foreign key has no parent, for every FK in the schema."""
    fks = query(
        url,
        """
        SELECT c.conname, c.conrelid::regclass::text, c.confrelid::regclass::text,
               array_agg(a.attname ORDER BY k.n), array_agg(af.attname ORDER BY k.n)
        FROM pg_constraint c
        CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(child, parent, n)
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.child
        JOIN pg_attribute af ON af.attrelid = c.confrelid AND af.attnum = k.parent
        WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
        GROUP BY c.conname, c.conrelid, c.confrelid
        """,
    )
    found = {}
    for name, child, parent, ccols, pcols in fks:
        join = " AND ".join(f'p."{p}" = c."{k}"' for k, p in zip(ccols, pcols, strict=True))
        not_null = " AND ".join(f'c."{k}" IS NOT NULL' for k in ccols)
        found[name] = query(
            url,
            f"SELECT count(*) FROM {child} c WHERE {not_null} "
            f"AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE {join})",
        )[0][0]
    assert found, "the schema has foreign keys; none were found"
    return found


def seed(cli: Cli, url: DbUrl, *args: str):  # type: ignore[no-untyped-def]
    return cli("seed", "-d", url.render(), "--now", NOW, *args)


# --- the COPY loader ---------------------------------------------------------------------------
def test_copy_escaping_round_trips_awkward_text(fresh_db: DbUrl) -> None:
    values = ["tab\there", "line\nbreak", "cr\rhere", "back\\slash", "\\N", "", None, "naïve ✓"]
    query(fresh_db, "CREATE TABLE awkward (id int PRIMARY KEY, v text)")
    conn = psycopg2.connect(**fresh_db.connect_kwargs())
    try:
        text = rows_to_text([(i, v) for i, v in enumerate(values)])
        loaded = copy_batches(conn, "awkward", ["id", "v"], iter([(len(values), text)]))
    finally:
        conn.close()
    assert loaded == len(values)
    assert [r[0] for r in query(fresh_db, "SELECT v FROM awkward ORDER BY id")] == values


def test_interrupted_copy_rolls_the_table_back(fresh_db: DbUrl) -> None:
    query(fresh_db, "CREATE TABLE t (id int PRIMARY KEY)")

    def batches():  # type: ignore[no-untyped-def]
        yield 2, "1\n2\n"
        raise KeyboardInterrupt

    conn = psycopg2.connect(**fresh_db.connect_kwargs())
    try:
        with pytest.raises(KeyboardInterrupt):  # the original exception, not QueryCanceled
            copy_batches(conn, "t", ["id"], batches())
    finally:
        conn.close()
    assert query(fresh_db, "SELECT count(*) FROM t")[0][0] == 0


class _FixedRows:
    """A table source with ready COPY text (for loader tests)."""

    def __init__(self, table, text: str) -> None:  # type: ignore[no-untyped-def]
        self.table, self.name, self.notes = table, table.name, []
        self.columns = [c.name for c in table.columns]
        self.text = text

    def prepare(self, reader) -> int:  # type: ignore[no-untyped-def]
        return self.text.count("\n")

    def batches(self, batch_size: int):  # type: ignore[no-untyped-def]
        yield self.text.count("\n"), self.text


def test_bulk_load_rebuilds_indexes_and_still_enforces_foreign_keys(
    fresh_db: DbUrl, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlalchemy as sa

    from dbadmin.seed import load

    query(
        fresh_db,
        "CREATE TABLE parent (id int PRIMARY KEY);"
        "CREATE TABLE child (id int PRIMARY KEY, parent_id int "
        "CONSTRAINT child_parent_fk REFERENCES parent, note text);"
        "CREATE INDEX child_parent_idx ON child (parent_id) WHERE note IS NOT NULL;"
        "INSERT INTO parent SELECT generate_series(1, 5)",
    )
    monkeypatch.setattr(load, "REBUILD_MIN_ROWS", 1)
    engine = sa.create_engine(
        "postgresql+psycopg2://", creator=lambda: psycopg2.connect(**fresh_db.connect_kwargs())
    )
    metadata = sa.MetaData()
    metadata.reflect(engine)
    engine.dispose()
    child = metadata.tables["child"]
    definition = (
        "SELECT pg_get_indexdef('child_parent_idx'::regclass), "
        "pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'child_parent_fk'"
    )
    before = query(fresh_db, definition)
    conn = psycopg2.connect(**fresh_db.connect_kwargs())
    try:
        # validated at re-creation: the table is reported, its savepoint rolled back
        refused = load.load_sources(
            conn, [_FixedRows(child, "1\t1\tok\n2\t99\torphan\n")], batch_size=10
        )
        conn.commit()
        assert [(r.table, r.status) for r in refused] == [("child", "unfillable")]
        assert "child_parent_fk" in (refused[0].reason or "")
        assert query(fresh_db, "SELECT count(*) FROM child")[0][0] == 0
        assert query(fresh_db, definition) == before
        results = load.load_sources(
            conn, [_FixedRows(child, "1\t1\tok\n2\t5\t\\N\n")], batch_size=10
        )
        conn.commit()
    finally:
        conn.close()
    assert [(r.table, r.rows, r.status) for r in results] == [("child", 2, "seeded")]
    assert query(fresh_db, definition) == before


def test_checks_parser_understands_postgres_normalised_forms() -> None:
    rules: dict[str, ColumnCheck] = {}
    cols = {"priority", "score", "price", "name"}
    parse_check(
        "((priority)::text = ANY ((ARRAY['high'::character varying, 'low'::character varying])"
        "::text[]))",
        cols,
        rules,
    )
    parse_check("((score >= 0) AND (score <= 100))", cols, rules)
    parse_check("(price > (0)::numeric)", cols, rules)
    parse_check("(char_length((name)::text) >= 3)", cols, rules)
    assert rules["priority"].values == ["high", "low"]
    assert (rules["score"].lo, rules["score"].hi) == (0, 100)
    assert rules["price"].lo == 0 and rules["price"].lo_strict
    assert rules["name"].min_length == 3


# --- the generic generator ---------------------------------------------------------------------
NEVER_SEEN = """
CREATE TYPE mood AS ENUM ('calm', 'busy', 'away');
CREATE TABLE team (
    id serial PRIMARY KEY,
    code varchar(8) NOT NULL UNIQUE,
    budget numeric(8,2) NOT NULL CHECK (budget >= 0 AND budget < 50000),
    active boolean NOT NULL,
    founded date,
    settings jsonb NOT NULL,
    tags text[],
    mood mood NOT NULL
);
CREATE TABLE person (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id int NOT NULL REFERENCES team,
    mentor_id bigint REFERENCES person,            -- self-reference
    email text NOT NULL UNIQUE,
    level smallint NOT NULL CHECK (level BETWEEN 1 AND 5),
    status text NOT NULL CHECK (status IN ('active', 'leave', 'gone')),
    badge uuid NOT NULL UNIQUE,
    hired_at timestamptz NOT NULL,
    rating double precision CHECK (rating > 0),
    bio text
);
CREATE TABLE project (
    team_id int NOT NULL REFERENCES team,
    code char(6) NOT NULL,
    title varchar(60) NOT NULL,
    meta json,
    starts timestamp NOT NULL,
    effort interval,
    PRIMARY KEY (team_id, code)                    -- composite key
);
CREATE TABLE assignment (
    person_id bigint NOT NULL REFERENCES person,
    team_id int NOT NULL,
    code char(6) NOT NULL,
    role text NOT NULL CHECK (role IN ('lead', 'dev')),
    hours int CHECK (hours > 0 AND hours <= 40),
    FOREIGN KEY (team_id, code) REFERENCES project, -- composite FK
    PRIMARY KEY (person_id, team_id, code)
);
"""


def test_generic_generator_fills_a_schema_it_has_never_seen(cli: Cli, fresh_db: DbUrl) -> None:
    query(fresh_db, NEVER_SEEN)
    res = seed(cli, fresh_db, "--from-database", "--rows", "assignment=300", "--json")
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert doc["mode"] == "generic" and doc["unfillable"] == []
    seeded = {t["table"]: t["rows"] for t in doc["tables"]}
    assert seeded["assignment"] == 300
    assert all(seeded[name] > 0 for name in ("team", "person", "project"))
    assert counts(fresh_db) == seeded
    # the database enforced every constraint during COPY; also count orphans and check shapes
    assert set(orphans(fresh_db).values()) == {0}
    assert query(fresh_db, "SELECT count(*) FROM person WHERE mentor_id IS NOT NULL")[0][0] > 0
    assert query(fresh_db, "SELECT count(DISTINCT status) FROM person")[0][0] == 3
    assert query(fresh_db, "SELECT count(*) FROM project WHERE meta IS NOT NULL")[0][0] > 0
    assert query(fresh_db, "SELECT count(DISTINCT (team_id, code)) FROM assignment")[0][0] > 1
    # sequences were advanced past the explicit ids
    query(
        fresh_db,
        "INSERT INTO team (code, budget, active, settings, mood) "
        "VALUES ('new', 1, true, '{}', 'calm')",
    )
    query(
        fresh_db,
        "INSERT INTO person (team_id, email, level, status, badge, hired_at) "
        "VALUES (1, 'x@y', 1, 'active', gen_random_uuid(), now())",
    )


def test_generic_generator_names_tables_it_cannot_fill(cli: Cli, fresh_db: DbUrl) -> None:
    query(
        fresh_db,
        "CREATE TABLE slot (id int PRIMARY KEY, starts int, ends int, CHECK (starts + 1 = ends));"
        "CREATE TABLE booking (id int PRIMARY KEY, slot_id int NOT NULL REFERENCES slot);"
        "CREATE TABLE fine (id int PRIMARY KEY, note text);",
    )
    res = seed(cli, fresh_db, "--from-database", "--json")
    assert res.exit_code == ExitCode.PROBLEM, res.stderr
    reasons = {u["table"]: u["reason"] for u in res.json()["unfillable"]}
    assert set(reasons) == {"slot", "booking"}
    assert "unsupported form" in reasons["slot"] and "(starts + 1) = ends" in reasons["slot"]
    assert "slot" in reasons["booking"]
    assert counts(fresh_db) == {"booking": 0, "fine": 100, "slot": 0}


def test_run_seed_uses_the_plans_tables_and_cycle_breaks(fresh_db: DbUrl, tmp_path: Path) -> None:
    from dbadmin.seed.run import SeedRequest, plan_seed, run_seed
    from dbadmin.settings import resolve

    query(
        fresh_db,
        # a NOT NULL cycle (unfillable), a table waiting on it, and a nullable cycle to break
        "CREATE TABLE u (id int PRIMARY KEY, v_id int NOT NULL);"
        "CREATE TABLE v (id int PRIMARY KEY, u_id int NOT NULL REFERENCES u);"
        "ALTER TABLE u ADD FOREIGN KEY (v_id) REFERENCES v;"
        "CREATE TABLE a (id int PRIMARY KEY, u_id int REFERENCES u);"
        "CREATE TABLE p (id int PRIMARY KEY, q_id int);"
        "CREATE TABLE q (id int PRIMARY KEY, p_id int REFERENCES p);"
        "ALTER TABLE p ADD FOREIGN KEY (q_id) REFERENCES q;",
    )
    settings = resolve(database_url=fresh_db.render(), environ={}, cwd=tmp_path)
    request = SeedRequest(from_database=True, now=dt.datetime.fromisoformat(NOW))
    plan = plan_seed(settings, request)
    assert [t.table for t in plan.tables] == ["a", "p", "q"]
    assert dict(plan.unfillable).keys() == {"u", "v"}
    assert set(plan.seedable) == {"a", "p", "q", "u", "v"}
    # only the p <-> q cycle is broken: a's key to the unfillable u is not a cycle of its own
    assert dict(plan.null_fks) == {"p": frozenset({"p_q_id_fkey"})}
    result = run_seed(settings, plan)
    assert {t.table: t.rows for t in result.tables} == {
        "a": 100,
        "p": 100,
        "q": 100,
        "u": 0,
        "v": 0,
    }
    assert query(fresh_db, "SELECT count(*) FROM p WHERE q_id IS NOT NULL")[0][0] == 0
    assert query(fresh_db, "SELECT count(*) FROM q WHERE p_id IS NOT NULL")[0][0] > 0
    assert query(fresh_db, "SELECT count(*) FROM a WHERE u_id IS NOT NULL")[0][0] == 0


# --- the app profiles --------------------------------------------------------------------------
def test_same_seed_gives_identical_tables(cli: Cli, pg_server: PgServer, app_template: str) -> None:
    first = pg_server.create_database(template=app_template)
    second = pg_server.create_database(template=app_template)
    third = pg_server.create_database(template=app_template)
    try:
        a, b, c = pg_server.url(first), pg_server.url(second), pg_server.url(third)
        assert seed(cli, a, "--seed", "7", "--scale", "0.5").exit_code == 0
        # a different batch size must not change the data
        res = seed(cli, b, "--seed", "7", "--scale", "0.5", "--batch-size", "700")
        assert res.exit_code == 0, res.stderr
        assert seed(cli, c, "--seed", "8", "--scale", "0.5").exit_code == 0
        sums_a, sums_b, sums_c = checksums(a), checksums(b), checksums(c)
        assert sums_a == sums_b
        assert all(n > 0 for n, _ in sums_a.values())
        assert sums_a["messages"] != sums_c["messages"]
    finally:
        for name in (first, second, third):
            pg_server.drop_database(name)


def test_minimal_profile_is_idempotent(cli: Cli, app_db: DbUrl) -> None:
    res = seed(cli, app_db, "--profile", "minimal", "--json")
    assert res.exit_code == 0, res.stderr
    after_first = checksums(app_db)
    assert after_first["users"][0] == 2 and after_first["messages"][0] == 2
    assert query(app_db, "SELECT name FROM users WHERE email = 'admin@example.com'") == [("Admin",)]
    res = cli("seed", "-d", app_db.render(), "--profile", "minimal", "--json")  # another --now
    assert res.exit_code == 0, res.stderr
    assert all(t["rows"] == 0 for t in res.json()["tables"])
    assert checksums(app_db) == after_first


def test_minimal_after_a_generated_profile_adds_every_fixed_record(cli: Cli, app_db: DbUrl) -> None:
    """Generated rows hold ids 1, 2, ...: the fixed records must not be taken for present."""
    assert seed(cli, app_db, "--rows", "messages=200").exit_code == 0
    before = counts(app_db)
    res = seed(cli, app_db, "--profile", "minimal", "--json")
    assert res.exit_code == 0, res.stderr
    added = {t["table"]: t["rows"] for t in res.json()["tables"]}
    assert added == {
        "users": 2, "modules": 1, "chapters": 2, "tasks": 3, "conversations": 1, "messages": 2,
    }  # fmt: skip
    after = counts(app_db)
    assert all(after[name] == before[name] + n for name, n in added.items())
    admin = "(SELECT id FROM users WHERE email = 'admin@example.com')"
    assert query(app_db, f"SELECT count(*) FROM tasks WHERE user_id = {admin}") == [(3,)]
    assert query(
        app_db,
        "SELECT m.role FROM messages m JOIN conversations c ON c.id = m.conversation_id "
        f"WHERE c.user_id = {admin} AND c.session_id = '{SESSION_ID}' ORDER BY m.created_at",
    ) == [("user",), ("assistant",)]
    assert set(orphans(app_db).values()) == {0}
    again = seed(cli, app_db, "--profile", "minimal", "--json")
    assert again.exit_code == 0 and all(t["rows"] == 0 for t in again.json()["tables"])
    assert counts(app_db) == after


def test_constraints_hold_no_orphans_and_realistic_shape(cli: Cli, app_db: DbUrl) -> None:
    res = seed(cli, app_db, "--profile", "dev", "--json")
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert doc["unfillable"] == [] and doc["total_rows"] == sum(counts(app_db).values())
    assert set(orphans(app_db).values()) == {0}
    # no constraint was skipped or left NOT VALID: the server checked every row
    assert query(app_db, "SELECT count(*) FROM pg_constraint WHERE NOT convalidated")[0][0] == 0
    # messages alternate user/assistant inside a conversation, starting with the user
    bad = query(
        app_db,
        "SELECT count(*) FROM (SELECT role, lag(role) OVER w AS prev, row_number() OVER w AS n "
        "FROM messages WINDOW w AS (PARTITION BY conversation_id ORDER BY created_at, id)) s "
        "WHERE (n = 1 AND role <> 'user') OR role = prev",
    )[0][0]
    assert bad == 0
    assert (
        query(
            app_db,
            "SELECT count(*) FROM messages WHERE role = 'assistant' "
            "AND jsonb_typeof(citations) = 'array' AND jsonb_array_length(citations) > 0",
        )[0][0]
        > 0
    )
    # power law: the busiest tenth of users own far more than a tenth of the conversations
    top_share = query(
        app_db,
        "WITH per AS (SELECT user_id, count(*) AS n FROM conversations "
        "WHERE user_id IS NOT NULL GROUP BY 1), "
        "ranked AS (SELECT n, ntile(10) OVER (ORDER BY n DESC) AS tile FROM per) "
        "SELECT sum(n) FILTER (WHERE tile = 1)::float / sum(n) FROM ranked",
    )[0][0]
    assert top_share > 0.3
    assert {r[0] for r in query(app_db, "SELECT DISTINCT priority FROM tasks")} == {
        "high",
        "medium",
        "low",
    }
    # every column generated: nothing left to now() or gen_random_uuid()
    assert query(app_db, f"SELECT count(*) FROM users WHERE created_at >= '{NOW}'")[0][0] == 0
    assert (
        query(
            app_db,
            "SELECT count(*) FROM analytics WHERE timestamp < TIMESTAMPTZ "
            f"'{NOW}' - interval '91 days'",
        )[0][0]
        == 0
    )
    # identity sequences were advanced: the app can insert right away
    query(app_db, "INSERT INTO modules (slug, title) VALUES ('after-seed', 'After')")
    # statistics are fresh
    assert query(app_db, "SELECT reltuples FROM pg_class WHERE relname = 'messages'")[0][0] > 0


def test_rows_alone_generates_parents_in_proportion(cli: Cli, app_db: DbUrl) -> None:
    res = seed(cli, app_db, "--rows", "messages=500", "--json")
    assert res.exit_code == 0, res.stderr
    got = counts(app_db)
    assert got["messages"] == 500
    assert got["conversations"] == 50 and got["users"] == 13  # dev ratios 2000:200:50
    assert got["tasks"] == 0 and got["analytics"] == 0


def test_refuses_non_empty_tables_unless_append_or_reset(cli: Cli, app_db: DbUrl) -> None:
    assert seed(cli, app_db, "--rows", "tasks=40").exit_code == 0
    res = seed(cli, app_db, "--rows", "tasks=40")
    assert res.exit_code == ExitCode.USAGE
    assert "already have rows" in res.stderr and "--append" in res.stderr
    res = seed(cli, app_db, "--rows", "tasks=40", "--append", "--json")
    assert res.exit_code == 0, res.stderr
    assert counts(app_db)["tasks"] == 80 and counts(app_db)["users"] == 5  # parents reused
    res = seed(cli, app_db, "--rows", "tasks=40", "--reset")  # no terminal, no --yes
    assert res.exit_code == ExitCode.USAGE and "--yes" in res.stderr
    res = seed(cli, app_db, "--rows", "tasks=40", "--reset", "--yes", "--json")
    assert res.exit_code == 0, res.stderr
    assert "tasks" in res.json()["truncated"] and counts(app_db)["tasks"] == 40


def one_line_error(res) -> str:  # type: ignore[no-untyped-def]
    """The error a failed command printed: exactly one stderr line, no traceback, no stdout."""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("dbadmin: error: ") and "Traceback" not in res.stderr
    assert res.stdout == ""
    return lines[0]


def test_schema_not_at_head_exits_2(cli: Cli, fresh_db: DbUrl, app_db: DbUrl) -> None:
    # an empty (unmigrated) database
    res = seed(cli, fresh_db)
    assert res.exit_code == ExitCode.USAGE
    line = one_line_error(res)
    assert "not at the migration head" in line and "dbadmin migrate up" in line
    # a database one revision behind the project's head (the project's alembic.ini in the cwd)
    project = Path.cwd()
    shutil.copytree(
        REPO / "migrations", project / "migrations", ignore=shutil.ignore_patterns("__pycache__")
    )
    (project / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/migrations\n")
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(REPO / "migrations")).get_current_head()
    (project / "migrations" / "versions" / "9999_next.py").write_text(
        f'"""next"""\nrevision = "9999"\ndown_revision = "{head}"\nbranch_labels = None\n'
        "depends_on = None\n\n\ndef upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n"
    )
    res = seed(cli, app_db, "--rows", "users=5")
    assert res.exit_code == ExitCode.USAGE
    line = one_line_error(res)
    assert f"not at the migration head (current: {head}; head: 9999)" in line
    assert "migrate first" in line
    assert counts(app_db)["users"] == 0


def test_bad_rows_exit_2(cli: Cli, app_db: DbUrl) -> None:
    res = seed(cli, app_db, "--rows", "nosuchtable=5")
    assert res.exit_code == ExitCode.USAGE and "'nosuchtable'" in one_line_error(res)
    res = seed(cli, app_db, "--rows", "users=-1")
    assert res.exit_code == ExitCode.USAGE
    assert "users=-1" in one_line_error(res) and "negative" in res.stderr
    for bad in (
        ["--rows", "users"],
        ["--rows", "users=many"],
        ["--scale", "0"],
        ["--scale", "nan"],
        ["--batch-size", "0"],
        ["--now", "yesterday"],
        ["--reset", "--append", "--rows", "users=5"],
        ["--profile", "minimal", "--rows", "users=5"],
    ):
        res = seed(cli, app_db, *bad)
        assert res.exit_code == ExitCode.USAGE, bad
        one_line_error(res)
    res = seed(cli, app_db, "--profile", "huge")
    assert res.exit_code == ExitCode.USAGE and "unknown profile" in one_line_error(res)
    assert counts(app_db)["users"] == 0


def test_summary_table_and_progress_bars(
    cli: Cli, app_db: DbUrl, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from rich.console import Console

    from dbadmin.cli import progress
    from dbadmin.cli import seed as seed_cli

    # not a terminal: no bars, a summary table on stdout (rows per table, time, rows/s)
    res = seed(cli, app_db, "--rows", "tasks=30")
    assert res.exit_code == 0, res.stderr
    header = next(line for line in res.stdout.splitlines() if "rows/s" in line)
    assert all(word in header for word in ("table", "rows", "seconds", "rows/s"))
    assert re.search(r"\btasks\b.*\bseeded\b.*\b30\b", res.stdout)
    assert re.search(r"\busers\b.*\bseeded\b.*\b4\b", res.stdout)  # ceil(50 * 30 / 400)
    assert re.search(r"\btotal\b.*\b34\b", res.stdout)
    assert "━" not in res.stderr  # no progress bar off a terminal
    # on a terminal: one bar per table on stderr, with rows/s
    bars = io.StringIO()
    monkeypatch.setattr(seed_cli, "stderr_is_terminal", lambda: True)
    monkeypatch.setattr(
        progress, "err_console", lambda: Console(file=bars, force_terminal=True, width=120)
    )
    res = seed(cli, app_db, "--rows", "tasks=30", "--append")
    assert res.exit_code == 0, res.stderr
    drawn = bars.getvalue()
    assert "tasks" in drawn and "30/30" in drawn and "rows/s" in drawn
    assert counts(app_db)["tasks"] == 60


def test_minimal_reset_empties_and_reinserts_the_fixed_records(cli: Cli, app_db: DbUrl) -> None:
    from dbadmin.seed.minimal import TABLES, records

    assert tuple(name for name, _ in records(dt.datetime.now(dt.UTC))) == TABLES
    assert seed(cli, app_db, "--rows", "messages=200").exit_code == 0
    assert counts(app_db)["messages"] == 200
    res = seed(cli, app_db, "--profile", "minimal", "--reset")  # no terminal, no --yes
    assert res.exit_code == ExitCode.USAGE and "--yes" in one_line_error(res)
    res = seed(cli, app_db, "--profile", "minimal", "--reset", "--yes", "--json")
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert {"users", "messages", "tasks"} <= set(doc["truncated"])
    got = counts(app_db)
    assert (got["users"], got["conversations"], got["messages"], got["tasks"]) == (2, 1, 2, 3)
    assert query(app_db, "SELECT count(*) FROM users WHERE email = 'admin@example.com'") == [(1,)]


def test_user_models_from_dbadmin_models(cli: Cli, app_db: DbUrl) -> None:
    """DBADMIN_MODELS: the app's tables get the realistic generators (plus generic values for
    columns they do not know), a table of the user's own gets the generic generator."""
    query(
        app_db,
        "ALTER TABLE users ADD COLUMN nickname varchar(24);"
        "CREATE TABLE bookmarks (id bigserial PRIMARY KEY,"
        " user_id uuid NOT NULL REFERENCES users (id),"
        " message_id bigint REFERENCES messages (id),"
        " url text NOT NULL, kind varchar(8) NOT NULL CHECK (kind IN ('page', 'note')),"
        " weight numeric(4, 1) CHECK (weight BETWEEN 0 AND 10), created_at timestamptz NOT NULL,"
        " UNIQUE (user_id, url))",
    )
    module = f"own_models_{uuid.uuid4().hex[:8]}"
    (Path.cwd() / f"{module}.py").write_text(
        textwrap.dedent(
            """
            import sqlalchemy as sa
            from sqlalchemy.dialects import postgresql as pg
            from dbadmin.models import metadata as reference

            metadata = sa.MetaData(naming_convention=reference.naming_convention)
            for table in reference.sorted_tables:
                table.to_metadata(metadata)
            metadata.tables["users"].append_column(sa.Column("nickname", sa.String(24)))
            sa.Table(
                "bookmarks", metadata,
                sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
                sa.Column("user_id", pg.UUID, sa.ForeignKey("users.id"), nullable=False),
                sa.Column("message_id", sa.BigInteger, sa.ForeignKey("messages.id")),
                sa.Column("url", sa.Text, nullable=False),
                sa.Column("kind", sa.String(8), nullable=False),
                sa.Column("weight", sa.Numeric(4, 1)),
                sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
                sa.CheckConstraint("kind IN ('page', 'note')", name="bookmarks_kind"),
                sa.CheckConstraint("weight BETWEEN 0 AND 10", name="bookmarks_weight"),
                sa.UniqueConstraint("user_id", "url"),
            )
            """
        )
    )
    env = {"DBADMIN_MODELS": f"{module}:metadata"}
    res = cli("seed", "-d", app_db.render(), "--now", NOW, "--rows", "bookmarks=300", "--json",
              env=env)  # fmt: skip
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert doc["mode"] == "app" and doc["unfillable"] == []
    seeded = {t["table"]: t for t in doc["tables"]}
    assert seeded["bookmarks"]["rows"] == 300
    assert seeded["users"]["rows"] > 0 and seeded["messages"]["rows"] > 0  # parents followed
    assert any("nickname" in note for note in seeded["users"]["notes"])
    got = counts(app_db)
    assert got["bookmarks"] == 300 and got["users"] == seeded["users"]["rows"]
    assert set(orphans(app_db).values()) == {0}
    assert query(app_db, "SELECT count(nickname) FROM users")[0][0] > 0
    assert {r[0] for r in query(app_db, "SELECT DISTINCT kind FROM bookmarks")} == {"page", "note"}
    assert query(app_db, "SELECT max(weight) <= 10 AND min(weight) >= 0 FROM bookmarks")[0][0]
    # the realistic shape still applies to the app's own tables
    assert query(app_db, "SELECT count(DISTINCT role) FROM messages")[0][0] == 2


def test_ctrl_c_leaves_the_database_as_an_unstarted_seed(app_db: DbUrl) -> None:
    cmd = [sys.executable, "-m", "dbadmin", "seed", "-d", app_db.render(), "--now", NOW]
    cmd += ["--rows", "messages=400000", "--batch-size", "2000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            busy = query(
                app_db,
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY \"messages\"%'",
            )[0][0]
            if busy:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "seeding finished before it could be interrupted"
        time.sleep(0.3)
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == ExitCode.INTERRUPTED, err
    # one transaction for the whole seed: the parents loaded before messages went too
    assert set(counts(app_db).values()) == {0}
    # the indexes and foreign keys dropped for the bulk load came back with the rollback
    assert query(app_db, "SELECT count(*) FROM pg_indexes WHERE tablename = 'messages'")[0][0] == 3
    assert (
        query(
            app_db,
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'messages'::regclass "
            "AND contype = 'f'",
        )[0][0]
        == 2
    )
