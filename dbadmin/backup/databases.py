"""Databases and roles a restore or a restore test creates and drops, and the session that does it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dbadmin.deadline import Deadline
    from dbadmin.settings import Settings
    from dbadmin.urls import DbUrl


def connect(
    url: DbUrl, settings: Settings, autocommit: bool = True, deadline: Deadline | None = None
) -> Any:
    """A session for dbadmin's own statements around a restore; with a ``deadline``, each statement may run
    only for what is left of it (the server cancels it then, exit 4)."""
    from dbadmin.db import connect_raw

    conn = connect_raw(
        url,
        connect_timeout=settings.connect_timeout,
        retry_seconds=min(settings.connect_retry_seconds, 10.0),
        application_name="dbadmin-restore",
    )
    conn.autocommit = autocommit
    if deadline is not None:
        with conn.cursor() as cur:
            left_ms = max(1, int(deadline.remaining() * 1000))
            cur.execute("SELECT set_config('statement_timeout', %s, false)", (str(left_ms),))
        if not autocommit:
            conn.commit()
    return conn


def create_database(url: DbUrl, settings: Settings, maintenance_db: str = "postgres") -> None:
    from psycopg2 import sql

    conn = connect(url.with_database(maintenance_db), settings)
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(url.database or "")))
    finally:
        conn.close()


def drop_database(url: DbUrl, settings: Settings, maintenance_db: str = "postgres") -> None:
    from psycopg2 import sql

    conn = connect(url.with_database(maintenance_db), settings)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW server_version_num")
            force = " WITH (FORCE)" if int(cur.fetchone()[0]) >= 130000 else ""
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {}" + force).format(
                    sql.Identifier(url.database or "")
                )
            )
    finally:
        conn.close()


def create_role(
    url: DbUrl, settings: Settings, role: str, maintenance_db: str = "postgres"
) -> None:
    """``CREATE ROLE role NOLOGIN`` (no privileges) unless it exists: a role a backup names."""
    from psycopg2 import sql

    conn = connect(url.with_database(maintenance_db), settings)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
    finally:
        conn.close()
