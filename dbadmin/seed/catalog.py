"""What the server knows about a schema's tables that SQLAlchemy's reflection loses.

Reflection gives tables, keys and foreign keys; generating valid values also needs each
column's real type (domains with their CHECKs and NOT NULL, nested; enums; arrays of anything;
ranges and multiranges; typmods such as ``varchar(20)``, ``numeric(10,2)``, ``bit(8)``,
``vector(3)``), generated and identity columns, CHECK and EXCLUDE constraints in the server's
normalised form, partitioning (strategy, key, each partition's bound) and materialized views.
Read once per seed with a handful of catalog queries (``dbadmin/sql/seed/``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dbadmin.sql import load

if TYPE_CHECKING:
    import psycopg2.extensions


@dataclass(frozen=True)
class TypeInfo:
    """A column's type with domains resolved: ``name`` is the base type (``int4``,
    ``varchar``, ``numeric``, ``vector``, an enum's or a range's own name)."""

    name: str
    kind: str  # typtype of the base: b(ase) e(num) r(ange) m(ultirange) c(omposite) p(seudo)
    typmod: int = -1
    labels: tuple[str, ...] = ()  # enums
    element: TypeInfo | None = None  # arrays
    subtype: TypeInfo | None = None  # ranges and multiranges
    checks: tuple[str, ...] = ()  # domain CHECKs on VALUE, outermost first
    not_null: bool = False  # a domain on the way says NOT NULL
    domain: str | None = None  # the outermost domain's name

    @property
    def is_array(self) -> bool:
        return self.element is not None


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: TypeInfo
    not_null: bool
    generated: bool  # GENERATED ALWAYS AS (...) STORED: left to the server
    identity: str  # 'a' always, 'd' by default, '' none
    has_default: bool


@dataclass(frozen=True)
class ConstraintInfo:
    name: str
    kind: str  # 'c' check, 'x' exclusion
    definition: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class PartitionInfo:
    """A partitioned table: its strategy, key columns and partitions (child name -> bound)."""

    strategy: str  # 'r' range, 'l' list, 'h' hash
    key: tuple[str | None, ...]  # None: an expression
    bounds: tuple[tuple[str, str], ...]  # (partition name, "FOR VALUES ..." / "DEFAULT")


@dataclass(frozen=True)
class TableInfo:
    name: str
    kind: str  # 'r' table, 'p' partitioned table
    is_partition: bool
    columns: dict[str, ColumnInfo] = field(default_factory=dict)
    constraints: tuple[ConstraintInfo, ...] = ()

    @property
    def checks(self) -> list[ConstraintInfo]:
        return [c for c in self.constraints if c.kind == "c"]


@dataclass(frozen=True)
class Catalog:
    schema: str
    tables: dict[str, TableInfo]
    partitions: dict[str, PartitionInfo]  # partitioned table name -> its partitioning
    matviews: tuple[str, ...]
    xml: bool = True  # the server accepts xml values (not when built without libxml)

    def partition_tree(self, name: str) -> list[str]:
        """Every partition below ``name`` (any depth)."""
        info = self.partitions.get(name)
        if info is None:
            return []
        found: list[str] = []
        for child, _ in info.bounds:
            found.append(child)
            found.extend(self.partition_tree(child))
        return found


def _rows(
    conn: psycopg2.extensions.connection, name: str, params: dict[str, object]
) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(load("seed", name, 14), params)
        return cur.fetchall()


def read_catalog(conn: psycopg2.extensions.connection, schema: str) -> Catalog:
    """Everything about ``schema`` a seed needs from the catalogs (read-only, a few queries)."""
    params: dict[str, object] = {"schema": schema}
    raw_columns = _rows(conn, "columns", params)
    types = _TypeResolver(conn)
    types.fetch({int(r[4]) for r in raw_columns})
    tables: dict[str, TableInfo] = {}
    for (
        relname,
        relkind,
        is_partition,
        att,
        typid,
        typmod,
        notnull,
        gen,
        ident,
        hasdef,
    ) in raw_columns:
        table = tables.get(relname)
        if table is None:
            table = tables[relname] = TableInfo(relname, relkind, bool(is_partition))
        info = types.resolve(int(typid), int(typmod))
        table.columns[att] = ColumnInfo(
            att, info, bool(notnull) or info.not_null, bool(gen), ident or "", bool(hasdef)
        )
    grouped: dict[str, list[ConstraintInfo]] = {}
    for relname, conname, contype, definition, columns in _rows(conn, "constraints", params):
        grouped.setdefault(relname, []).append(
            ConstraintInfo(conname, contype, definition, tuple(columns or ()))
        )
    for relname, found in grouped.items():
        if relname in tables:
            old = tables[relname]
            tables[relname] = TableInfo(
                old.name, old.kind, old.is_partition, old.columns, tuple(found)
            )
    partitions: dict[str, PartitionInfo] = {}
    for parent, child, bound, strategy, key in _rows(conn, "partitions", params):
        known = partitions.get(parent)
        bounds = (*known.bounds, (child, bound)) if known else ((child, bound),)
        partitions[parent] = PartitionInfo(strategy, tuple(key or ()), bounds)
    matviews = tuple(r[0] for r in _rows(conn, "matviews", params))
    uses_xml = any(c.type.name == "xml" for t in tables.values() for c in t.columns.values())
    return Catalog(schema, tables, partitions, matviews, _accepts_xml(conn) if uses_xml else True)


def _accepts_xml(conn: psycopg2.extensions.connection) -> bool:
    import psycopg2

    with conn.cursor() as cur:
        cur.execute("SAVEPOINT dbadmin_xml_probe")
        try:
            cur.execute("SELECT '<a/>'::xml")
        except psycopg2.NotSupportedError:
            cur.execute("ROLLBACK TO SAVEPOINT dbadmin_xml_probe")
            return False
        cur.execute("RELEASE SAVEPOINT dbadmin_xml_probe")
    return True


class _TypeResolver:
    """Loads pg_type rows on demand (domains, elements, subtypes) and resolves them."""

    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self.conn = conn
        self.rows: dict[int, tuple[Any, ...]] = {}

    def fetch(self, oids: set[int]) -> None:
        while oids := {o for o in oids if o and o not in self.rows}:
            found = _rows(self.conn, "types", {"oids": sorted(oids)})
            nested: set[int] = set()
            for row in found:
                self.rows[int(row[0])] = row
                nested.update(int(x) for x in (row[4], row[7], row[8]) if x)
            missing = oids - {int(r[0]) for r in found}
            for oid in missing:  # dropped meanwhile: resolve as an unknown pseudo type
                self.rows[oid] = (oid, f"oid {oid}", "p", "X", 0, -1, False, 0, None, None, None)
            oids = nested

    def resolve(self, oid: int, typmod: int) -> TypeInfo:
        self.fetch({oid})
        _, name, kind, category, base, dom_mod, notnull, elem, subtype, labels, checks = self.rows[
            oid
        ]
        if kind == "d":
            inner = self.resolve(int(base), int(dom_mod) if dom_mod != -1 else typmod)
            return TypeInfo(
                name=inner.name,
                kind=inner.kind,
                typmod=inner.typmod,
                labels=inner.labels,
                element=inner.element,
                subtype=inner.subtype,
                checks=tuple(_check_body(c) for c in (checks or ())) + inner.checks,
                not_null=bool(notnull) or inner.not_null,
                domain=name,
            )
        if category == "A" and elem:
            return TypeInfo(name=f"{name}", kind="b", element=self.resolve(int(elem), typmod))
        return TypeInfo(
            name=name,
            kind=kind,
            typmod=typmod,
            labels=tuple(labels or ()),
            subtype=self.resolve(int(subtype), -1) if subtype else None,
        )


def _check_body(definition: str) -> str:
    """``CHECK ((VALUE > 0)) NOT VALID`` -> ``(VALUE > 0)``."""
    text = definition.strip()
    if text.upper().endswith(" NOT VALID"):
        text = text[: -len(" NOT VALID")]
    if text.upper().startswith("CHECK "):
        text = text[len("CHECK ") :]
    return text.strip()


check_body = _check_body
