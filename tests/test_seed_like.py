"""Issue 14, item 4: ``seed --like SOURCE_URL`` makes data whose planner statistics (and so
EXPLAIN plans) match the source's, reading statistics only; ``--no-values`` copies no text."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import Cli, PgServer
from conftest import execute as run

from dbadmin.urls import DbUrl

NOW = "2026-01-15T00:00:00+00:00"
SKEWED = """
INSERT INTO users (email, password_hash, name, created_at)
SELECT 'secret.person' || g || '@corp.example', 'x',
       CASE WHEN g % 10 < 4 THEN NULL ELSE 'Private Person ' || g END,
       now() - g * interval '1 hour'
FROM generate_series(1, 2000) g;
-- one user owns half the tasks; 90% of tasks are done; 50 distinct secret titles
INSERT INTO tasks (user_id, title, completed, priority, due_date)
SELECT CASE WHEN g % 2 = 0 THEN (SELECT id FROM users ORDER BY email LIMIT 1)
            ELSE (SELECT id FROM users ORDER BY email OFFSET 1 + (g * 7919) % 1999 LIMIT 1) END,
       'Confidential matter ' || (g % 50),
       g % 10 <> 0,
       (ARRAY['high', 'medium', 'low'])[1 + g % 3],
       now() + (g % 90 - 45) * interval '1 day'
FROM generate_series(1, 20000) g;
-- the course: 4 modules of 10 chapters; the first 300 users went through some of them
INSERT INTO modules (slug, title, order_index)
SELECT 'module-' || g, 'Module ' || g, g FROM generate_series(1, 4) g;
INSERT INTO chapters (module_id, slug, title, order_index)
SELECT m.id, m.slug || '-chapter-' || g, 'Chapter ' || g, g
FROM modules m, generate_series(1, 10) g;
INSERT INTO chapter_progress (user_id, chapter_id, completed_at, quiz_score)
SELECT u.id, ch.id, CASE WHEN ch.order_index <= 6 THEN now() - ch.id * interval '1 day' END,
       CASE WHEN ch.order_index <= 6 THEN 50 + (ch.id * 7) % 51 END
FROM (SELECT id FROM users ORDER BY email LIMIT 300) u
JOIN chapters ch ON ch.order_index <= 1 + abs(hashtext(u.id::text)) % 10;
-- 3,000 conversations, 40% anonymous; the top user has 100 of them
INSERT INTO conversations (session_id, user_id, last_activity)
SELECT gen_random_uuid(),
       CASE WHEN g <= 100 THEN (SELECT id FROM users ORDER BY email LIMIT 1)
            WHEN g % 5 < 2 THEN NULL
            ELSE (SELECT id FROM users ORDER BY email OFFSET (g * 31) % 2000 LIMIT 1) END,
       now() - (3001 - g) * interval '10 minutes'
FROM generate_series(1, 3000) g;
-- one user owns half the messages (all in their 100 conversations)
INSERT INTO messages (conversation_id, user_id, role, content, created_at)
SELECT c.id, c.user_id, CASE WHEN g % 2 = 0 THEN 'user' ELSE 'assistant' END,
       'Secret question ' || (g % 500), now() - (30001 - g) * interval '1 minute'
FROM generate_series(1, 30000) g
JOIN conversations c ON c.id = (SELECT min(id) FROM conversations)
     + CASE WHEN g % 2 = 0 THEN g % 100 ELSE 100 + g % 2900 END;
-- analytics: 60% page views, over the last 90 days, appended in time order
INSERT INTO analytics (event_type, user_id, "timestamp")
SELECT CASE WHEN g % 10 < 6 THEN 'page_view' ELSE 'event_' || (g % 7) END, NULL,
       now() - (20001 - g) * interval '6 minutes'
FROM generate_series(1, 20000) g;
"""
APP_TABLES = {
    "users": 2000, "tasks": 20000, "modules": 4, "chapters": 40, "conversations": 3000,
    "messages": 30000, "analytics": 20000,
}  # fmt: skip


def stats(url: DbUrl, table: str, column: str) -> tuple[float, float, float | None, list]:
    """null_frac, n_distinct (as a count), top MCV frequency, MCVs as text."""
    rows = int(run(url, f"SELECT count(*) FROM {table}")[0][0])
    null_frac, n_distinct, freqs, values = run(
        url,
        "SELECT null_frac, n_distinct, most_common_freqs, most_common_vals::text::text[] "
        f"FROM pg_stats WHERE tablename = '{table}' AND attname = '{column}'",
    )[0]
    distinct = n_distinct if n_distinct > 0 else -n_distinct * rows
    return null_frac, distinct, (freqs[0] if freqs else None), list(values or [])


def shape(node: dict) -> tuple:
    """A plan's shape: node types and relation names, tree structure; no costs or rows."""
    return (
        node["Node Type"],
        node.get("Relation Name"),
        tuple(shape(p) for p in node.get("Plans", [])),
    )


def catalog_plans(url: DbUrl) -> dict[str, tuple]:
    """The plan shape of every catalog query (``dbadmin explain --all``'s), bound as explain
    binds it: a default that is a query runs on the same database first."""
    import psycopg2

    from dbadmin.explain.catalog import list_queries
    from dbadmin.sqltext import substitute

    plans: dict[str, tuple] = {}
    conn = psycopg2.connect(**url.connect_kwargs())
    try:
        with conn.cursor() as cur:
            for query in list_queries():
                named: dict[str, str] = {}
                for param in query.params:
                    value = param.default
                    if param.default_is_query:
                        cur.execute(param.default)
                        value = str(cur.fetchone()[0])  # type: ignore[index]
                    named[param.name] = f"{cur.mogrify('%s', (value,)).decode()}::{param.type}"
                cur.execute("EXPLAIN (FORMAT JSON) " + substitute(query.sql, named, {}))
                plans[query.name] = shape(cur.fetchone()[0][0]["Plan"])  # type: ignore[index]
    finally:
        conn.close()
    return plans


@pytest.fixture
def source(pg_server: PgServer, app_template: str) -> Iterator[DbUrl]:
    name = pg_server.create_database(template=app_template)
    url = pg_server.url(name)
    try:
        # VACUUM marks a page all-visible only once its rows' commits are flushed (the test
        # server commits asynchronously; so might other clients of the clog page)
        run(url, f'ALTER DATABASE "{name}" SET synchronous_commit = on')
        run(url, SKEWED)
        # as autovacuum leaves production tables: all-visible. An unvacuumed source cannot be
        # matched on PostgreSQL 16+ (docs/seed.md): its copy keeps the empty pages COPY's bulk
        # extension leaves at a table's end, which only VACUUM cuts, and VACUUM would also mark
        # the copy all-visible, which the source is not (analytics_by_type_day then differs)
        run(url, "VACUUM (ANALYZE)")
        yield url
    finally:
        pg_server.drop_database(name)


def test_like_matches_the_sources_statistics_and_plans(
    cli: Cli, source: DbUrl, app_db: DbUrl
) -> None:
    res = cli(
        "seed", "-d", app_db.render(), "--now", NOW, "--like", source.render(), "--no-values",
        "--json",
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    seeded = {t["table"]: t["rows"] for t in res.json()["tables"]}  # type: ignore[index]
    progress = run(source, "SELECT count(*) FROM chapter_progress")[0][0]
    assert seeded == {**APP_TABLES, "chapter_progress": progress}  # reltuples, x 1.0
    run(app_db, "ANALYZE")
    checks = [("users", "name"), ("tasks", "user_id"), ("tasks", "completed"), ("tasks", "title"),
              ("conversations", "user_id"), ("messages", "user_id"),
              ("messages", "conversation_id"), ("analytics", "event_type")]  # fmt: skip
    for table, column in checks:
        want, got = stats(source, table, column), stats(app_db, table, column)
        assert abs(want[0] - got[0]) <= 0.02, (table, column, "null_frac", want, got)
        assert abs(want[1] - got[1]) <= 0.1 * want[1], (table, column, "n_distinct", want, got)
        if want[2] is not None:
            assert got[2] is not None and abs(want[2] - got[2]) <= 0.02, (table, column, want, got)
    assert abs(stats(app_db, "users", "name")[0] - 0.4) <= 0.02
    # physical order: users were inserted newest first (correlation -1 on created_at)
    corr = "SELECT correlation FROM pg_stats WHERE tablename = 'users' AND attname = 'created_at'"
    assert run(source, corr)[0][0] < -0.99 and run(app_db, corr)[0][0] < -0.9
    assert abs(stats(app_db, "tasks", "completed")[2] - 0.9) <= 0.02  # type: ignore[operator]
    assert abs(stats(app_db, "tasks", "user_id")[2] - 0.5) <= 0.02  # type: ignore[operator]
    assert abs(stats(app_db, "messages", "user_id")[2] - 0.5) <= 0.02  # type: ignore[operator]
    # the same plan shape for every catalog query of the app on source and copy
    want, got = catalog_plans(source), catalog_plans(app_db)
    assert len(want) >= 7 and set(want) == set(got)
    bad = [(name, want[name], got[name]) for name in want if got[name] != want[name]]
    assert not bad, bad
    # --no-values: no text value of the source is in the copy
    source_titles = {r[0] for r in run(source, "SELECT DISTINCT title FROM tasks")}
    copy_titles = {r[0] for r in run(app_db, "SELECT DISTINCT title FROM tasks")}
    assert not source_titles & copy_titles
    assert len(copy_titles) == len(source_titles)  # same number of look-alikes
    assert {len(t) for t in copy_titles} == {len(t) for t in source_titles}
    copied = run(app_db, "SELECT count(*) FROM users WHERE name LIKE 'Private Person%' "
                         "OR email LIKE '%corp.example'")[0][0]  # fmt: skip
    assert copied == 0


def test_like_without_no_values_keeps_the_common_values(
    cli: Cli, source: DbUrl, app_db: DbUrl
) -> None:
    res = cli("seed", "-d", app_db.render(), "--now", NOW, "--like", source.render(),
              "--scale", "0.5", "--json")  # fmt: skip
    assert res.exit_code == 0, res.stderr
    seeded = {t["table"]: t["rows"] for t in res.json()["tables"]}  # type: ignore[index]
    assert seeded["users"] == 1000 and seeded["tasks"] == 10000
    titles = {r[0] for r in run(app_db, "SELECT DISTINCT title FROM tasks")}
    assert titles <= {f"Confidential matter {i}" for i in range(50)} and len(titles) == 50


def test_no_values_needs_like(cli: Cli, app_db: DbUrl) -> None:
    res = cli("seed", "-d", app_db.render(), "--no-values")
    assert res.exit_code == 2 and "--no-values only applies with --like" in res.stderr


PLACES = """
CREATE TABLE place (id serial PRIMARY KEY, city text NOT NULL, country text NOT NULL);
CREATE STATISTICS place_dependency (dependencies) ON city, country FROM place;
"""


def test_like_keeps_functional_dependencies_of_extended_statistics(
    cli: Cli, fresh_db: DbUrl, pg_server: PgServer
) -> None:
    """pg_stats_ext: country is a function of city in the source; so it is in the copy."""
    name = pg_server.create_database()
    origin = pg_server.url(name)
    try:
        run(origin, PLACES)
        run(
            origin,
            "INSERT INTO place (city, country) SELECT 'city ' || (g % 200), "
            "'country ' || (g % 200 % 15) FROM generate_series(1, 20000) g; ANALYZE place",
        )
        run(fresh_db, PLACES)
        res = cli("seed", "-d", fresh_db.render(), "--now", NOW, "--like", origin.render())
        assert res.exit_code == 0, res.stderr
    finally:
        pg_server.drop_database(name)
    run(fresh_db, "ANALYZE place")
    assert run(fresh_db, "SELECT count(*) FROM place")[0][0] == 20000
    mixed = run(
        fresh_db, "SELECT count(*) FROM (SELECT city FROM place GROUP BY city "
        "HAVING count(DISTINCT country) > 1) c"
    )[0][0]  # fmt: skip
    assert mixed == 0
    assert run(fresh_db, "SELECT count(DISTINCT city), count(DISTINCT country) FROM place")[0] == (
        200,
        15,
    )
    dependencies = run(
        fresh_db, "SELECT dependencies::text FROM pg_stats_ext WHERE tablename = 'place'"
    )[0][0]
    assert '"2 => 3": 1.000000' in dependencies


NOTES = "CREATE TABLE note (id serial PRIMARY KEY, body text NOT NULL, tag varchar(40));"


def test_like_keeps_the_width_of_text_with_more_values_than_bounds(
    cli: Cli, fresh_db: DbUrl, pg_server: PgServer
) -> None:
    """avg_width: 8,000 distinct 12-character bodies (100 histogram bounds) stay 12 wide in
    the copy (the generic generator's phrases would not), and so the table's size."""
    name = pg_server.create_database()
    origin = pg_server.url(name)
    try:
        run(origin, f'ALTER DATABASE "{name}" SET synchronous_commit = on')  # see source()
        run(origin, NOTES)
        run(
            origin,
            "INSERT INTO note (body, tag) SELECT 'n-' || left(md5(g::text), 10), "
            "CASE WHEN g % 3 = 0 THEN NULL ELSE 'tag-' || (g % 300) END "
            "FROM generate_series(1, 8000) g",
        )
        run(origin, "VACUUM (ANALYZE) note")  # vacuumed: so is the copy (no COPY tail pages)
        run(fresh_db, NOTES)
        res = cli("seed", "-d", fresh_db.render(), "--now", NOW, "--like", origin.render(),
                  "--no-values")  # fmt: skip
        assert res.exit_code == 0, res.stderr
        run(fresh_db, "ANALYZE note")
        for column in ("body", "tag"):
            sql = (
                "SELECT avg_width, null_frac, n_distinct FROM pg_stats "
                f"WHERE tablename = 'note' AND attname = '{column}'"
            )
            want, got = run(origin, sql)[0], run(fresh_db, sql)[0]
            assert abs(want[0] - got[0]) <= 0.1 * want[0], (column, want, got)
            assert abs(want[1] - got[1]) <= 0.02, (column, want, got)
            wd = want[2] if want[2] > 0 else -want[2] * 8000
            gd = got[2] if got[2] > 0 else -got[2] * 8000
            assert abs(wd - gd) <= 0.1 * wd, (column, want, got)
        pages = "SELECT relpages FROM pg_class WHERE relname = 'note'"
        assert (
            abs(run(origin, pages)[0][0] - run(fresh_db, pages)[0][0])
            <= 0.1 * run(origin, pages)[0][0] + 2
        )
        leaked = run(origin, "SELECT body FROM note")
    finally:
        pg_server.drop_database(name)
    bodies = {r[0] for r in leaked}
    assert not bodies & {r[0] for r in run(fresh_db, "SELECT body FROM note")}  # --no-values
