"""The ``minimal`` profile: a handful of fixed, named records, inserted idempotently.

Every row has a fixed key and ``ON CONFLICT DO NOTHING``: running it again changes nothing, so a
cron job can call it after every demo reset. Times are relative to ``now`` (default today 00:00
UTC) like the generated profiles.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from dbadmin.errors import UsageError
from dbadmin.seed.copy import qualified, quote_ident
from dbadmin.seed.load import DbReader, TableResult, advance_sequences

if TYPE_CHECKING:
    import psycopg2.extensions
    from sqlalchemy import MetaData

ADMIN_ID = "00000000-0000-4000-8000-000000000001"
DEMO_ID = "00000000-0000-4000-8000-000000000002"
SESSION_ID = "00000000-0000-4000-8000-0000000000c1"
PASSWORD_HASH = "$2b$12$dbadminminimalseedplaceholderhashnotavalidloginxxxxxxx"
# the tables the fixed records go into, parents first (what --reset empties, with CASCADE)
TABLES = ("users", "modules", "chapters", "tasks", "conversations", "messages")


def records(now: dt.datetime) -> list[tuple[str, list[dict[str, Any]]]]:
    """The fixed records, parents first."""
    day, hour = dt.timedelta(days=1), dt.timedelta(hours=1)
    return [
        (
            "users",
            [
                {
                    "id": ADMIN_ID,
                    "email": "admin@example.com",
                    "name": "Admin",
                    "password_hash": PASSWORD_HASH,
                    "language_preference": "EN",
                    "theme_preference": "light",
                    "created_at": now - 30 * day,
                    "last_login": now - hour,
                },
                {
                    "id": DEMO_ID,
                    "email": "demo@example.com",
                    "name": "Demo User",
                    "password_hash": PASSWORD_HASH,
                    "language_preference": "DE",
                    "theme_preference": "dark",
                    "created_at": now - 7 * day,
                    "last_login": None,
                },
            ],
        ),
        (
            "modules",
            [
                {
                    "id": 1,
                    "slug": "getting-started",
                    "title": "Getting started",
                    "description": "Install the app, sign in and ask the assistant.",
                    "order_index": 0,
                    "created_at": now - 60 * day,
                    "updated_at": now - 60 * day,
                }
            ],
        ),
        (
            "chapters",
            [
                {
                    "id": 1,
                    "module_id": 1,
                    "slug": "getting-started-install",
                    "title": "Installing",
                    "content_markdown": "# Installing\n\nRun the installer, then sign in.",
                    "order_index": 0,
                    "created_at": now - 60 * day,
                    "updated_at": now - 60 * day,
                },
                {
                    "id": 2,
                    "module_id": 1,
                    "slug": "getting-started-assistant",
                    "title": "Asking the assistant",
                    "content_markdown": "# Asking the assistant\n\nSelect text and ask.",
                    "order_index": 1,
                    "created_at": now - 60 * day,
                    "updated_at": now - 60 * day,
                },
            ],
        ),
        (
            "tasks",
            [
                {
                    "id": 1,
                    "user_id": ADMIN_ID,
                    "title": "Read the getting started chapter",
                    "description": "Start with installing.",
                    "completed": False,
                    "priority": "high",
                    "due_date": now + day,
                    "created_at": now - 2 * day,
                    "updated_at": now - 2 * day,
                },
                {
                    "id": 2,
                    "user_id": ADMIN_ID,
                    "title": "Try the assistant",
                    "description": None,
                    "completed": False,
                    "priority": "medium",
                    "due_date": now + 3 * day,
                    "created_at": now - 2 * day,
                    "updated_at": now - 2 * day,
                },
                {
                    "id": 3,
                    "user_id": ADMIN_ID,
                    "title": "Finish the module 1 quiz",
                    "description": None,
                    "completed": True,
                    "priority": "low",
                    "due_date": now - 2 * day,
                    "created_at": now - 5 * day,
                    "updated_at": now - 3 * day,
                },
            ],
        ),
        (
            "conversations",
            [
                {
                    "id": 1,
                    "session_id": SESSION_ID,
                    "user_id": ADMIN_ID,
                    "metadata": json.dumps({"source": "web", "locale": "en"}),
                    "created_at": now - 2 * hour,
                    "updated_at": now - 2 * hour + dt.timedelta(seconds=20),
                    "last_activity": now - 2 * hour + dt.timedelta(seconds=20),
                }
            ],
        ),
        (
            "messages",
            [
                {
                    "id": 1,
                    "conversation_id": 1,
                    "user_id": ADMIN_ID,
                    "role": "user",
                    "content": "How do I set up the database?",
                    "citations": "[]",
                    "confidence": None,
                    "tokens_used": 8,
                    "selected_text": None,
                    "page_context": "/docs/getting-started-install",
                    "created_at": now - 2 * hour,
                },
                {
                    "id": 2,
                    "conversation_id": 1,
                    "user_id": None,
                    "role": "assistant",
                    "content": "Run `dbadmin migrate up`, then `dbadmin seed`.",
                    "citations": json.dumps(
                        [{"chapter": "getting-started-install", "url": "/docs/getting-started"}]
                    ),
                    "confidence": 0.92,
                    "tokens_used": 42,
                    "selected_text": None,
                    "page_context": None,
                    "created_at": now - 2 * hour + dt.timedelta(seconds=20),
                },
            ],
        ),
    ]


def seed_minimal(
    conn: psycopg2.extensions.connection, metadata: MetaData, now: dt.datetime
) -> list[TableResult]:
    """Insert the fixed records (ON CONFLICT DO NOTHING) in one transaction."""
    tables = {t.name: t for t in metadata.tables.values()}
    plan = records(now)
    missing = [name for name, _ in plan if name not in tables]
    if missing:
        raise UsageError(
            f"the minimal profile needs the reference schema; missing {', '.join(missing)}",
            "use --profile dev with your own models, or --from-database",
        )
    results: list[TableResult] = []
    reader = DbReader(conn)
    try:
        for name, rows in plan:
            table = tables[name]
            present = {c.name for c in table.columns}
            inserted = 0
            with conn.cursor() as cur:
                for row in rows:
                    cols = [c for c in row if c in present]
                    sql = (
                        f"INSERT INTO {qualified(table.name, table.schema)} "
                        f"({', '.join(quote_ident(c) for c in cols)}) "
                        f"VALUES ({', '.join(['%s'] * len(cols))}) ON CONFLICT DO NOTHING"
                    )
                    cur.execute(sql, [row[c] for c in cols])
                    inserted += cur.rowcount
            advance_sequences(reader, table)
            note = (f"{len(rows) - inserted} already present",) if inserted < len(rows) else ()
            results.append(TableResult(name, inserted, 0.0, "seeded", notes=note))
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return results
