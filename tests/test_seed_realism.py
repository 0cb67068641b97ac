"""Issue 14, item 2: realism from names, types and constraints, one test per rule, on one
schema seeded once (``--rows rental=5000``) with ``--from-database``."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from conftest import Cli, PgServer
from conftest import execute as _run

from dbadmin.urls import DbUrl

NOW = dt.datetime(2026, 1, 15, tzinfo=dt.UTC)
SCHEMA = """
CREATE TABLE language (language_id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE country (country_id serial PRIMARY KEY, country text NOT NULL, code char(2));
CREATE TABLE status (status_id serial PRIMARY KEY, label text NOT NULL);
CREATE TABLE customer (
    customer_id int PRIMARY KEY,
    first_name text NOT NULL,
    last_name text NOT NULL,
    email text NOT NULL UNIQUE,
    phone varchar(20),
    postal_code varchar(10),
    city text,
    country_id int REFERENCES country,
    company_name text,
    website text,
    ip_address text,
    language_id int NOT NULL REFERENCES language,
    active int NOT NULL,
    is_vip smallint,
    has_newsletter int,
    balance numeric(8,2) NOT NULL,
    release_year int,
    founded_year int CHECK (founded_year BETWEEN 1901 AND 2155),
    birth_date date,
    death_date date,
    created_at timestamptz NOT NULL,
    updated_at timestamptz
);
CREATE TABLE rental (
    rental_id int PRIMARY KEY,
    customer_id int NOT NULL REFERENCES customer,
    status_id int REFERENCES status,
    amount numeric(5,2) NOT NULL,
    rental_date timestamptz NOT NULL,
    return_date timestamptz,
    borrowed_on date,
    returned_on date,
    starts_at timestamp,
    ends_at timestamp,
    opened_at timestamptz,
    closed_at timestamptz,
    sent_at timestamptz,
    delivered_at timestamptz,
    valid_from date,
    valid_to date
);
"""
PAIRS = [
    ("customer", "birth_date", "death_date"),
    ("customer", "created_at", "updated_at"),
    ("rental", "rental_date", "return_date"),
    ("rental", "borrowed_on", "returned_on"),
    ("rental", "starts_at", "ends_at"),
    ("rental", "opened_at", "closed_at"),
    ("rental", "sent_at", "delivered_at"),
    ("rental", "valid_from", "valid_to"),
]


@pytest.fixture(scope="module")
def seeded(pg_server: PgServer) -> Iterator[DbUrl]:
    name = pg_server.create_database()
    url = pg_server.url(name)
    try:
        _run(url, SCHEMA)
        res = Cli()(
            "seed", "-d", url.render(), "--now", NOW.isoformat(), "--from-database",
            "--rows", "rental=5000", "--json",
        )  # fmt: skip
        assert res.exit_code == 0, res.stderr
        yield url
    finally:
        pg_server.drop_database(name)


def column(url: DbUrl, table: str, name: str) -> list:
    return [r[0] for r in _run(url, f"SELECT {name} FROM {table} WHERE {name} IS NOT NULL")]


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("email", r"^[a-z]+\.[a-z]+\d+@example\.com$"),
        ("first_name", r"^[A-Z][a-z]+$"),
        ("last_name", r"^[A-Z][a-z]+$"),
        ("phone", r"^\+1-\d{3}-555-\d{4}$"),
        ("postal_code", r"^\d{5}$"),
        ("city", r"^[A-Z][a-z]+( [A-Z][a-z]+)?$"),
        ("company_name", r"^[A-Z][a-z]+ (Ltd|Inc|GmbH|Group|Labs|Partners|Systems|& Co)$"),
        ("website", r"^https://www\.[a-z]+\.example\.com/[a-z]+$"),
        ("ip_address", r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$"),
    ],
)
def test_text_shapes_follow_column_names(seeded: DbUrl, name: str, pattern: str) -> None:
    values = column(seeded, "customer", name)
    assert len(values) > 100
    bad = [v for v in values if not re.match(pattern, v)]
    assert bad == []


def test_countries_are_country_names_and_codes(seeded: DbUrl) -> None:
    from dbadmin.seed.names import COUNTRIES

    assert set(column(seeded, "country", "country")) <= {name for _, name in COUNTRIES}
    assert set(column(seeded, "country", "code")) <= {code for code, _ in COUNTRIES}


def test_amounts_are_not_negative_and_keep_their_scale(seeded: DbUrl) -> None:
    for table, name in (("customer", "balance"), ("rental", "amount")):
        low, high, scales = _run(
            seeded,
            f"SELECT min({name}), max({name}), array_agg(DISTINCT scale({name})) FROM {table}",
        )[0]
        assert low >= 0 and high > 10
        assert scales == [2]


@pytest.mark.parametrize("name", ["active", "is_vip", "has_newsletter"])
def test_integer_flags_are_zero_or_one(seeded: DbUrl, name: str) -> None:
    assert set(column(seeded, "customer", name)) == {0, 1}


def test_years_are_recent_years(seeded: DbUrl) -> None:
    for name in ("release_year", "founded_year"):  # also inside a wide CHECK
        years = column(seeded, "customer", name)
        assert min(years) >= NOW.year - 30 and max(years) <= NOW.year


def test_lookup_tables_stay_small(seeded: DbUrl) -> None:
    """Parents in proportion would give them 5,000 rows each, like customer."""
    sizes = {
        t: _run(seeded, f"SELECT count(*) FROM {t}")[0][0]
        for t in ("language", "country", "status", "customer")
    }
    assert sizes == {"language": 20, "country": 20, "status": 20, "customer": 5000}


def test_timestamps_fall_in_a_recent_window_ending_at_now(seeded: DbUrl) -> None:
    low, high = _run(seeded, "SELECT min(created_at), max(created_at) FROM customer")[0]
    assert NOW - dt.timedelta(days=366) <= low and high <= NOW
    low, high = _run(
        seeded,
        "SELECT min(least(rental_date, return_date)), max(greatest(rental_date, return_date)) FROM rental",
    )[0]
    assert NOW - dt.timedelta(days=366) <= low and high <= NOW


def test_births_are_adults_and_deaths_follow(seeded: DbUrl) -> None:
    births = column(seeded, "customer", "birth_date")
    assert min(births) >= NOW.date() - dt.timedelta(days=91 * 365)
    assert max(births) <= NOW.date() - dt.timedelta(days=18 * 365)


@pytest.mark.parametrize(("table", "first", "then"), PAIRS)
def test_ordered_pairs_are_ordered(seeded: DbUrl, table: str, first: str, then: str) -> None:
    both, wrong = _run(
        seeded,
        f"SELECT count(*), count(*) FILTER (WHERE {then} < {first}) FROM {table} "
        f"WHERE {first} IS NOT NULL AND {then} IS NOT NULL",
    )[0]
    assert both > 100 and wrong == 0


def test_foreign_keys_fan_out_skewed(seeded: DbUrl) -> None:
    """A few customers have many rentals: the busiest tenth of them hold over 40%."""
    per_parent = [
        r[0]
        for r in _run(
            seeded,
            "SELECT count(r.rental_id) FROM customer c LEFT JOIN rental r USING (customer_id) "
            "GROUP BY c.customer_id ORDER BY 1 DESC",
        )
    ]
    top = sum(per_parent[: len(per_parent) // 10])
    assert top > 0.4 * sum(per_parent)
    assert per_parent[0] > 20 * (sum(per_parent) / len(per_parent))
