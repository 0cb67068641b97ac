"""What `schema docs` knows about a database: typed, frozen, sorted, free of anything that changes
without a schema change (oids, database name) except the optional statistics.

Every collection is a tuple sorted by name (code-point order, as PostgreSQL's "C" collation), so
the same schema always gives the same documents, byte for byte.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


class AsDict:
    def as_dict(self) -> dict[str, Any]:
        """The JSON shape (``--format json``): the dataclass fields, nested, tuples as lists."""
        # a mixin of dataclasses only: mypy cannot see self as a dataclass instance
        return _plain(dataclasses.asdict(self))  # type: ignore[call-overload]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


@dataclass(frozen=True, order=True)
class RelName(AsDict):
    """A schema-qualified name; shown as ``schema.name`` (unquoted: this is prose, not SQL)."""

    schema: str
    name: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class Column(AsDict):
    name: str
    type: str
    nullable: bool
    default: str | None
    identity: str | None  # 'always' | 'by default'
    generated: str | None  # the expression of a generated column
    generated_kind: str | None  # 'stored' | 'virtual' (PostgreSQL 18)
    comment: str | None
    type_ref: RelName | None  # the enum or domain this column uses (also as array element)


@dataclass(frozen=True)
class Constraint(AsDict):
    name: str
    kind: str  # 'primary key' | 'unique' | 'check' | 'exclusion'
    definition: str
    columns: tuple[str, ...]
    comment: str | None


@dataclass(frozen=True)
class ForeignKey(AsDict):
    name: str
    table: RelName  # the referencing table
    columns: tuple[str, ...]
    ref_table: RelName
    ref_columns: tuple[str, ...]
    definition: str
    nullable: bool  # some referencing column accepts NULL: a row may have no parent
    unique: bool  # the referencing columns are unique: at most one child per parent
    identifying: bool  # the referencing columns are part of the child's primary key
    comment: str | None


@dataclass(frozen=True)
class Index(AsDict):
    name: str
    definition: str
    unique: bool
    primary: bool
    partial: bool
    columns: tuple[str | None, ...]  # None for an expression
    comment: str | None


@dataclass(frozen=True)
class Trigger(AsDict):
    name: str
    definition: str
    enabled: bool
    comment: str | None


@dataclass(frozen=True)
class Policy(AsDict):
    name: str
    command: str
    permissive: bool
    roles: tuple[str, ...]
    using: str | None
    with_check: str | None
    comment: str | None


@dataclass(frozen=True)
class Partition(AsDict):
    table: RelName
    parent: RelName
    bound: str
    partition_key: str | None  # set when the partition is partitioned itself
    comment: str | None


@dataclass(frozen=True)
class Stats(AsDict):
    """Planner estimate and size: they change with the data, so pages show them only on request
    (``--stats``), rounded."""

    row_estimate: int | None  # None: never analyzed
    total_bytes: int


@dataclass(frozen=True)
class Relation(AsDict):
    """What tables and views have in common."""

    ref: RelName
    comment: str | None
    columns: tuple[Column, ...]
    indexes: tuple[Index, ...]
    stats: Stats


@dataclass(frozen=True)
class Table(Relation):
    constraints: tuple[Constraint, ...]
    foreign_keys: tuple[ForeignKey, ...]  # this table references
    referenced_by: tuple[ForeignKey, ...]  # references to this table
    triggers: tuple[Trigger, ...]
    rls_enabled: bool
    rls_forced: bool
    policies: tuple[Policy, ...]
    partition_key: str | None
    partitions: tuple[Partition, ...]
    views: tuple[RelName, ...]  # views and materialized views that read this table


@dataclass(frozen=True)
class View(Relation):
    materialized: bool
    definition: str
    depends_on: tuple[RelName, ...]
    used_by: tuple[RelName, ...]  # views built on this one
    populated: bool


@dataclass(frozen=True)
class EnumType(AsDict):
    ref: RelName
    comment: str | None
    labels: tuple[str, ...]
    used_by: tuple[str, ...]  # 'schema.relation.column'


@dataclass(frozen=True)
class Domain(AsDict):
    ref: RelName
    comment: str | None
    base_type: str
    not_null: bool
    default: str | None
    constraints: tuple[tuple[str, str], ...]  # (name, definition)
    used_by: tuple[str, ...]


@dataclass(frozen=True)
class SchemaInfo(AsDict):
    name: str
    comment: str | None


@dataclass(frozen=True)
class Catalog(AsDict):
    """The documented part of one database."""

    schemas: tuple[SchemaInfo, ...]
    tables: tuple[Table, ...]
    views: tuple[View, ...]
    enums: tuple[EnumType, ...]
    domains: tuple[Domain, ...]

    @property
    def foreign_keys(self) -> tuple[ForeignKey, ...]:
        """Every foreign key between documented tables, once."""
        names = {t.ref for t in self.tables}
        return tuple(fk for t in self.tables for fk in t.foreign_keys if fk.ref_table in names)
