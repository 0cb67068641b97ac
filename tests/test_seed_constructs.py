"""`dbadmin seed --from-database` on a schema holding every construct of issue 14, item 1:
partitioned tables (range with MINVALUE/MAXVALUE, list, hash, multi-level, default; a foreign
key declared on partitions), domains (CHECK, NOT NULL, nested, regex, over an array), enums
and arrays of enums, ranges and a multirange, a generated tsvector, identity and serial,
composite keys, self and cyclic foreign keys, CHECKs of every supported form, an exclusion
constraint, a trigger, a materialized view and the scalar types. PostgreSQL 18 adds a virtual
generated column and a WITHOUT OVERLAPS key; pgvector's ``vector(n)`` where the extension
exists. Filled with 5,000+ rows on its big tables; every constraint re-validated afterwards.
"""

from __future__ import annotations

from pathlib import Path

from conftest import Cli, PgServer
from conftest import execute as run
from test_seed import orphans

from dbadmin.urls import DbUrl

NOW = "2026-01-15T00:00:00+00:00"
SCHEMA = Path(__file__).parent / "data" / "seed_constructs.sql"
PG18 = """
CREATE TABLE room_rate (
    room int NOT NULL,
    valid tstzrange NOT NULL,
    rate numeric(6,2) NOT NULL CHECK (rate > 0),
    nightly numeric GENERATED ALWAYS AS (rate * 2) VIRTUAL,
    PRIMARY KEY (room, valid WITHOUT OVERLAPS)
);
"""
VECTOR = """
CREATE EXTENSION vector;
CREATE TABLE chunk_vector (id bigserial PRIMARY KEY, embedding vector(3) NOT NULL, note text);
"""
ROWS = {
    "rental": 5000,
    "payment": 6000,
    "event": 5000,
    "visit": 5000,
    "booking": 5000,
    "reading": 5000,
    "film_category": 5000,
    "placement": 5000,
    "subscription": 5000,
}


def one(url: DbUrl, sql: str) -> object:
    return run(url, sql)[0][0]


def build_schema(url: DbUrl, server: PgServer) -> dict[str, int]:
    """The schema for this server; returns the --rows counts to ask for."""
    run(url, SCHEMA.read_text())
    rows = dict(ROWS)
    if server.major >= 18:
        run(url, PG18)
        rows["room_rate"] = 2000
    if one(url, "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'"):
        run(url, VECTOR)
        rows["chunk_vector"] = 2000
    return rows


def revalidate(url: DbUrl) -> None:
    """Every CHECK (tables and domains), foreign key and exclusion holds on the stored rows."""
    checks = run(
        url,
        "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
        "FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid "
        "WHERE c.contype = 'c' AND c.connamespace = 'public'::regnamespace "
        "AND NOT r.relispartition",
    )
    assert len(checks) >= 10
    for table, name, definition in checks:
        expr = definition.removeprefix("CHECK ").removesuffix(" NOT VALID")
        bad = one(url, f"SELECT count(*) FROM {table} WHERE NOT {expr}")
        assert bad == 0, f"{table}: {name} fails for {bad} rows"
    domains = run(
        url,
        "SELECT c.table_name, c.column_name, c.domain_name FROM information_schema.columns c "
        "JOIN pg_class r ON r.relname = c.table_name AND r.relnamespace = 'public'::regnamespace "
        "WHERE c.table_schema = 'public' AND c.domain_name IS NOT NULL "
        "AND r.relkind IN ('r', 'p') AND NOT r.relispartition",
    )
    assert len(domains) == 5
    for table, column, domain in domains:  # a cast from text re-runs the domain's checks
        one(url, f'SELECT count("{column}"::text::"{domain}") FROM "{table}"')
    found = orphans(url)  # every foreign key, those declared on partitions included
    assert len(found) >= 20 and set(found.values()) == {0}, found
    overlaps = one(
        url,
        "SELECT count(*) FROM booking a JOIN booking b ON a.room = b.room "
        "AND a.during && b.during AND a.booking_id < b.booking_id",
    )
    assert overlaps == 0


def test_every_construct_is_filled_and_every_constraint_holds(
    cli: Cli, fresh_db: DbUrl, pg_server: PgServer
) -> None:
    rows = build_schema(fresh_db, pg_server)
    args = [f"--rows={t}={n}" for t, n in rows.items()]
    res = cli("seed", "-d", fresh_db.render(), "--now", NOW, "--from-database", *args, "--json")
    assert res.exit_code == 0, res.stderr + res.stdout
    doc = res.json()
    seeded = {t["table"]: t["rows"] for t in doc["tables"]}
    assert doc["unfillable"] == []
    # exact counts for every table asked for; every table of the schema non-empty
    for table, count in rows.items():
        assert seeded[table] == count, table
        assert one(fresh_db, f"SELECT count(*) FROM {table}") == count
    tables = [
        r[0]
        for r in run(
            fresh_db,
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
            "AND relkind IN ('r', 'p') ORDER BY 1",
        )
    ]
    empty = [t for t in tables if one(fresh_db, f'SELECT count(*) FROM "{t}"') == 0]
    assert empty == []
    for table, count in seeded.items():
        assert one(fresh_db, f'SELECT count(*) FROM "{table}"') == count
    # every leaf partition received rows through its parent
    leaves = [
        r[0]
        for r in run(
            fresh_db, "SELECT relname FROM pg_class WHERE relispartition AND relkind = 'r'"
        )
    ]
    assert len(leaves) == 13
    unused = [p for p in leaves if one(fresh_db, f'SELECT count(*) FROM ONLY "{p}"') == 0]
    assert unused == []
    revalidate(fresh_db)
    # left to the server: the generated column, and the trigger ran on every row
    assert one(fresh_db, "SELECT count(*) FROM film WHERE fulltext IS NULL") == 0
    assert one(fresh_db, "SELECT count(*) FROM customer WHERE last_update IS NULL") == 0
    # the materialized view was refreshed at the end
    assert doc["refreshed"] == ["sales_by_staff"]
    assert one(fresh_db, "SELECT sum(payments) FROM sales_by_staff") == rows["payment"]
    # cycles and self-references: broken at the nullable key, self-references point back
    assert one(fresh_db, "SELECT count(*) FROM category WHERE parent_id IS NOT NULL") > 0
    assert one(fresh_db, "SELECT count(*) FROM staff WHERE manager_id IS NOT NULL") > 0
    # the ordered pair from a CHECK and the one from the names
    assert one(fresh_db, "SELECT count(*) FROM subscription WHERE ends_at <= starts_at") == 0
    assert one(fresh_db, "SELECT count(*) FROM rental WHERE return_date < rental_date") == 0
    assert one(fresh_db, "SELECT count(*) FROM film WHERE sku IS NOT NULL") > 0
    if "chunk_vector" in rows:
        assert one(fresh_db, "SELECT vector_dims(embedding) FROM chunk_vector LIMIT 1") == 3
    if pg_server.major >= 18:
        assert one(fresh_db, "SELECT count(*) FROM room_rate WHERE nightly = rate * 2") == 2000
