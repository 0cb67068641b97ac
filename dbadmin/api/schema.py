"""The schema from Python: ``schema_create`` (an empty database, stamped at head),
``schema_drop``, ``schema_show``, ``schema_diff`` and the documentation (``schema_docs``,
``schema_docs_write``, ``schema_docs_html``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dbadmin.api.target import Confirm, ask, settings_for

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from dbadmin.schema.docs import DocsResult, SchemaDocs
    from dbadmin.schema.manage import CreateResult, DiffResult, DropResult
    from dbadmin.schema.show import SchemaReport, TableInfo
    from dbadmin.settings import Settings


@dataclass(frozen=True)
class SchemaCreated:
    result: CreateResult

    def as_dict(self) -> dict[str, Any]:
        return {"tables": list(self.result.tables), "stamped": list(self.result.stamped)}


@dataclass(frozen=True)
class SchemaDropped:
    result: DropResult

    def as_dict(self) -> dict[str, Any]:
        return {"dropped": list(self.result.dropped), "remaining": list(self.result.remaining)}


@dataclass(frozen=True)
class SchemaDiff:
    result: DiffResult

    @property
    def identical(self) -> bool:
        return self.result.identical

    def as_dict(self) -> dict[str, Any]:
        r = self.result
        return {"models": r.models, "identical": r.identical, "differences": list(r.differences)}


def table_document(t: TableInfo) -> dict[str, Any]:
    return {
        "schema": t.schema,
        "name": t.name,
        "row_estimate": t.row_estimate,
        "total_bytes": t.total_bytes,
        "table_bytes": t.table_bytes,
        "index_bytes": t.index_bytes,
        "partitioned": t.partitioned,
        "comment": t.comment,
        "columns": [
            {
                "name": c.name,
                "type": c.type,
                "nullable": c.nullable,
                "default": c.default,
                "identity": c.identity,
                "generated": c.generated,
            }
            for c in t.columns
        ],
        "indexes": [
            {
                "name": i.name,
                "definition": i.definition,
                "unique": i.unique,
                "primary": i.primary,
                "valid": i.valid,
                "size_bytes": i.size_bytes,
            }
            for i in t.indexes
        ],
        "constraints": [
            {"name": c.name, "type": c.type, "definition": c.definition, "columns": list(c.columns)}
            for c in t.constraints
            if c.type != "foreign key"
        ],
        "foreign_keys": [
            {
                "name": c.name,
                "columns": list(c.columns),
                "references": c.references,
                "definition": c.definition,
                "validated": c.validated,
            }
            for c in t.foreign_keys
        ],
    }


@dataclass(frozen=True)
class SchemaShown:
    report: SchemaReport

    def as_dict(self) -> dict[str, Any]:
        r = self.report
        return {
            "database": r.database,
            "server_version": r.server_version,
            "tables": [table_document(t) for t in r.tables],
        }


def schema_create(
    target: Settings | str | None = None, *, config: str | None = None
) -> SchemaCreated:
    """Create every table of the models on an EMPTY database, then stamp it at head. Raises
    ``ProblemFound`` when tables exist (migrate those instead)."""
    from dbadmin.migrate.runner import MigrateOptions
    from dbadmin.schema.manage import create

    return SchemaCreated(create(settings_for(target), options=MigrateOptions(config_path=config)))


def schema_drop(
    target: Settings | str | None = None,
    *,
    config: str | None = None,
    confirm: Confirm | None = None,
) -> SchemaDropped:
    """Drop the models' tables (with their data) and the migration bookkeeping; ``confirm`` is
    asked first with the database's name to type."""
    from dbadmin.migrate.runner import MigrateOptions
    from dbadmin.schema.manage import drop

    settings = settings_for(target)
    database = settings.direct_url.database or "postgres"
    ask(
        confirm,
        f"DROP every application table and its data in database {database}",
        typed=database,
    )
    return SchemaDropped(drop(settings, options=MigrateOptions(config_path=config)))


def schema_show(target: Settings | str | None = None, table: str | None = None) -> SchemaShown:
    """Tables with row estimates and sizes, columns, indexes, constraints and foreign keys
    (``table``: only that one, ``name`` or ``schema.name``)."""
    from dbadmin.schema.show import show

    return SchemaShown(show(settings_for(target), table))


def schema_diff(target: Settings | str | None = None) -> SchemaDiff:
    """Differences between the models (``DBADMIN_MODELS`` or the reference schema) and the
    database (``.identical``)."""
    from dbadmin.schema.manage import diff

    return SchemaDiff(diff(settings_for(target)))


def schema_docs(target: Settings | str | None = None, *, schemas: Sequence[str] = ()) -> SchemaDocs:
    """The schema's documentation model (catalog and ER diagrams; ``as_dict()`` is
    ``schema docs --format json``), of every user schema or of ``schemas``."""
    from dbadmin.schema.docs import build

    return build(settings_for(target), tuple(schemas))


def schema_docs_write(
    target: Settings | str | None,
    out: Path,
    *,
    schemas: Sequence[str] = (),
    stats: bool = False,
    check: bool = False,
) -> DocsResult:
    """Write the Markdown pages into ``out`` (``check``: write nothing, report the pages that
    differ; ``result.up_to_date``)."""
    from dbadmin.schema.docs import check as check_pages
    from dbadmin.schema.docs import write

    pages = schema_docs(target, schemas=schemas).pages(stats=stats)
    return check_pages(out, pages) if check else write(out, pages)


def schema_docs_html(
    target: Settings | str | None,
    path: Path,
    *,
    schemas: Sequence[str] = (),
    stats: bool = False,
) -> int:
    """Write one self-contained HTML page (diagrams drawn, no network); returns how many
    pages it holds."""
    from dbadmin.files import write_atomically
    from dbadmin.schema.docs_html import render_html

    pages = schema_docs(target, schemas=schemas).pages(stats=stats)
    write_atomically(path, render_html(pages))
    return len(pages)
