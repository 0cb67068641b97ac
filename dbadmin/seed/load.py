"""Load table sources in FK order: one COPY and one transaction per table, sequences, ANALYZE.

A *table source* knows its columns, reads what it needs from the database in ``prepare`` (parent
keys, existing maxima) and yields ``(row_count, copy_text)`` batches. The loader owns the
transaction: prepare, COPY, advance the table's sequences, commit. Ctrl-C inside a table rolls
that table back; tables committed before it stay whole.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from dbadmin.seed.copy import copy_batches, escape, qualified, quote_ident
from dbadmin.seed.values import Unfillable

if TYPE_CHECKING:
    import psycopg2.extensions
    from sqlalchemy import Table

    from dbadmin.seed.catalog import Catalog, TableInfo


class TableSource(Protocol):
    name: str
    table: Table
    columns: list[str]
    notes: list[str]

    def prepare(self, reader: DbReader) -> int: ...

    def batches(self, batch_size: int) -> Iterator[tuple[int, str]]: ...


class SeedProgress(Protocol):
    """Callbacks for progress display (the CLI draws bars; core never prints)."""

    def start(self, table: str, total: int) -> None: ...

    def advance(self, table: str, rows: int) -> None: ...

    def finish(self, table: str) -> None: ...


class NoProgress:
    def start(self, table: str, total: int) -> None:
        pass

    def advance(self, table: str, rows: int) -> None:
        pass

    def finish(self, table: str) -> None:
        pass


@dataclass(frozen=True)
class TableResult:
    table: str
    rows: int
    seconds: float
    status: str  # "seeded" | "unfillable"
    reason: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def table_name(table: Table) -> str:
    return qualified(table.name, table.schema)


class DbReader:
    """Reads parent keys and maxima inside the loading transaction (see ``KeyReader``)."""

    def __init__(
        self, conn: psycopg2.extensions.connection, catalog: Catalog | None = None
    ) -> None:
        self.conn = conn
        self._catalogs: dict[str, Catalog] = {catalog.schema: catalog} if catalog else {}

    def catalog(self, schema: str | None) -> Catalog:
        """The catalog facts of ``schema`` (read once per reader)."""
        from dbadmin.seed.catalog import read_catalog

        name = schema or self.rows("SELECT current_schema()")[0][0]
        if name not in self._catalogs:
            self._catalogs[name] = read_catalog(self.conn, name)
        return self._catalogs[name]

    def table_info(self, table: Table) -> TableInfo:
        catalog = self.catalog(table.schema)
        info = catalog.tables.get(table.name)
        if info is None:
            raise Unfillable(f"table {table.name} is not in the database")
        return info

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def stream(
        self, sql: str, params: Sequence[object] = (), chunk: int = 10_000
    ) -> Iterator[tuple[Any, ...]]:
        """Rows through a server-side cursor, ``chunk`` at a time (flat client memory)."""
        with self.conn.cursor(name=f"dbadmin_seed_{id(sql)}") as cur:
            cur.itersize = chunk
            cur.execute(sql, params)
            yield from cur

    def keys(self, table: Table, columns: Sequence[str]) -> list[tuple[str, ...]]:
        cols = [quote_ident(c) for c in columns]
        text_cols = ", ".join(f"{c}::text" for c in cols)
        not_null = " AND ".join(f"{c} IS NOT NULL" for c in cols)
        order = ", ".join(cols)
        rows = self.rows(
            f"SELECT {text_cols} FROM {table_name(table)} WHERE {not_null} ORDER BY {order}"
        )
        if not rows:
            return []
        # COPY escaping only where needed: one C-speed scan instead of a call per value
        joined = "\x00".join(v for row in rows for v in row)
        if any(ch in joined for ch in "\\\t\n\r"):
            return [tuple(escape(v) for v in row) for row in rows]
        return rows

    def max_int(self, table: Table, column: str) -> int | None:
        value = self.rows(f"SELECT max({quote_ident(column)}) FROM {table_name(table)}")[0][0]
        return None if value is None else int(value)

    def count(self, table: Table) -> int:
        return int(self.rows(f"SELECT count(*) FROM {table_name(table)}")[0][0])


def _is_empty(reader: DbReader, table: Table) -> bool:
    return bool(reader.rows(f"SELECT NOT EXISTS (SELECT 1 FROM {table_name(table)})")[0][0])


def advance_sequences(reader: DbReader, table: Table) -> None:
    """Move serial/identity sequences past the rows we wrote with explicit values."""
    name = table_name(table)
    found = reader.rows(
        "SELECT a.attname, pg_get_serial_sequence(%s, a.attname) FROM pg_attribute a "
        "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum",
        (name, name),
    )
    for column, sequence in found:
        if sequence is None:
            continue
        col = quote_ident(column)
        reader.rows(
            f"SELECT setval(%s, COALESCE(max({col}), 1), max({col}) IS NOT NULL) FROM {name}",
            (sequence,),
        )


REBUILD_MIN_ROWS = 50_000


def deferred_ddl(reader: DbReader, table: Table) -> tuple[list[str], list[str]]:
    """DROP and re-CREATE statements for the table's secondary indexes and own foreign keys.

    Like pg_restore: loading into a bare heap and then building each index in one sorted pass
    and validating each foreign key with one anti-join is much cheaper than maintaining them row
    by row. Indexes that back a constraint (primary key, unique, exclusion, or referenced by a
    foreign key) stay. Only plain tables without inheritance children qualify.
    """
    name = table_name(table)
    kind = reader.rows(
        "SELECT relkind, relhassubclass FROM pg_class WHERE oid = %s::regclass", (name,)
    )
    if not kind or kind[0][0] != "r" or kind[0][1]:
        return [], []
    fks = reader.rows(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
        (name,),
    )
    indexes = reader.rows(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = %s::regclass AND i.indisvalid AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY 1",
        (name,),
    )
    drops = [f"ALTER TABLE {name} DROP CONSTRAINT {quote_ident(fk)}" for fk, _ in fks]
    drops += [f"DROP INDEX {index}" for index, _ in indexes]
    creates = [definition for _, definition in indexes]
    creates += [
        f"ALTER TABLE {name} ADD CONSTRAINT {quote_ident(fk)} {definition}"
        for fk, definition in fks
    ]
    return drops, creates


def _execute(reader: DbReader, statements: Sequence[str]) -> None:
    with reader.conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)


def load_sources(
    conn: psycopg2.extensions.connection,
    sources: Sequence[TableSource],
    *,
    batch_size: int,
    progress: SeedProgress | None = None,
    rebuild_indexes: bool = True,
    failed: set[str] | None = None,
    catalog: Catalog | None = None,
) -> list[TableResult]:
    """Load each source under its own savepoint of the caller's transaction (not committed).

    The whole seed is one transaction, so a seed killed at any instant (SIGKILL, a lost
    connection) leaves the database as an unstarted run would. A table that cannot be filled
    (``Unfillable``, or a row the server refuses) is rolled back to its savepoint and reported;
    the tables that need it (a NOT NULL foreign key to it, directly or not) are skipped with it,
    and the others are still loaded. ``failed``: full names of tables already known unfillable.

    With ``rebuild_indexes``, a table that is empty and receives at least ``REBUILD_MIN_ROWS``
    rows gets its secondary indexes and own foreign keys dropped before the COPY and re-created
    after it, inside its savepoint: the database still checks every row (CREATE UNIQUE INDEX,
    ADD FOREIGN KEY validate all of them), an interruption restores everything, and loading is
    much faster. The table is locked exclusively until the seed commits.
    """
    progress = progress or NoProgress()
    results: list[TableResult] = []
    reader = DbReader(conn, catalog)
    failed = set(failed or ())
    table_skipped: tuple[type[BaseException], ...] = (Unfillable, *_refused_row_errors())
    for source in sources:
        started = time.perf_counter()
        blocked = sorted(_parents_of(source.table) & failed)
        if blocked:
            failed.add(source.table.fullname)
            reason = f"depends on {', '.join(blocked)}, which could not be filled"
            results.append(TableResult(source.name, 0, 0.0, "unfillable", reason))
            continue
        _execute(reader, ["SAVEPOINT dbadmin_seed_table"])
        try:
            rows = source.prepare(reader)
            progress.start(source.name, rows)
            creates: list[str] = []
            if rebuild_indexes and rows >= REBUILD_MIN_ROWS and _is_empty(reader, source.table):
                drops, creates = deferred_ddl(reader, source.table)
                _execute(reader, drops)

            def advance(n: int, name: str = source.name) -> None:
                progress.advance(name, n)

            loaded = copy_batches(
                conn,
                source.table.name,
                source.columns,
                source.batches(batch_size),
                schema=source.table.schema,
                on_batch=advance,
                commit=False,
            )
            if creates:
                _execute(reader, ["SET LOCAL maintenance_work_mem = '256MB'", *creates])
            advance_sequences(reader, source.table)
            # statistics now, not at the end: the children's FK checks are planned against
            # this table, and a never-analysed table looks empty to the planner (ANALYZE
            # counts the rows of its own transaction)
            _execute(reader, [f"ANALYZE {table_name(source.table)}"])
            _execute(reader, ["RELEASE SAVEPOINT dbadmin_seed_table"])
        except table_skipped as exc:
            if _run_ending(exc):
                _rollback(conn)
                raise
            _execute(reader, ["ROLLBACK TO SAVEPOINT dbadmin_seed_table"])
            progress.finish(source.name)
            failed.add(source.table.fullname)
            results.append(TableResult(source.name, 0, 0.0, "unfillable", _reason(exc)))
            continue
        except BaseException:
            _rollback(conn)
            raise
        progress.finish(source.name)
        results.append(
            TableResult(
                source.name,
                loaded,
                time.perf_counter() - started,
                "seeded",
                notes=tuple(source.notes),
            )
        )
    return results


def _parents_of(table: Table) -> set[str]:
    """Tables this one cannot be filled without (NOT NULL foreign keys)."""
    return {
        fk.referred_table.fullname
        for fk in table.foreign_key_constraints
        if any(not e.parent.nullable for e in fk.elements)
    } - {table.fullname}


def refresh_matviews(conn: psycopg2.extensions.connection, catalog: Catalog) -> list[str]:
    """Refresh the schema's materialized views after the load (same transaction)."""
    names = [qualified(name, catalog.schema) for name in catalog.matviews]
    with conn.cursor() as cur:
        for name in names:
            cur.execute(f"REFRESH MATERIALIZED VIEW {name}")
    return list(catalog.matviews)


def _refused_row_errors() -> tuple[type[BaseException], ...]:
    """Server errors that mean "this table's rows were refused" (a constraint we could not
    honour, a value out of range, a partition missing, a feature the server lacks): the table
    is skipped, the run goes on."""
    import psycopg2

    return (psycopg2.DatabaseError,)


def _run_ending(exc: BaseException) -> bool:
    """Connection losses and cancellations (OperationalError) end the run instead."""
    import psycopg2

    return isinstance(exc, psycopg2.OperationalError | psycopg2.InterfaceError)


def _rollback(conn: psycopg2.extensions.connection) -> None:
    try:
        conn.rollback()
    except Exception:
        pass


def _reason(exc: BaseException) -> str:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None)
    if primary:
        return f"the server refused a row: {primary}"
    return str(exc)


def truncate_closure(conn: psycopg2.extensions.connection, tables: Sequence[Table]) -> list[str]:
    """Every table ``TRUNCATE ... CASCADE`` of ``tables`` would empty (FK referrers, recursive)."""
    if not tables:
        return []
    names = [table_name(t) for t in tables]
    with conn.cursor() as cur:
        cur.execute(
            """
            WITH RECURSIVE closure(oid) AS (
                SELECT unnest(%s::regclass[])::oid
                UNION
                SELECT c.conrelid FROM pg_constraint c JOIN closure ON c.confrelid = closure.oid
                WHERE c.contype = 'f'
            )
            SELECT oid::regclass::text FROM closure ORDER BY 1
            """,
            (names,),
        )
        found = [row[0] for row in cur.fetchall()]
    conn.rollback()
    return found


def truncate(conn: psycopg2.extensions.connection, names: Sequence[str]) -> None:
    """Empty the given (already quoted/qualified) tables and restart their identities, in the
    caller's transaction (committed with the load that follows, never on its own)."""
    if not names:
        return
    with conn.cursor() as cur:
        cur.execute(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE")
