"""Findings judged like an expert (issue 15, item 1): one test per rule, each on a plan from the
real server, on a rental-shop schema of our own that reproduces the false and missing findings
seen on a third-party sample database (a Merge Join input taken for a misestimate, an index
missed across 584 loops, an index proposed under a cast, sort advice for ts_rank, shares above
100 %, a two-column index where a partial one belongs, unqualified index suggestions).

The schema is loaded once per module into its own database; explain rolls everything back, so
the tests only read it. Assertions are on rows and plan shapes, never on timings.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Cli, PgServer
from test_explain import run_sql

from dbadmin.urls import DbUrl

SHOP = """
CREATE TABLE staff (staff_id int PRIMARY KEY, name text NOT NULL);
INSERT INTO staff SELECT g, 'staff ' || g FROM generate_series(1, 2000) g;
CREATE TABLE customer (customer_id int PRIMARY KEY, email varchar(80) NOT NULL, name text);
INSERT INTO customer SELECT g, 'c' || g || '@shop.test', 'customer ' || g
FROM generate_series(1, 600) g;
CREATE TABLE rental (
    rental_id int PRIMARY KEY,
    rental_date timestamp NOT NULL,
    return_date timestamp,
    staff_id int NOT NULL,
    customer_id int NOT NULL,
    note text
);
INSERT INTO rental
SELECT g, timestamp '2022-01-01' + g * interval '10 minutes',
       CASE WHEN g % 100 = 0 THEN NULL ELSE timestamp '2022-01-02' + g * interval '10 minutes' END,
       1 + g % 2, 1 + g % 600, 'note ' || md5(g::text)
FROM generate_series(1, 50000) g;
CREATE INDEX rental_rental_date_idx ON rental (rental_date);
CREATE TABLE payment (payment_id int PRIMARY KEY, customer_id int NOT NULL, amount numeric NOT NULL);
INSERT INTO payment SELECT g, 1 + g % 600, (g % 50) / 10.0 FROM generate_series(1, 2400) g;
CREATE TABLE member (member_id int PRIMARY KEY, email text NOT NULL, city text NOT NULL,
                     country text NOT NULL);
INSERT INTO member SELECT g, 'm' || g || '@shop.test', 'city ' || g % 500, 'country ' || g % 40
FROM generate_series(1, 30000) g;
CREATE TABLE film (film_id int PRIMARY KEY, title text NOT NULL, length int NOT NULL,
                   fts tsvector NOT NULL);
INSERT INTO film SELECT g, 'film ' || md5(g::text), 60 + g % 120,
       to_tsvector('simple', 'drama comedy ' || md5(g::text))
FROM generate_series(1, 100000) g;
CREATE TABLE event (event_id int NOT NULL, kind int NOT NULL, happened date NOT NULL)
PARTITION BY RANGE (happened);
CREATE TABLE event_2023 PARTITION OF event FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE event_2024 PARTITION OF event FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
INSERT INTO event SELECT g, g % 100, date '2023-01-01' + g % 700 FROM generate_series(1, 40000) g;
ANALYZE;
"""
SERIAL = ("--set", "max_parallel_workers_per_gather=0")


@pytest.fixture(scope="module")
def shop(pg_server: PgServer) -> Iterator[DbUrl]:
    name = pg_server.create_database()
    pg_server.execute(SHOP, database=name)
    try:
        yield pg_server.url(name)
    finally:
        pg_server.drop_database(name)


def explain(cli: Cli, url: DbUrl, sql: str, *args: str) -> dict[str, Any]:
    res = cli("explain", "-d", url.render(), "--json", *SERIAL, *args, sql)
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert isinstance(doc, dict)
    return doc


def findings(doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [f for f in doc["findings"] if f["kind"] == kind]


def node(doc: dict[str, Any], **match: Any) -> dict[str, Any]:
    return next(n for n in doc["nodes"] if all(n.get(k) == v for k, v in match.items()))


# --- misestimates only where the node ran to completion ----------------------------------------
def test_a_merge_join_input_stopped_early_is_not_a_misestimate(cli: Cli, shop: DbUrl) -> None:
    """The issue's "off by 375x at Index Scan using staff_pkey" on a freshly analysed table."""
    doc = explain(
        cli,
        shop,
        "SELECT r.rental_id, s.name FROM rental r JOIN staff s ON s.staff_id = r.staff_id",
        "--set", "enable_hashjoin=off", "--set", "enable_nestloop=off",
    )  # fmt: skip
    staff = node(doc, node_type="Index Scan", relation="staff")
    assert node(doc, id=staff["parent_id"])["node_type"] == "Merge Join"
    assert staff["misestimate_factor"] >= 100 and staff["misestimate_direction"] == "over"
    assert not [f for f in findings(doc, "misestimate") if f["node_id"] == staff["id"]]


def test_the_inner_side_of_a_semi_join_is_not_a_misestimate(cli: Cli, shop: DbUrl) -> None:
    doc = explain(
        cli,
        shop,
        "SELECT * FROM customer c WHERE EXISTS "
        "(SELECT 1 FROM rental r WHERE r.customer_id = c.customer_id)",
        "--set", "enable_hashjoin=off", "--set", "enable_mergejoin=off",
        "--set", "enable_hashagg=off", "--set", "enable_sort=off",
    )  # fmt: skip
    join = node(doc, node_type="Nested Loop")
    assert doc["plan"]["Plan"]["Join Type"] == "Semi"
    inner = node(doc, node_type="Seq Scan", relation="rental")  # read through a Materialize
    assert node(doc, id=inner["parent_id"])["parent_id"] == join["id"]
    assert inner["misestimate_factor"] >= 10 and inner["misestimate_direction"] == "over"
    assert not [f for f in findings(doc, "misestimate") if f["node_id"] == inner["id"]]


def test_an_exists_subplan_is_not_a_misestimate(cli: Cli, shop: DbUrl) -> None:
    doc = explain(
        cli,
        shop,
        "SELECT * FROM customer c WHERE c.customer_id < 3 OR EXISTS "
        "(SELECT 1 FROM rental r WHERE r.customer_id = c.customer_id AND r.staff_id = 1)",
        "--set", "work_mem=64kB",
    )  # fmt: skip
    sub = next(
        n
        for n in doc["nodes"]
        if n["relation"] == "rental" and n["loops"] and n["loops"] > 1 and not n["never_executed"]
    )
    assert sub["misestimate_direction"] == "over" and sub["misestimate_factor"] >= 10
    assert not [f for f in findings(doc, "misestimate") if f["node_id"] == sub["id"]]


def test_a_real_misestimate_is_still_reported(cli: Cli, shop: DbUrl) -> None:
    """The same exclusions never hide an estimate that is wrong on a complete scan."""
    doc = explain(cli, shop, "SELECT * FROM rental WHERE staff_id = 1 AND customer_id % 2 = 1")
    scan = node(doc, node_type="Seq Scan", relation="rental")
    assert scan["misestimate_factor"] >= 10
    assert [f for f in findings(doc, "misestimate") if f["node_id"] == scan["id"]]


# --- index potential ---------------------------------------------------------------------------
def test_index_potential_counts_rows_removed_across_loops(cli: Cli, shop: DbUrl) -> None:
    """The issue's correlated sub-query: 2,400 rows a loop, 600 loops, no finding before."""
    doc = explain(
        cli,
        shop,
        "SELECT c.customer_id, (SELECT sum(p.amount) FROM payment p "
        "WHERE p.customer_id = c.customer_id) FROM customer c",
    )
    scan = node(doc, node_type="Seq Scan", relation="payment")
    assert scan["loops"] == 600 and scan["rows_removed_by_filter"] > 1_000_000
    finding = next(f for f in findings(doc, "seq_scan") if f["node_id"] == scan["id"])
    assert finding["action"].startswith(
        "CREATE INDEX CONCURRENTLY ix_payment_customer_id ON public.payment (customer_id);"
    )
    assert (
        "c.customer_id of the outer query" in finding["detail"] and "600 loops" in finding["detail"]
    )


def test_on_a_partition_the_index_goes_on_the_partitioned_parent(cli: Cli, shop: DbUrl) -> None:
    doc = explain(cli, shop, "SELECT * FROM event WHERE kind = 7")
    found = findings(doc, "seq_scan")
    assert {node(doc, id=f["node_id"])["relation"] for f in found} == {"event_2023", "event_2024"}
    for finding in found:
        assert finding["action"].startswith("CREATE INDEX ix_event_kind ON public.event (kind);")
        assert "partition of public.event" in finding["action"]


def test_an_existing_index_the_planner_did_not_use_is_named_not_duplicated(
    cli: Cli, shop: DbUrl
) -> None:
    doc = explain(
        cli,
        shop,
        "SELECT * FROM rental WHERE rental_date < '2022-01-05'",
        "--set", "enable_indexscan=off", "--set", "enable_bitmapscan=off",
    )  # fmt: skip
    (finding,) = findings(doc, "seq_scan")
    assert "although index rental_rental_date_idx matches" in finding["title"]
    assert "rental_rental_date_idx (rental_date)" in finding["detail"]
    assert "CREATE INDEX" not in finding["action"] and "random_page_cost" in finding["action"]


# --- non-sargable predicates: a rewrite, not an index ------------------------------------------
def test_a_cast_on_an_indexed_column_gets_a_range_rewrite(cli: Cli, shop: DbUrl) -> None:
    """The issue's `rental_date::date = '2022-05-24'` -> CREATE INDEX (rental_date)."""
    doc = explain(cli, shop, "SELECT * FROM rental WHERE rental_date::date = '2022-03-01'")
    assert findings(doc, "seq_scan") == []
    (finding,) = findings(doc, "non_sargable")
    assert (
        "rental_date >= '2022-03-01'::date AND rental_date < '2022-03-01'::date + 1"
        in (finding["action"])
    )
    assert "rental_rental_date_idx (rental_date) can be used" in finding["action"]
    assert "CREATE INDEX" not in finding["action"]


def test_a_type_mismatch_cast_gets_compare_with_the_column_type(cli: Cli, shop: DbUrl) -> None:
    doc = explain(cli, shop, "SELECT * FROM rental WHERE customer_id = 5.0")
    (finding,) = findings(doc, "non_sargable")
    assert "compare customer_id with a value of its own type (integer)" in finding["action"]


def test_an_immutable_function_gets_an_expression_index(cli: Cli, shop: DbUrl) -> None:
    doc = explain(cli, shop, "SELECT * FROM member WHERE lower(email) = 'm7@shop.test'")
    (finding,) = findings(doc, "non_sargable")
    assert (
        "CREATE INDEX CONCURRENTLY ix_member_lower_email ON public.member ((lower(email)));"
        in finding["action"]
    )


def test_an_existing_expression_index_is_named_not_proposed_again(cli: Cli, shop: DbUrl) -> None:
    sql = "SELECT * FROM member WHERE lower(email) = 'm7@shop.test'"
    run_sql(shop, "CREATE INDEX member_lower_email ON member (lower(email)); ANALYZE member")
    try:
        doc = explain(
            cli, shop, sql, "--set", "enable_indexscan=off", "--set", "enable_bitmapscan=off"
        )
        (finding,) = findings(doc, "non_sargable")
        assert "no new index: member_lower_email (lower(email)) matches" in finding["action"]
        assert finding["index_sql"] is None and "CREATE INDEX" not in finding["action"]
    finally:
        run_sql(shop, "DROP INDEX member_lower_email")


def test_a_leading_wildcard_gets_a_trigram_index(cli: Cli, shop: DbUrl) -> None:
    doc = explain(cli, shop, "SELECT * FROM member WHERE email LIKE '%7@shop.test'")
    (finding,) = findings(doc, "non_sargable")
    assert "leading wildcard" in finding["action"] and "gin_trgm_ops" in finding["action"]
    assert "ON public.member USING gin (email gin_trgm_ops)" in finding["action"]


def test_an_or_across_columns_gets_a_union_rewrite(cli: Cli, shop: DbUrl) -> None:
    doc = explain(cli, shop, "SELECT * FROM member WHERE city = 'city 7' OR country = 'country 3'")
    (finding,) = findings(doc, "non_sargable")
    assert "OR across columns (city, country)" in finding["action"]
    assert "UNION" in finding["action"] and "BitmapOr" in finding["action"]


# --- partial and multi-column indexes ----------------------------------------------------------
def test_is_null_with_an_equality_gets_a_partial_index(cli: Cli, shop: DbUrl) -> None:
    """The issue's `IS NULL AND staff_id = 2` -> two-column index."""
    doc = explain(cli, shop, "SELECT * FROM rental WHERE return_date IS NULL AND staff_id = 1")
    (finding,) = findings(doc, "seq_scan")
    assert finding["action"].startswith(
        "CREATE INDEX CONCURRENTLY ix_rental_staff_id ON public.rental (staff_id) "
        "WHERE return_date IS NULL;"
    )


def test_multi_column_index_is_equality_first_then_range(cli: Cli, shop: DbUrl) -> None:
    doc = explain(
        cli,
        shop,
        "SELECT * FROM member WHERE member_id > 100 AND city = 'city 9' AND country = 'country 9'",
    )
    (finding,) = findings(doc, "seq_scan")
    assert "ON public.member (city, country, member_id);" in finding["action"]


# --- sorts: index advice only for indexable keys -----------------------------------------------
def test_top_n_index_advice_for_plain_sort_keys(cli: Cli, shop: DbUrl) -> None:
    doc = explain(
        cli,
        shop,
        "SELECT film_id FROM film WHERE length > 60 ORDER BY title LIMIT 10",
        "--no-analyze",
    )
    (finding,) = findings(doc, "top_n")
    assert finding["action"].startswith(
        "CREATE INDEX CONCURRENTLY ix_film_title ON public.film (title);"
    )


def test_no_index_advice_for_a_computed_sort_key(cli: Cli, shop: DbUrl) -> None:
    """The issue's ORDER BY ts_rank(...) -> "an index in the ORDER BY order avoids the Sort"."""
    sql = (
        "SELECT film_id FROM film WHERE fts @@ to_tsquery('simple', 'drama') "
        "ORDER BY ts_rank(fts, to_tsquery('simple', 'drama')) DESC LIMIT 10"
    )
    doc = explain(cli, shop, sql, "--no-analyze")
    (finding,) = findings(doc, "top_n")
    assert (
        finding["severity"] == "info"
        and "no index can return rows in this order" in (finding["action"])
    )
    assert "ts_rank" in finding["action"] and "CREATE INDEX" not in finding["action"]


# --- shares ------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", [(), ("--no-analyze",)])
def test_shares_are_exclusive_and_never_above_100_percent(
    cli: Cli, shop: DbUrl, mode: tuple[str, ...]
) -> None:
    """The issue's 156108.9 % (--no-analyze: a Limit costs less than its child)."""
    for sql in (
        "SELECT * FROM film LIMIT 5",
        "SELECT r.rental_id, s.name FROM rental r JOIN staff s ON s.staff_id = r.staff_id",
        "SELECT * FROM customer c WHERE EXISTS (SELECT 1 FROM rental r "
        "WHERE r.customer_id = c.customer_id) LIMIT 3",
    ):
        doc = explain(cli, shop, sql, *mode)
        shares = [n["share"] for n in doc["nodes"] if n["share"] is not None]
        assert shares and all(0.0 <= s <= 1.0 for s in shares), (sql, shares)
        if mode:
            assert sum(shares) == pytest.approx(1.0, abs=0.01), sql
    limited = explain(cli, shop, "SELECT * FROM film LIMIT 5", "--no-analyze")
    scan = node(limited, node_type="Seq Scan")
    assert scan["share"] > 0.9  # the scan does the work the Limit asks for, no more


# --- every statement schema-qualified and quoted, here and in health ---------------------------
def test_suggestions_are_schema_qualified_and_quoted(cli: Cli, shop: DbUrl) -> None:
    import psycopg2

    conn = psycopg2.connect(**shop.connect_kwargs())
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(
                'CREATE SCHEMA "Sales"; CREATE TABLE "Sales"."Order" (id int PRIMARY KEY, '
                '"Customer Id" int NOT NULL, "select" int NOT NULL);'
                'INSERT INTO "Sales"."Order" SELECT g, g % 1000, g % 7 FROM generate_series(1, 20000) g;'
                'ANALYZE "Sales"."Order";'
                'CREATE TABLE "Sales".item (id int PRIMARY KEY, '
                '"Order Id" int REFERENCES "Sales"."Order");'
            )
        doc = explain(cli, shop, 'SELECT * FROM "Sales"."Order" WHERE "Customer Id" = 5')
        (finding,) = findings(doc, "seq_scan")
        assert 'ON "Sales"."Order" ("Customer Id");' in finding["action"]
        res = cli("health", "-d", shop.render(), "--json", "-c", "fk_without_index")
        details = res.json()["checks"]["fk_without_index"]["details"]  # type: ignore[index]
        assert [d["suggestion"] for d in details] == [
            'CREATE INDEX CONCURRENTLY ON "Sales".item ("Order Id");'
        ]
    finally:
        with conn.cursor() as cur:
            cur.execute('DROP SCHEMA "Sales" CASCADE')
        conn.close()
