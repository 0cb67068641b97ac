"""Index proposals verified by the planner with hypopg (issue 15, item 2).

The PostgreSQL 15 lane has Debian's postgresql-15-hypopg (.ci/run installs it): proposals show
the planner's estimated cost before -> after, and one the planner would not use is dropped. The
embedded PostgreSQL 18 has no hypopg: proposals are kept and marked "unverified". Either way the
database is left without the extension (it is created inside the rolled-back transaction).
"""

from __future__ import annotations

import re

import pytest
from conftest import Cli
from test_explain import run_sql
from test_explain_rules import explain

from dbadmin.urls import DbUrl

ORDERS = """
CREATE TABLE orders (id int PRIMARY KEY, customer int NOT NULL, amount int NOT NULL);
INSERT INTO orders SELECT g, g % 5000, g % 100 FROM generate_series(1, 100000) g;
ANALYZE orders;
"""


def _available(url: DbUrl) -> bool:
    return run_sql(
        url, "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg')"
    )[0][0]  # type: ignore[no-any-return]


def test_a_proposal_is_verified_with_hypopg_or_marked_unverified(cli: Cli, fresh_db: DbUrl) -> None:
    run_sql(fresh_db, ORDERS)
    doc = explain(cli, fresh_db, "SELECT * FROM orders WHERE customer = 42")
    (finding,) = [f for f in doc["findings"] if f["kind"] == "seq_scan"]
    assert finding["index_sql"] == "CREATE INDEX ON public.orders (customer)"
    if _available(fresh_db):
        assert finding["verification"] == "verified"
        costs = re.search(r"estimated cost ([\d,]+) -> ([\d,]+)", finding["detail"])
        assert costs, finding["detail"]
        before, after = (float(c.replace(",", "")) for c in costs.groups())
        assert after < before / 10  # 20 rows of 100,000 through an index
    else:
        assert finding["verification"] == "unverified"
        assert "unverified (the hypopg extension is not available" in finding["detail"]
    # nothing was left behind: no extension, no index
    assert run_sql(fresh_db, "SELECT count(*) FROM pg_extension WHERE extname = 'hypopg'") == [(0,)]
    assert run_sql(fresh_db, "SELECT count(*) FROM pg_indexes WHERE tablename = 'orders'") == [(1,)]


def test_a_proposal_the_planner_would_not_use_is_dropped(cli: Cli, fresh_db: DbUrl) -> None:
    """8 % of the rows on a server whose random reads are costed high (slow storage): the
    planner keeps reading the table in full rather than use the proposed index; the same
    --set applies to the verification."""
    run_sql(fresh_db, ORDERS)
    doc = explain(
        cli, fresh_db, "SELECT * FROM orders WHERE amount < 8", "--set", "random_page_cost=100"
    )
    scan = next(n for n in doc["nodes"] if n["node_type"] == "Seq Scan")
    assert scan["rows_removed_by_filter"] > 10 * scan["actual_rows"]  # selective enough
    proposals = [f for f in doc["findings"] if f["kind"] == "seq_scan"]
    if _available(fresh_db):
        assert proposals == []  # the planner said no: an expert would strike it
    else:
        assert [f["verification"] for f in proposals] == ["unverified"]


@pytest.mark.parametrize("installed", [False, True])
def test_an_installed_extension_is_used_and_kept(
    cli: Cli, fresh_db: DbUrl, installed: bool
) -> None:
    run_sql(fresh_db, ORDERS)
    if not _available(fresh_db):
        doc = explain(cli, fresh_db, "SELECT * FROM orders WHERE customer = 7")
        assert [f["verification"] for f in doc["findings"] if f["index_sql"]] == ["unverified"]
        return
    if installed:
        run_sql(fresh_db, "CREATE EXTENSION hypopg")
    doc = explain(cli, fresh_db, "SELECT * FROM orders WHERE customer = 7")
    assert [f["verification"] for f in doc["findings"] if f["index_sql"]] == ["verified"]
    count = run_sql(fresh_db, "SELECT count(*) FROM pg_extension WHERE extname = 'hypopg'")
    assert count == [(1 if installed else 0,)]
    assert run_sql(
        fresh_db, "SELECT count(*) FROM hypopg_list_indexes" if installed else "SELECT 0"
    ) == [(0,)]
