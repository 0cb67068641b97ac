"""Read the catalog for `schema docs`: ten named queries (``dbadmin/sql/schema_docs/``), each
once for the whole selection (no round trip per table: Neon latency), in one read-only
transaction so that every query sees the same schema.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from dbadmin.errors import UsageError
from dbadmin.schema.docs_model import (
    Catalog,
    Column,
    Constraint,
    Domain,
    EnumType,
    ForeignKey,
    Index,
    Partition,
    Policy,
    RelName,
    SchemaInfo,
    Stats,
    Table,
    Trigger,
    View,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    from dbadmin.settings import Settings

T = TypeVar("T", bound="DataclassInstance")
_CONSTRAINT_KINDS = {"p": "primary key", "u": "unique", "c": "check", "x": "exclusion"}


def _query(cur: Any, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    from dbadmin import sql

    cur.execute(sql.load("schema_docs", name, 0), params or None)  # None: '%' is literal
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _by_oid(rows: Iterable[dict[str, Any]], key: str = "oid") -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row[key]].append(row)
    return grouped


def read_catalog(settings: Settings, schemas: Sequence[str] = ()) -> Catalog:
    """The documented objects of ``schemas`` (every user schema when empty)."""
    from dbadmin.db import raw_connection

    with raw_connection(settings) as conn:
        conn.set_session(readonly=True, isolation_level="REPEATABLE READ")
        try:
            with conn.cursor() as cur:
                # every name the server deparses comes schema-qualified, whatever the role's
                # search_path: the same schema gives the same pages from any connection
                cur.execute("SET LOCAL search_path = pg_catalog")
                return _read(cur, schemas)
        finally:
            conn.rollback()


def _read(cur: Any, wanted: Sequence[str]) -> Catalog:
    available = _query(cur, "schemas", {})
    known = {row["name"] for row in available}
    unknown = sorted(set(wanted) - known)
    if unknown:
        raise UsageError(
            f"unknown schema {', '.join(map(repr, unknown))}",
            f"user schemas here: {', '.join(sorted(known)) or 'none'}",
        )
    chosen = sorted(set(wanted)) if wanted else sorted(known)
    schemas = tuple(
        SchemaInfo(row["name"], row["comment"]) for row in available if row["name"] in chosen
    )
    relations = _query(cur, "relations", {"schemas": chosen})
    oids = [r["oid"] for r in relations]
    params = {"oids": oids}
    columns = {
        oid: tuple(_column(r) for r in rows)
        for oid, rows in _by_oid(_query(cur, "columns", params)).items()
    }
    indexes = {
        oid: tuple(_row(Index, r) for r in rows)
        for oid, rows in _by_oid(_query(cur, "indexes", params)).items()
    }
    constraint_rows = _query(cur, "constraints", params)
    triggers = _by_oid(_query(cur, "triggers", params))
    policies = _by_oid(_query(cur, "policies", params))
    partitioned = [r["oid"] for r in relations if r["kind"] == "p"]
    partitions = _by_oid(_query(cur, "partitions", {"oids": partitioned})) if partitioned else {}
    dependencies = _query(cur, "view_dependencies", params)
    types = _query(cur, "types", {"schemas": chosen})

    names = {r["oid"]: RelName(r["schema"], r["name"]) for r in relations}
    readers: dict[int, set[RelName]] = defaultdict(set)  # relation -> views reading it
    sources: dict[int, set[RelName]] = defaultdict(set)  # view -> relations it reads
    for dep in dependencies:
        readers[dep["rel_oid"]].add(RelName(dep["view_schema"], dep["view_name"]))
        sources[dep["view_oid"]].add(RelName(dep["rel_schema"], dep["rel_name"]))

    outgoing, incoming, constraints = _constraints(constraint_rows, names, columns, indexes)
    tables: list[Table] = []
    views: list[View] = []
    for rel in relations:
        oid, ref = rel["oid"], names[rel["oid"]]
        common: dict[str, Any] = {
            "ref": ref,
            "comment": rel["comment"],
            "columns": columns.get(oid, ()),
            "indexes": indexes.get(oid, ()),
            "stats": Stats(rel["row_estimate"], int(rel["total_bytes"] or 0)),
        }
        if rel["kind"] in ("v", "m"):
            views.append(
                View(
                    **common,
                    materialized=rel["kind"] == "m",
                    definition=(rel["definition"] or "").strip(),
                    depends_on=tuple(sorted(sources.get(oid, ()))),
                    used_by=tuple(sorted(readers.get(oid, ()))),
                    populated=bool(rel["populated"]),
                )
            )
            continue
        tables.append(
            Table(
                **common,
                constraints=tuple(sorted(constraints.get(oid, ()), key=lambda c: c.name)),
                foreign_keys=tuple(sorted(outgoing.get(oid, ()), key=_fk_key)),
                referenced_by=tuple(sorted(incoming.get(oid, ()), key=_fk_key)),
                triggers=tuple(_row(Trigger, t) for t in triggers.get(oid, ())),
                rls_enabled=rel["rls_enabled"],
                rls_forced=rel["rls_forced"],
                policies=tuple(_row(Policy, p) for p in policies.get(oid, ())),
                partition_key=rel["partition_key"],
                partitions=tuple(_partition(p) for p in partitions.get(oid, ())),
                views=tuple(sorted(readers.get(oid, ()))),
            )
        )
    enums, domains = _types(types, [*tables, *views])
    tables.sort(key=lambda t: t.ref)
    views.sort(key=lambda v: v.ref)
    return Catalog(schemas, tuple(tables), tuple(views), enums, domains)


def _fk_key(fk: ForeignKey) -> tuple[RelName, str]:
    return (fk.table, fk.name)


def _row(cls: type[T], r: dict[str, Any], **computed: Any) -> T:
    """A dataclass from the query row's columns of the same names (arrays as tuples)."""
    values = {
        f.name: tuple(r[f.name] or ()) if isinstance(r[f.name], list) else r[f.name]
        for f in dataclasses.fields(cls)
        if f.name in r and f.name not in computed
    }
    return cls(**values, **computed)


def _column(r: dict[str, Any]) -> Column:
    type_ref = RelName(r["type_schema"], r["type_name"]) if r["type_name"] else None
    return _row(Column, r, type_ref=type_ref)


def _partition(r: dict[str, Any]) -> Partition:
    return Partition(
        table=RelName(r["schema"], r["name"]),
        parent=RelName(r["parent_schema"], r["parent_name"]),
        bound=r["bound"],
        partition_key=r["partition_key"],
        comment=r["comment"],
    )


def _constraints(
    rows: list[dict[str, Any]],
    names: dict[int, RelName],
    columns: dict[int, tuple[Column, ...]],
    indexes: dict[int, tuple[Index, ...]],
) -> tuple[dict[int, list[ForeignKey]], dict[int, list[ForeignKey]], dict[int, list[Constraint]]]:
    """Split constraint rows into keys/checks per table and foreign keys by both ends."""
    outgoing: dict[int, list[ForeignKey]] = defaultdict(list)
    incoming: dict[int, list[ForeignKey]] = defaultdict(list)
    others: dict[int, list[Constraint]] = defaultdict(list)
    oid_of = {name: oid for oid, name in names.items()}
    for r in rows:
        cols = tuple(r["columns"] or ())
        if r["type"] != "f":
            if r["oid"] in names:
                kind = _CONSTRAINT_KINDS.get(r["type"], r["type"])
                others[r["oid"]].append(
                    Constraint(r["name"], kind, r["definition"], cols, r["comment"])
                )
            continue
        child = names.get(r["oid"])
        nullable_cols = {c.name for c in columns.get(r["oid"], ()) if c.nullable}
        unique_sets = [
            {c for c in i.columns if c is not None}
            for i in indexes.get(r["oid"], ())
            if i.unique and not i.partial and None not in i.columns
        ]
        primary = next((i for i in indexes.get(r["oid"], ()) if i.primary), None)
        fk = ForeignKey(
            name=r["name"],
            table=RelName(r["table_schema"], r["table_name"]),
            columns=cols,
            ref_table=RelName(r["ref_schema"], r["ref_name"]),
            ref_columns=tuple(r["ref_columns"] or ()),
            definition=r["definition"],
            nullable=bool(nullable_cols & set(cols)),
            unique=any(s and s <= set(cols) for s in unique_sets),
            identifying=primary is not None and set(cols) <= set(primary.columns),
            comment=r["comment"],
        )
        if child is not None:
            outgoing[r["oid"]].append(fk)
        target = oid_of.get(fk.ref_table)
        if target is not None:
            incoming[target].append(fk)
    return outgoing, incoming, others


def _types(
    rows: list[dict[str, Any]], relations: Sequence[Table | View]
) -> tuple[tuple[EnumType, ...], tuple[Domain, ...]]:
    used: dict[RelName, list[str]] = defaultdict(list)
    for rel in relations:
        for col in rel.columns:
            if col.type_ref is not None:
                used[col.type_ref].append(f"{rel.ref}.{col.name}")
    enums: list[EnumType] = []
    domains: list[Domain] = []
    for r in rows:
        ref = RelName(r["schema"], r["name"])
        users = tuple(sorted(used.get(ref, ())))
        if r["kind"] == "e":
            enums.append(EnumType(ref, r["comment"], tuple(r["labels"] or ()), users))
        else:
            checks = tuple(
                (text.split("\t", 1)[0], text.split("\t", 1)[1]) for text in r["constraints"] or ()
            )
            domains.append(
                Domain(
                    ref=ref,
                    comment=r["comment"],
                    base_type=r["base_type"],
                    not_null=r["not_null"],
                    default=r["default"],
                    constraints=checks,
                    used_by=users,
                )
            )
    return tuple(enums), tuple(domains)
