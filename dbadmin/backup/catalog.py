"""Which relations are "the database's own", defined once (``sql/backup/user_relations.sql``).

The backup counts the rows of these tables into the manifest; the restore uses the same
definition to decide whether a target is empty, what to ANALYZE and which tables to count, so
the two sides can never disagree about what a table is (system schemas and extension members
are left out everywhere).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from dbadmin import sql as sql_files

TABLE_KINDS = ("r",)  # what pg_dump dumps rows of, and what the manifest counts
ANALYZE_KINDS = ("r", "p")
ANY_KINDS = ("r", "p", "v", "m", "f")  # "the target already has N tables/views"
STATISTICS_MAJOR = 18  # pg_dump --statistics; pg_restore_relation_stats() on the server


def user_relations_sql() -> str:
    return sql_files.load("backup", "user_relations", 0)


def with_user_relations(name: str) -> str:
    """Query ``sql/backup/NAME.sql``, which reads the user relations as ``rel``."""
    return f"WITH rel AS ({user_relations_sql()})\n{sql_files.load('backup', name, 0)}"


def table_key(schema: str, table: str) -> str:
    return f"{schema}.{table}"


def user_relations(cur: Any, kinds: Sequence[str]) -> list[tuple[str, str]]:
    """(schema, name) of the user relations of these relkinds, ordered by schema and name."""
    cur.execute(user_relations_sql(), {"relkinds": list(kinds)})
    return [(schema, name) for _oid, schema, name, _kind in cur.fetchall()]


def count_user_relations(cur: Any, kinds: Sequence[str]) -> int:
    cur.execute(f"SELECT count(*) FROM ({user_relations_sql()}) rel", {"relkinds": list(kinds)})
    return int(cur.fetchone()[0])


def user_relations_by_size(cur: Any, kinds: Sequence[str]) -> list[tuple[str, str, int]]:
    """(schema, name, total bytes), biggest first (takes AccessShareLock on each: not for use
    inside a dump's snapshot)."""
    cur.execute(
        f"SELECT nspname, relname, pg_total_relation_size(oid) FROM ({user_relations_sql()}) rel "
        "ORDER BY 3 DESC, 1, 2",
        {"relkinds": list(kinds)},
    )
    return [(schema, name, int(size or 0)) for schema, name, size in cur.fetchall()]


def stale_statistics(cur: Any) -> list[str]:
    """``schema.table`` of the tables whose planner statistics are stale (autovacuum's rule)."""
    cur.execute(with_user_relations("stale_statistics"), {"relkinds": list(TABLE_KINDS)})
    return [table_key(schema, name) for schema, name in cur.fetchall()]


def count_rows(cur: Any, tables: Iterable[tuple[str, str]]) -> dict[str, int]:
    """Exact ``count(*)`` of each table, keyed ``schema.table`` (one statement per table)."""
    from psycopg2 import sql

    counts: dict[str, int] = {}
    for schema, table in tables:
        cur.execute(
            sql.SQL("SELECT count(*) FROM {}.{}").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
        )
        counts[table_key(schema, table)] = int(cur.fetchone()[0])
    return counts
