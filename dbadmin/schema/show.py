"""`schema show`: tables with row estimates and sizes, columns, indexes, constraints.

Catalog queries live in ``dbadmin/sql/schema/*.sql``; four queries for the whole database, not
one round trip per table (Neon latency).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dbadmin.errors import UsageError

if TYPE_CHECKING:
    from dbadmin.settings import Settings


def load_sql(name: str) -> str:
    from dbadmin import sql

    return sql.load("schema", name, 0)


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str
    nullable: bool
    default: str | None
    identity: str | None
    generated: str | None


@dataclass(frozen=True)
class IndexInfo:
    name: str
    definition: str
    unique: bool
    primary: bool
    valid: bool
    size_bytes: int


@dataclass(frozen=True)
class ConstraintInfo:
    name: str
    type: str
    definition: str
    columns: tuple[str, ...]
    references: str | None
    validated: bool


@dataclass(frozen=True)
class TableInfo:
    schema: str
    name: str
    row_estimate: int | None  # None: never analyzed
    total_bytes: int
    table_bytes: int
    index_bytes: int
    partitioned: bool
    comment: str | None
    columns: tuple[ColumnInfo, ...]
    indexes: tuple[IndexInfo, ...]
    constraints: tuple[ConstraintInfo, ...]

    @property
    def qualified(self) -> str:
        return self.name if self.schema == "public" else f"{self.schema}.{self.name}"

    @property
    def foreign_keys(self) -> tuple[ConstraintInfo, ...]:
        return tuple(c for c in self.constraints if c.type == "foreign key")


@dataclass(frozen=True)
class SchemaReport:
    database: str
    server_version: str
    tables: tuple[TableInfo, ...]


def show(settings: Settings, table: str | None = None) -> SchemaReport:
    from dbadmin.db import fetch_one, raw_connection

    with raw_connection(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT current_database(), current_setting('server_version')")
        database, version = fetch_one(cur)
        cur.execute(load_sql("tables"))
        tables = cur.fetchall()
        if table is not None:
            tables = [t for t in tables if table in {t[1], f"{t[0]}.{t[1]}"}]
            if not tables:
                raise UsageError(
                    f"unknown table {table!r} in database {database}",
                    "see `dbadmin schema show` for the list",
                )
        oids = [t[2] for t in tables]
        details: dict[str, dict[int, list[Any]]] = {}
        for name in ("columns", "indexes", "constraints"):
            cur.execute(load_sql(name), {"oids": oids})
            grouped: dict[int, list[Any]] = {}
            for row in cur.fetchall():
                grouped.setdefault(row[0], []).append(row[1:])
            details[name] = grouped
        conn.rollback()
    result = []
    for schema, name, oid, estimate, total, heap, index, partitioned, comment in tables:
        result.append(
            TableInfo(
                schema=schema,
                name=name,
                row_estimate=estimate,
                total_bytes=total,
                table_bytes=heap,
                index_bytes=index,
                partitioned=partitioned,
                comment=comment,
                columns=tuple(ColumnInfo(*r) for r in details["columns"].get(oid, [])),
                indexes=tuple(IndexInfo(*r) for r in details["indexes"].get(oid, [])),
                constraints=tuple(
                    ConstraintInfo(r[0], r[1], r[2], tuple(r[3] or ()), r[4], r[5])
                    for r in details["constraints"].get(oid, [])
                ),
            )
        )
    return SchemaReport(database, version, tuple(result))
