"""The ``minimal`` profile: a handful of fixed, named records, inserted idempotently.

Each record is found by its natural key (a user's email, a slug, a session id, a task's user and
title, a message's conversation, role and content) and inserted only when it is missing, so
running it again changes nothing and a cron job can call it after every demo reset. Identity
keys are left to the database: fixed ids would collide with rows another profile generated (and
then be skipped as "already present" although a different row holds them). Parents are
referenced through their natural keys too. Times are relative to ``now`` (default today 00:00
UTC) like the generated profiles.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dbadmin.errors import UsageError
from dbadmin.seed.copy import qualified, quote_ident
from dbadmin.seed.load import DbReader, TableResult, advance_sequences

if TYPE_CHECKING:
    import psycopg2.extensions
    from sqlalchemy import MetaData, Table

ADMIN_ID = "00000000-0000-4000-8000-000000000001"
DEMO_ID = "00000000-0000-4000-8000-000000000002"
SESSION_ID = "00000000-0000-4000-8000-0000000000c1"
PASSWORD_HASH = "$2b$12$dbadminminimalseedplaceholderhashnotavalidloginxxxxxxx"
# the tables the fixed records go into, parents first (what --reset empties, with CASCADE)
TABLES = ("users", "modules", "chapters", "tasks", "conversations", "messages")
# the natural key each record is found by (the reference schema's unique columns, or for tasks
# and messages, which have none, the columns that tell the fixed records apart)
KEYS: dict[str, tuple[str, ...]] = {
    "users": ("email",),
    "modules": ("slug",),
    "chapters": ("slug",),
    "tasks": ("user_id", "title"),
    "conversations": ("session_id",),
    "messages": ("conversation_id", "role", "content"),
}


@dataclass(frozen=True)
class Ref:
    """The id of the parent row whose ``column`` is ``value`` (resolved in SQL)."""

    table: str
    column: str
    value: str


MODULE = Ref("modules", "slug", "getting-started")
CONVERSATION = Ref("conversations", "session_id", SESSION_ID)


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
                    "module_id": MODULE,
                    "slug": "getting-started-install",
                    "title": "Installing",
                    "content_markdown": "# Installing\n\nRun the installer, then sign in.",
                    "order_index": 0,
                    "created_at": now - 60 * day,
                    "updated_at": now - 60 * day,
                },
                {
                    "module_id": MODULE,
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
                    "conversation_id": CONVERSATION,
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
                    "conversation_id": CONVERSATION,
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
                    sql, params = _insert_if_missing(table, row, present, tables)
                    cur.execute(sql, params)
                    inserted += cur.rowcount
            advance_sequences(reader, table)
            note = (f"{len(rows) - inserted} already present",) if inserted < len(rows) else ()
            results.append(TableResult(name, inserted, 0.0, "seeded", notes=note))
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return results


def _insert_if_missing(
    table: Table, row: dict[str, Any], present: set[str], tables: dict[str, Table]
) -> tuple[str, list[Any]]:
    """``INSERT ... SELECT ... WHERE NOT EXISTS (the natural key)``, parents looked up by key."""

    def value(v: Any) -> tuple[str, list[Any]]:
        if isinstance(v, Ref):
            parent = tables[v.table]
            return (
                f"(SELECT id FROM {qualified(parent.name, parent.schema)} "
                f"WHERE {quote_ident(v.column)} = %s)",
                [v.value],
            )
        return "%s", [v]

    cols = [c for c in row if c in present]
    selects, params = [], []
    for col in cols:
        expr, args = value(row[col])
        selects.append(expr)
        params += args
    conditions = ["true"]  # a key column the user's schema lacks: ON CONFLICT alone decides
    for col in (c for c in KEYS[table.name] if c in present):
        expr, args = value(row[col])
        conditions.append(f"{quote_ident(col)} = {expr}")
        params += args
    name = qualified(table.name, table.schema)
    sql = (
        f"INSERT INTO {name} ({', '.join(quote_ident(c) for c in cols)}) "
        f"SELECT {', '.join(selects)} "
        f"WHERE NOT EXISTS (SELECT 1 FROM {name} WHERE {' AND '.join(conditions)}) "
        "ON CONFLICT DO NOTHING"
    )
    return sql, params
