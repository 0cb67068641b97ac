"""What a seed fills and with how many rows: reflection, partitions, counts and limits.

Partitions are not seeded on their own: rows go through the partitioned table, and foreign keys
declared on a partition are honoured as if declared on it. Every table's limit (what its
unique keys' types and CHECKs allow) is checked before anything is written: an explicit
``--rows`` above it is a usage error (exit 2), a profile's or a parent's count is lowered to it
with a note; never a silent cap.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING

from dbadmin.errors import UsageError
from dbadmin.seed import names

if TYPE_CHECKING:
    from sqlalchemy import ForeignKeyConstraint, MetaData, Table

    from dbadmin.seed.catalog import Catalog
    from dbadmin.seed.like import SourceStats
    from dbadmin.seed.run import SeedRequest
    from dbadmin.seed.tables import GenericTable
    from dbadmin.settings import Settings

# rows per table at --scale 1; `load` reaches a million messages
APP_COUNTS: dict[str, dict[str, int]] = {
    "dev": {
        "users": 50,
        "modules": 4,
        "chapters": 24,
        "content_metadata": 120,
        "embeddings": 600,
        "tasks": 400,
        "conversations": 200,
        "messages": 2_000,
        "chapter_progress": 300,
        "analytics": 3_000,
    },
    "demo": {
        "users": 500,
        "modules": 8,
        "chapters": 64,
        "content_metadata": 500,
        "embeddings": 5_000,
        "tasks": 5_000,
        "conversations": 4_000,
        "messages": 50_000,
        "chapter_progress": 6_000,
        "analytics": 60_000,
    },
    "load": {
        "users": 20_000,
        "modules": 12,
        "chapters": 120,
        "content_metadata": 2_000,
        "embeddings": 50_000,
        "tasks": 200_000,
        "conversations": 100_000,
        "messages": 1_000_000,
        "chapter_progress": 150_000,
        "analytics": 1_000_000,
    },
}
GENERIC_COUNTS = {"dev": 100, "demo": 1_000, "load": 20_000}
OWN_TABLES = frozenset({"alembic_version", "dbadmin_migrations"})


def reflect(settings: Settings, schema: str | None) -> MetaData:
    from sqlalchemy import MetaData
    from sqlalchemy import exc as sa_exc

    from dbadmin.db import make_engine

    metadata = MetaData(schema=schema)
    engine = make_engine(settings)
    try:
        with warnings.catch_warnings():
            # "Did not recognize type ...": such columns are reported per table instead
            warnings.simplefilter("ignore", category=sa_exc.SAWarning)
            metadata.reflect(engine, schema=schema)
    finally:
        engine.dispose()
    return metadata


def seedable_tables(metadata: MetaData, catalog: Catalog | None) -> dict[str, Table]:
    """Seedable tables by name: the metadata's own schema only (reflection also pulls in tables
    of other schemas that foreign keys point at; those are read, not seeded)."""
    found: dict[str, Table] = {}
    for table in metadata.tables.values():
        if table.name in OWN_TABLES or table.name.startswith("dbadmin_"):
            continue
        if table.schema != metadata.schema:
            continue
        info = catalog.tables.get(table.name) if catalog else None
        if info is not None and info.is_partition:
            continue  # loaded through its partitioned table
        found.setdefault(table.name, table)
    return dict(sorted(found.items()))


def parents_of(table: Table) -> set[str]:
    return {fk.referred_table.name for fk in table.foreign_key_constraints} - {table.name}


def counts_for(
    tables: Mapping[str, Table],
    request: SeedRequest,
    mode: str,
    existing: Mapping[str, int],
    notes: dict[str, list[str]],
) -> tuple[dict[str, int], dict[str, str]]:
    """Rows per table: the profile's, or ``--rows`` plus parents in proportion; small lookup
    tables (languages, statuses...) stay small unless asked for."""
    from dbadmin.seed.app import GENERATORS

    app_base = APP_COUNTS[request.profile]

    def base(name: str) -> float:
        if mode == "app" and name in GENERATORS and name in app_base:
            return app_base[name] * request.scale
        return GENERIC_COUNTS[request.profile] * request.scale

    counts: dict[str, int] = {}
    reasons: dict[str, str] = {}
    if not request.rows:
        for name in tables:
            counts[name] = max(1, round(base(name)))
            reasons[name] = f"profile {request.profile}"
            _keep_small(name, mode, counts, reasons, notes)
        return counts, reasons
    for name, n in request.rows.items():
        counts[name] = n
        reasons[name] = "--rows"
    # parents in proportion: the biggest factor of any explicit descendant wins
    factors: dict[str, float] = {}

    def visit(name: str, factor: float, child: str) -> None:
        for parent in sorted(parents_of(tables[name])):
            if parent not in tables or parent in request.rows:
                continue
            if factor > factors.get(parent, -1.0):  # raised: its own parents follow (once)
                factors[parent] = factor
                reasons[parent] = f"parent of {child}"
                visit(parent, factor, child)

    for name, n in request.rows.items():
        visit(name, n / base(name) if base(name) else 1.0, name)
    for parent, factor in factors.items():
        if request.append and existing[parent] > 0:
            counts[parent] = 0
            reasons[parent] = "existing rows reused (--append)"
        else:
            counts[parent] = max(1, math.ceil(base(parent) * factor)) if factor > 0 else 0
            _keep_small(parent, mode, counts, reasons, notes)
    return counts, reasons


def counts_like(
    tables: Mapping[str, Table],
    request: SeedRequest,
    like: SourceStats,
    notes: dict[str, list[str]],
) -> tuple[dict[str, int], dict[str, str]]:
    """--like: the source's row estimates times --scale (--rows still wins)."""
    counts: dict[str, int] = {}
    reasons: dict[str, str] = {}
    for name in tables:
        if name in request.rows:
            counts[name], reasons[name] = request.rows[name], "--rows"
            continue
        estimate = like.rows.get(name)
        if estimate is None or estimate < 0:
            counts[name] = 0
            reasons[name] = "like: no statistics in the source (never analysed, or missing)"
            continue
        counts[name] = round(estimate * request.scale)
        reasons[name] = f"like: {estimate:,.0f} rows in the source x {request.scale:g}"
    return counts, reasons


def _keep_small(
    name: str,
    mode: str,
    counts: dict[str, int],
    reasons: dict[str, str],
    notes: dict[str, list[str]],
) -> None:
    from dbadmin.seed.app import GENERATORS

    app_table = mode == "app" and name in GENERATORS
    if not app_table and names.is_lookup_table(name) and counts[name] > names.LOOKUP_ROWS:
        counts[name] = names.LOOKUP_ROWS
        reasons[name] += f" (a lookup table: {names.LOOKUP_ROWS} rows)"
        notes.setdefault(name, []).append(f"a lookup table: kept at {names.LOOKUP_ROWS} rows")


def adopt_partition_fks(tables: Mapping[str, Table], metadata: MetaData, catalog: Catalog) -> None:
    """Copy foreign keys declared on partitions onto their partitioned table (every row may
    land in such a partition, so every row honours them)."""
    from sqlalchemy import ForeignKeyConstraint

    by_name = {t.name: t for t in metadata.tables.values() if t.schema == metadata.schema}
    for name, table in tables.items():
        if name not in catalog.partitions:
            continue
        seen = {_fk_signature(fk) for fk in table.foreign_key_constraints}
        for child in catalog.partition_tree(name):
            part = by_name.get(child)
            if part is None:
                continue
            for fk in sorted(
                part.foreign_key_constraints,
                key=lambda f: f.name if isinstance(f.name, str) else "",
            ):
                signature = _fk_signature(fk)
                if signature in seen or any(e.parent.name not in table.c for e in fk.elements):
                    continue
                seen.add(signature)
                table.append_constraint(
                    ForeignKeyConstraint(
                        [e.parent.name for e in fk.elements],
                        [e.column for e in fk.elements],
                        name=f"{fk.name} (on partition {child})",
                    )
                )


def _fk_signature(fk: ForeignKeyConstraint) -> tuple[tuple[str, ...], str, tuple[str, ...]]:
    elements = fk.elements
    return (
        tuple(e.parent.name for e in elements),
        fk.referred_table.fullname,
        tuple(e.column.name for e in elements),
    )


def apply_limits(
    sources: Mapping[str, GenericTable],
    tables: Mapping[str, Table],
    order: list[Table],
    counts: dict[str, int],
    reasons: dict[str, str],
    existing: Mapping[str, int],
    explicit: Mapping[str, int],
    notes: dict[str, list[str]],
) -> None:
    """Parents first: each table's count against what its unique keys can hold."""
    for table in order:
        source = sources.get(table.name)
        if source is None or counts.get(table.name, 0) == 0:
            continue
        parent_rows = {
            t.fullname: counts.get(name, 0) + existing.get(name, 0) for name, t in tables.items()
        }
        limit = source.limit(parent_rows, existing.get(table.name, 0))
        if limit is None or counts[table.name] <= limit[0]:
            continue
        room, why = limit
        if table.name in explicit:
            raise UsageError(
                f"--rows {table.name}={explicit[table.name]:,} is more than the table can "
                f"hold: {why}",
                f"ask for at most {room:,} rows, or widen the column",
            )
        counts[table.name] = room
        reasons[table.name] += f" (lowered to {room:,})"
        notes.setdefault(table.name, []).append(f"lowered to {room:,} rows: {why}")
