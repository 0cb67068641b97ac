"""`schema create` (models -> tables, then stamp head) and `schema drop`, under the migration lock
so neither races a `migrate up`; `schema diff` (models vs database, read-only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dbadmin.errors import ProblemFound

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from dbadmin.migrate.runner import MigrateOptions
    from dbadmin.settings import Settings


@dataclass(frozen=True)
class CreateResult:
    tables: tuple[str, ...]
    stamped: tuple[str, ...]


@dataclass(frozen=True)
class DropResult:
    dropped: tuple[str, ...]
    remaining: tuple[str, ...]  # tables that are not part of the models (left alone)


def _existing_tables(conn: Connection) -> list[str]:
    from sqlalchemy import text

    rows = conn.execute(
        text(
            "SELECT CASE WHEN n.nspname = 'public' THEN c.relname "
            "ELSE n.nspname || '.' || c.relname END "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1"
        )
    )
    return [r[0] for r in rows]


def create(settings: Settings, *, options: MigrateOptions | None = None) -> CreateResult:
    """create_all + stamp head, for a new empty database; refuses when tables exist."""
    from alembic import command

    from dbadmin.migrate import checksums
    from dbadmin.migrate.models import OWN_TABLES, load_metadata
    from dbadmin.migrate.runner import (
        MigrateOptions,
        bind_connection,
        current_heads,
        load_scripts,
        migration_session,
    )

    options = options or MigrateOptions()
    metadata = load_metadata(settings)
    config, scripts = load_scripts(settings, options.config_path)
    with migration_session(settings, options) as (_lock, conn, _watch):
        existing = [t for t in _existing_tables(conn) if t not in OWN_TABLES]
        current = current_heads(conn)
        if existing or current:
            what = f"tables exist ({', '.join(existing[:5])}{'...' if len(existing) > 5 else ''})"
            if not existing:
                what = f"the database is already at revision {', '.join(current)}"
            raise ProblemFound(
                f"refusing to create the schema: {what}",
                "use `dbadmin migrate up` for an existing database, or `dbadmin schema drop` first",
            )
        conn.commit()
        metadata.create_all(conn)
        command.stamp(
            bind_connection(config, settings, conn), "heads"
        )  # inside the same transaction
        conn.commit()
        stamped = current_heads(conn)
        checksums.sync(conn, scripts, stamped, by=f"schema create by {checksums.applied_by()}")
        return CreateResult(tuple(t.name for t in metadata.sorted_tables), stamped)


def drop(settings: Settings, *, options: MigrateOptions | None = None) -> DropResult:
    """Drop the models' tables and the migration bookkeeping; other tables are left alone."""
    from sqlalchemy import text

    from dbadmin.migrate.models import OWN_TABLES, load_metadata
    from dbadmin.migrate.runner import MigrateOptions, migration_session

    options = options or MigrateOptions()
    metadata = load_metadata(settings)
    with migration_session(settings, options) as (_lock, conn, _watch):
        before = set(_existing_tables(conn))
        conn.commit()
        metadata.drop_all(conn, checkfirst=True)
        for table in sorted(OWN_TABLES):
            conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        conn.commit()
        after = set(_existing_tables(conn))
        conn.commit()
    return DropResult(tuple(sorted(before - after)), tuple(sorted(after)))


@dataclass(frozen=True)
class DiffResult:
    models: str  # the DBADMIN_MODELS spec compared against
    differences: tuple[str, ...]  # one readable line each; empty when identical

    @property
    def identical(self) -> bool:
        return not self.differences


def diff(settings: Settings) -> DiffResult:
    """The models (``DBADMIN_MODELS`` or the reference schema) compared with the database."""
    from dbadmin.db import connect
    from dbadmin.migrate.inspect import drift
    from dbadmin.migrate.models import load_metadata, models_spec

    metadata = load_metadata(settings)
    with connect(settings) as conn:
        found = drift(conn, metadata)
        conn.rollback()
    return DiffResult(models_spec(settings), found)
