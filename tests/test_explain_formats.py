"""Every plan format (issue 15, item 3): JSON/text pairs of the same executions give identical
nodes (counts, times, rows, costs, buffers...) and findings; the text inside psql frames of every
border, line style and format, CSV/TSV exports with doubled quotes and auto_explain log entries
reads the same as the bare text.

The pairs come from ONE execution each: the test runs EXPLAIN (ANALYZE, ..., FORMAT JSON) with
auto_explain loaded and logging at NOTICE in text format, so the server prints the same
instrumentation twice, once in each format. Planning/Execution Time exist only in EXPLAIN's
output and are left out of the comparison (both analyses then use the root's time).
"""

from __future__ import annotations

import copy
import csv
import io
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli, PgServer

from dbadmin.explain.analyze import analyze_plan
from dbadmin.explain.plan import PlanDocument, parse_plan_text
from dbadmin.urls import DbUrl

SCHEMA = """
CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, name text);
CREATE TABLE tasks (id bigint PRIMARY KEY, user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
                    title text NOT NULL, completed boolean NOT NULL DEFAULT false,
                    priority text NOT NULL, due_date date);
INSERT INTO users SELECT g, 'user' || g || '@example.com', 'User ' || g FROM generate_series(1, 2000) g;
INSERT INTO tasks SELECT g, 1 + (g * 7) % 2000, 'task ' || g, g % 3 = 0,
       (ARRAY['high','medium','low'])[1 + g % 3], date '2025-01-01' + (g % 365)
FROM generate_series(1, 30000) g;
CREATE INDEX ix_tasks_user_id ON tasks (user_id);
CREATE INDEX ix_tasks_due ON tasks (due_date);
CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema"."Odd Table" ("Weird Col" int, "select" text);
INSERT INTO "Odd Schema"."Odd Table" SELECT g, 'v' || g FROM generate_series(1, 20000) g;
CREATE TABLE plan_lines (q int, n int, line text);
ANALYZE;
"""
PARALLEL = {
    "max_parallel_workers_per_gather": "2",
    "parallel_setup_cost": "0",
    "parallel_tuple_cost": "0",
    "min_parallel_table_scan_size": "0",
}
SERIAL = {"max_parallel_workers_per_gather": "0"}
QUERIES: list[tuple[dict[str, str], str]] = [
    (SERIAL, "SELECT * FROM tasks WHERE priority = 'high' AND completed"),
    (SERIAL, "SELECT * FROM tasks WHERE id = 42"),
    (SERIAL, "SELECT id FROM tasks WHERE id < 100"),
    (SERIAL, "SELECT * FROM tasks WHERE user_id = 7 OR due_date = '2025-03-01'"),
    (SERIAL, "SELECT t.title, u.email FROM tasks t JOIN users u ON u.id = t.user_id WHERE u.id < 50"),
    (SERIAL, "SELECT count(*) FROM tasks t JOIN users u ON u.id = t.user_id"),
    ({**SERIAL, "enable_hashjoin": "off", "enable_nestloop": "off"}, "SELECT count(*) FROM tasks t JOIN users u ON u.id = t.user_id"),
    (SERIAL, "SELECT u.id, count(t.id) FROM users u LEFT JOIN tasks t ON t.user_id = u.id GROUP BY u.id"),
    (SERIAL, "SELECT * FROM users u WHERE EXISTS (SELECT 1 FROM tasks t WHERE t.user_id = u.id AND t.completed)"),
    (SERIAL, "SELECT * FROM users u WHERE NOT EXISTS (SELECT 1 FROM tasks t WHERE t.user_id = u.id)"),
    (SERIAL, "SELECT priority, count(*) FROM tasks GROUP BY priority"),
    ({**SERIAL, "enable_hashagg": "off"}, "SELECT due_date, count(*) FROM tasks GROUP BY due_date"),
    ({**SERIAL, "work_mem": "64kB"}, "SELECT * FROM tasks ORDER BY title"),
    (SERIAL, "SELECT * FROM tasks ORDER BY title LIMIT 5"),
    ({**SERIAL, "work_mem": "64kB", "enable_mergejoin": "off"},
     "SELECT count(*) FROM tasks t JOIN tasks t2 ON t2.id = t.id + 1 WHERE t.completed"),
    (SERIAL, "WITH busy AS MATERIALIZED (SELECT user_id, count(*) AS n FROM tasks GROUP BY user_id) "
             "SELECT u.email, b.n FROM busy b JOIN users u ON u.id = b.user_id "
             "WHERE b.n > (SELECT avg(n) FROM busy) ORDER BY b.n DESC LIMIT 10"),
    (SERIAL, "SELECT u.id, (SELECT count(*) FROM tasks t WHERE t.user_id = u.id) FROM users u WHERE u.id < 30"),
    (SERIAL, "SELECT * FROM users u WHERE u.id < 5 OR EXISTS (SELECT 1 FROM tasks t WHERE t.user_id = u.id AND t.priority = 'low')"),
    (SERIAL, "SELECT id FROM users WHERE id < 10 UNION SELECT user_id FROM tasks WHERE id < 10"),
    (SERIAL, "SELECT user_id FROM tasks INTERSECT SELECT id FROM users"),
    (SERIAL, "SELECT id, rank() OVER (PARTITION BY priority ORDER BY due_date) FROM tasks WHERE id < 500"),
    (SERIAL, "SELECT DISTINCT priority FROM tasks"),
    (SERIAL, "SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v(n, s) WHERE n > 1"),
    (SERIAL, "SELECT g, md5(g::text) FROM generate_series(1, 1000) g WHERE g % 3 = 0"),
    (SERIAL, "SELECT * FROM (SELECT user_id, max(due_date) d FROM tasks GROUP BY user_id) s WHERE s.d > '2025-06-01'"),
    (SERIAL, "SELECT u.id, x.title FROM users u, LATERAL (SELECT title FROM tasks t WHERE t.user_id = u.id ORDER BY due_date LIMIT 1) x WHERE u.id < 20"),
    (SERIAL, 'SELECT * FROM "Odd Schema"."Odd Table" o WHERE o."Weird Col" = 5 AND o."select" LIKE \'v%\''),
    (SERIAL, "SELECT * FROM tasks WHERE title LIKE '%99%' AND due_date BETWEEN '2025-02-01' AND '2025-02-10'"),
    (PARALLEL, "SELECT priority, count(*) FROM tasks WHERE title LIKE '%7%' GROUP BY priority"),
    ({**PARALLEL, "max_parallel_workers": "0"}, "SELECT count(*) FROM tasks WHERE due_date > date '2025-06-01'"),
    ({**PARALLEL, "work_mem": "64kB"}, "SELECT * FROM tasks WHERE id % 2 = 0 ORDER BY title"),
    (SERIAL, "UPDATE tasks SET completed = true WHERE user_id = 3"),
    (SERIAL, "DELETE FROM users WHERE id <= 3"),
    (SERIAL, "INSERT INTO users SELECT g + 100000, 'x', 'y' FROM generate_series(1, 50) g"),
]  # fmt: skip


def capture_pairs(conn: Any) -> list[tuple[str, dict[str, Any], str]]:
    """Each query once, as (sql, EXPLAIN's JSON, auto_explain's text of the same execution).

    ``conn`` is an autocommit psycopg2 connection to a database holding SCHEMA; also used by
    tests/data/explain/make_pairs.py to store pairs from other PostgreSQL versions."""
    out: list[tuple[str, dict[str, Any], str]] = []
    cur = conn.cursor()
    cur.execute("LOAD 'auto_explain'")
    for key, value in {
        "auto_explain.log_min_duration": "0",
        "auto_explain.log_analyze": "on",
        "auto_explain.log_buffers": "on",
        "auto_explain.log_verbose": "on",
        "auto_explain.log_settings": "on",
        "auto_explain.log_triggers": "on",
        "auto_explain.log_format": "text",
        "auto_explain.log_level": "notice",
    }.items():
        cur.execute("SELECT set_config(%s, %s, false)", (key, value))
    for gucs, sql in QUERIES:
        cur.execute("BEGIN")
        for key, value in gucs.items():
            cur.execute("SELECT set_config(%s, %s, true)", (key, value))
        del conn.notices[:]
        cur.execute("EXPLAIN (ANALYZE, BUFFERS, VERBOSE, SETTINGS, FORMAT JSON) " + sql)
        plan = cur.fetchone()[0]
        cur.execute("ROLLBACK")
        notice = next(n for n in conn.notices if "EXPLAIN (ANALYZE" in n)
        text = notice.split("plan:\n", 1)[1]
        lines = [ln for ln in text.split("\n") if not ln.startswith("Query Text:")]
        out.append((sql, plan[0], "\n".join(lines)))
    return out


@pytest.fixture(scope="module")
def pairs(pg_server: PgServer) -> Iterator[tuple[DbUrl, list[tuple[str, dict[str, Any], str]]]]:
    """(database, [(sql, JSON top object, auto_explain text of the same execution)])."""
    import psycopg2

    name = pg_server.create_database()
    url = pg_server.url(name)
    conn = psycopg2.connect(**url.connect_kwargs())
    conn.autocommit = True
    try:
        conn.cursor().execute(SCHEMA)
        yield url, capture_pairs(conn)
    finally:
        conn.close()
        pg_server.drop_database(name)


def _comparable(doc: PlanDocument) -> dict[str, Any]:
    analysis = analyze_plan(doc)
    data = analysis.as_dict()
    return {
        "nodes": data["nodes"],
        "findings": [asdict(f) for f in analysis.findings],
        "total_ms": data["total_ms"],
        "settings": data["settings"],
        "trigger_ms": data["trigger_ms"],
    }


def _without_summary(top: dict[str, Any]) -> PlanDocument:
    top = copy.deepcopy(top)
    for key in ("Planning Time", "Execution Time", "Planning"):
        top.pop(key, None)
    return parse_plan_text(json.dumps(top), source="json")


def test_text_and_json_of_the_same_execution_read_the_same(pairs: Any) -> None:
    _, captured = pairs
    _assert_pairs_agree(captured)


STORED = sorted((Path(__file__).resolve().parent / "data" / "explain" / "pairs").glob("pg*.json"))


@pytest.mark.parametrize("path", STORED, ids=[p.stem for p in STORED])
def test_stored_pairs_from_other_versions_read_the_same(path: Path) -> None:
    """Pairs captured the same way from servers the lanes do not run (make_pairs.py)."""
    stored = json.loads(path.read_text())
    _assert_pairs_agree([(p["sql"], p["json"], p["text"]) for p in stored])


def _assert_pairs_agree(captured: list[tuple[str, dict[str, Any], str]]) -> None:
    assert len(captured) >= 30
    kinds: set[str] = set()
    for sql, top, text in captured:
        from_json = _comparable(_without_summary(top))
        from_text = _comparable(parse_plan_text(text, source="text"))
        assert len(from_text["nodes"]) == len(from_json["nodes"]), sql
        for a, b in zip(from_json["nodes"], from_text["nodes"], strict=True):
            assert a == b, (sql, {k: (a[k], b[k]) for k in a if a[k] != b.get(k)})
        assert from_text == from_json, sql
        kinds.update(n["node_type"] for n in from_json["nodes"])
        kinds.update(f["kind"] for f in from_json["findings"])
    # the corpus covers the shapes that matter to the analysis
    assert {"Gather", "Hash Join", "Merge Join", "Nested Loop", "SetOp", "ModifyTable",
            "CTE Scan", "WindowAgg", "Bitmap Heap Scan", "Index Only Scan"} <= kinds  # fmt: skip
    assert {"spill", "seq_scan", "workers"} <= kinds


def _psql() -> str:
    found = shutil.which("psql")
    if found is None:
        pytest.skip("no psql client on this machine")
    return found


FRAMES = [
    (border, style, fmt)
    for border in ("0", "1", "2")
    for style in ("ascii", "old-ascii", "unicode")
    for fmt in ("aligned", "wrapped")
]


def _store(url: DbUrl, q: int, text: str) -> None:
    import psycopg2

    conn = psycopg2.connect(**url.connect_kwargs())
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("DELETE FROM plan_lines WHERE q = %s", (q,))
            for n, line in enumerate(text.split("\n")):
                cur.execute("INSERT INTO plan_lines VALUES (%s, %s, %s)", (q, n, line))
    finally:
        conn.close()


def test_psql_frames_of_every_border_linestyle_and_format(pairs: Any, tmp_path: Path) -> None:
    """Real psql prints the real plan lines as a "QUERY PLAN" column, as EXPLAIN does."""
    psql = _psql()
    url, captured = pairs
    picked = [captured[i] for i in (4, 15, 28)]  # a join, CTE + InitPlan, parallel workers
    for q, (sql, _, text) in enumerate(picked):
        _store(url, q, text)
        expected = _comparable(parse_plan_text(text, source="text"))
        for border, style, fmt in FRAMES:
            out = subprocess.run(
                [psql, "-X", "-q", "-d", url.render(),
                 "-c", f"\\pset border {border}", "-c", f"\\pset linestyle {style}",
                 "-c", f"\\pset format {fmt}", "-c", "\\pset columns 70",
                 "-c", f'SELECT line AS "QUERY PLAN" FROM plan_lines WHERE q = {q} ORDER BY n'],
                capture_output=True, text=True, check=True, timeout=30,
            ).stdout  # fmt: skip
            got = _comparable(parse_plan_text(out, source="psql"))
            assert got == expected, (sql, border, style, fmt, out[:400])


def test_csv_and_tsv_exports_with_doubled_quotes(pairs: Any, cli: Cli, tmp_path: Path) -> None:
    psql = _psql()
    url, captured = pairs
    _, _, text = captured[26]  # quoted identifiers: cells with doubled quotes
    assert '"Odd Schema"' in text
    _store(url, 99, text)
    expected = _comparable(parse_plan_text(text, source="text"))
    exported = subprocess.run(
        [psql, "-X", "-q", "--csv", "-d", url.render(),
         "-c", 'SELECT line AS "QUERY PLAN" FROM plan_lines WHERE q = 99 ORDER BY n'],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    assert '""Odd Schema""' in exported  # psql doubled the quotes
    tsv = io.StringIO()
    writer = csv.writer(tsv, delimiter="\t", quoting=csv.QUOTE_ALL)
    writer.writerow(["QUERY PLAN"])
    writer.writerows([line] for line in text.split("\n"))
    for name, content in (("plan.csv", exported), ("plan.tsv", tsv.getvalue())):
        assert _comparable(parse_plan_text(content, source=name)) == expected, name
        (tmp_path / name).write_text(content)
        res = cli("explain", "--plan", str(tmp_path / name), "--json")
        assert res.exit_code == 0, res.stderr
        assert len(res.json()["nodes"]) == len(expected["nodes"])  # type: ignore[index]


def test_auto_explain_entries_from_the_real_server_log(
    pg_server: PgServer, pairs: Any, cli: Cli, tmp_path: Path
) -> None:
    """auto_explain at LOG level writes to the server log: the prefix, then tab-indented lines."""
    import psycopg2

    if pg_server.cluster is None:
        pytest.skip("an external server: its log is not readable here")
    url, _ = pairs
    marker = f"marker_{uuid.uuid4().hex[:8]}"
    conn = psycopg2.connect(**url.connect_kwargs())
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("LOAD 'auto_explain'")
            for key, value in {
                "auto_explain.log_min_duration": "0",
                "auto_explain.log_analyze": "on",
                "auto_explain.log_buffers": "on",
                "auto_explain.log_format": "text",
                "auto_explain.log_level": "log",
            }.items():
                cur.execute("SELECT set_config(%s, %s, false)", (key, value))
            cur.execute(
                f"SELECT /* {marker} */ t.title FROM tasks t\n"
                "JOIN users u ON u.id = t.user_id WHERE u.id < 10 ORDER BY t.due_date"
            )
    finally:
        conn.close()
    log = pg_server.cluster.log_file
    deadline = time.monotonic() + 10
    while marker not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, "the auto_explain entry never reached the log"
        time.sleep(0.1)
    content = log.read_text(errors="replace")
    start = content.rfind("\n", 0, content.index(marker)) + 1
    start = content.rfind("duration:", 0, start)
    start = content.rfind("\n", 0, start) + 1
    entry = content[start:]
    assert "\tQuery Text:" in entry and "\n\t  ->  " in entry  # the real log's tab indentation
    path = tmp_path / "server.log"
    path.write_text("2026-01-01 00:00:00 UTC [1] LOG:  checkpoint starting: time\n" + entry)
    res = cli("explain", "--plan", str(path), "--json")
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert marker in doc["query"]  # type: ignore[index]
    types = [n["node_type"] for n in doc["nodes"]]  # type: ignore[index]
    assert (types[0] == "Sort" and "Hash Join" in types) or "Nested Loop" in types


def test_plan_from_stdin_and_from_json_alias(pairs: Any, cli: Cli, tmp_path: Path) -> None:
    _, captured = pairs
    _, top, text = captured[0]
    res = cli("explain", "--plan", "-", "--json", input=text)
    assert res.exit_code == 0, res.stderr
    (tmp_path / "p.json").write_text(json.dumps([top]))
    alias = cli("explain", "--from-json", str(tmp_path / "p.json"), "--json")
    assert alias.exit_code == 0, alias.stderr
    assert [n["node_type"] for n in res.json()["nodes"]] == [  # type: ignore[index]
        n["node_type"]
        for n in alias.json()["nodes"]  # type: ignore[index]
    ]


@pytest.mark.parametrize(
    "text",
    [
        # EXPLAIN without ANALYZE, non-verbose, and COSTS OFF
        "Hash Join  (cost=1.09..2.21 rows=5 width=8)\n  Hash Cond: (a.id = b.id)\n"
        "  ->  Seq Scan on a  (cost=0.00..1.05 rows=5 width=4)\n"
        "  ->  Hash  (cost=1.04..1.04 rows=4 width=4)\n"
        "        ->  Seq Scan on b  (cost=0.00..1.04 rows=4 width=4)",
        "Limit\n  ->  Sort\n        Sort Key: t.x\n        ->  Seq Scan on t",
        # TIMING OFF and a never-executed node
        "Nested Loop  (cost=0.00..2.00 rows=1 width=8) (actual rows=0 loops=1)\n"
        "  ->  Seq Scan on a  (cost=0.00..1.00 rows=1 width=4) (actual rows=0 loops=1)\n"
        "  ->  Seq Scan on b  (cost=0.00..1.00 rows=1 width=4) (never executed)",
    ],
)
def test_hand_written_text_shapes(text: str) -> None:
    doc = parse_plan_text(text, source="t")
    analysis = analyze_plan(doc)
    assert len(analysis.nodes) == text.count("->") + 1
    assert all(n.share is None or 0 <= n.share <= 1 for n in analysis.nodes)
