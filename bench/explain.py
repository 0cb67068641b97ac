"""`dbadmin explain` cost: what the safety and the analysis add on top of a bare EXPLAIN.

Run: .venv/bin/python bench/explain.py [--url URL] [--runs 15]
Without --url (or DATABASE_URL) it uses dbadmin's embedded server ($DBADMIN_HOME, ./.dbadmin).

Figures:
1. capture + analyse in-process (prepare/one-statement check, connect, SET LOCAL timeout, EXPLAIN
   (ANALYZE, BUFFERS, VERBOSE, SETTINGS, FORMAT JSON), rollback, relation stats, analysis) vs the
   baseline: what `psql -c "EXPLAIN ..."` does, connect + the same EXPLAIN + disconnect.
   Target: ratio <= 1.5 on a ~20 ms query (the statement itself dominates).
2. analyse_plan on a synthetic 2,000-node plan vs json.loads of the same document.
   Target: under 150 ms per plan (real plans of the app have 5-50 nodes: ~1-3 ms).
3. the same plan in EXPLAIN's text format: parse + analyse, vs parse + analyse of its JSON twin.
   Target: under 200 ms (issue 15).
--offline runs figures 2 and 3 only (no server).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dbadmin.explain.analyze import analyze_plan
from dbadmin.explain.capture import capture_plan, prepare_query
from dbadmin.explain.plan import parse_plan_text
from dbadmin.settings import resolve

QUERY = "SELECT status, count(*) FROM bench_big WHERE n < 500 GROUP BY status"
SETUP = """
CREATE TABLE bench_big (id bigint PRIMARY KEY, status text, n int, payload text);
INSERT INTO bench_big SELECT g, CASE WHEN g % 200 = 0 THEN 'rare' ELSE 'common' END, g % 1000,
       md5(g::text) FROM generate_series(1, 200000) g;
ANALYZE bench_big;
"""


def median_ms(func, runs: int) -> float:  # type: ignore[no-untyped-def]
    func()  # warm caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def synthetic_plan(nodes: int) -> dict:  # type: ignore[type-arg]
    def node(i: int) -> dict:  # type: ignore[type-arg]
        return {
            "Node Type": "Seq Scan" if i % 2 else "Nested Loop",
            "Relation Name": f"t{i}",
            "Schema": "public",
            "Alias": f"t{i}",
            "Plan Rows": 100 + i,
            "Total Cost": 1000.0 + i,
            "Actual Total Time": 1.0 + i / 100,
            "Actual Rows": 90 + i,
            "Actual Loops": 1,
            "Filter": f"(t{i}.c = {i})",
            "Rows Removed by Filter": 1000,
            "Shared Hit Blocks": i,
            "Parent Relationship": "Outer",
            "Plans": [],
        }

    root = node(0)
    level = [root]
    count = 1
    while count < nodes:
        nxt = []
        for parent in level:
            for _ in range(2):
                if count >= nodes:
                    break
                child = node(count)
                parent["Plans"].append(child)
                nxt.append(child)
                count += 1
        level = nxt
    return {"Plan": root, "Planning Time": 1.0, "Execution Time": 500.0}


def synthetic_text(plan: dict) -> str:  # type: ignore[type-arg]
    """The text format of :func:`synthetic_plan`'s document, as EXPLAIN would print it."""
    lines: list[str] = []

    def emit(node: dict, column: int) -> None:  # type: ignore[type-arg]
        name = node["Node Type"]
        if node.get("Relation Name"):
            name += f" on {node['Schema']}.{node['Relation Name']}"
        prefix = " " * column + ("->  " if column else "")
        lines.append(
            f"{prefix}{name}  (cost=0.00..{node['Total Cost']:.2f} rows={node['Plan Rows']} "
            f"width=4) (actual time=0.010..{node['Actual Total Time']:.3f} "
            f"rows={node['Actual Rows']} loops={node['Actual Loops']})"
        )
        text_column = column + 4 if column else 0
        pad = " " * (text_column + 2)
        lines.append(f"{pad}Filter: {node['Filter']}")
        lines.append(f"{pad}Rows Removed by Filter: {node['Rows Removed by Filter']}")
        if node["Shared Hit Blocks"]:
            lines.append(f"{pad}Buffers: shared hit={node['Shared Hit Blocks']}")
        for child in node["Plans"]:
            emit(child, text_column + 2)

    emit(plan["Plan"], 0)
    lines.append(f"Planning Time: {plan['Planning Time']:.3f} ms")
    lines.append(f"Execution Time: {plan['Execution Time']:.3f} ms")
    return "\n".join(lines)


def offline(runs: int) -> None:
    plan = synthetic_plan(2000)
    text = json.dumps([plan])
    parse = median_ms(lambda: json.loads(text), runs)
    analyse = median_ms(lambda: analyze_plan(parse_plan_text(text, source="bench")), runs)
    print(f"json.loads of a 2,000-node plan     median {parse:8.1f} ms")
    print(f"parse + analyse a 2,000-node plan   median {analyse:8.1f} ms (target < 150 ms)")
    print(f"ratio analyse/json.loads = {analyse / parse:.1f}")
    plain = synthetic_text(plan)
    from_text = analyze_plan(parse_plan_text(plain, source="bench"))
    assert len(from_text.nodes) == 2000 and from_text.total_ms == 500.0
    text_ms = median_ms(lambda: analyze_plan(parse_plan_text(plain, source="bench")), runs)
    print(f"same plan as EXPLAIN text format    median {text_ms:8.1f} ms (target < 200 ms)")
    print(f"ratio text/JSON parse + analyse = {text_ms / analyse:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--offline", action="store_true", help="figures 2 and 3 only")
    args = parser.parse_args()
    if args.offline:
        offline(args.runs)
        return
    settings = resolve(database_url=args.url)
    if settings.embedded:
        from dbadmin.local import embedded_cluster

        embedded_cluster(settings.home).ensure_running()
    from dbadmin.db import connect_raw

    admin = connect_raw(settings.url)
    admin.autocommit = True
    name = f"bench_explain_{uuid.uuid4().hex[:8]}"
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        target = settings.with_url(settings.url.with_database(name))
        conn = connect_raw(target.url)
        conn.autocommit = True
        conn.cursor().execute("SET max_parallel_workers_per_gather = 0; " + SETUP)
        conn.autocommit = False
        prepared = prepare_query(QUERY)

        def bare() -> None:  # what `psql -c "EXPLAIN ..."` does: connect, explain, leave
            fresh = connect_raw(target.url)
            try:
                with fresh.cursor() as cur:
                    cur.execute("SET LOCAL max_parallel_workers_per_gather = 0")
                    cur.execute(
                        "EXPLAIN (ANALYZE, BUFFERS, VERBOSE, SETTINGS, FORMAT JSON) " + QUERY
                    )
                    cur.fetchone()
                fresh.rollback()
            finally:
                fresh.close()

        def ours() -> None:
            doc = capture_plan(
                target, prepared, set_options={"max_parallel_workers_per_gather": "0"}
            )
            analyze_plan(doc)

        base = median_ms(bare, args.runs)
        full = median_ms(ours, args.runs)
        conn.close()
        print(f"connect + bare EXPLAIN ANALYZE      median {base:8.1f} ms over {args.runs} runs")
        print(f"dbadmin capture + analysis          median {full:8.1f} ms over {args.runs} runs")
        print(f"ratio dbadmin/bare = {full / base:.2f} (target <= 1.5)")
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

    offline(args.runs)


if __name__ == "__main__":
    main()
