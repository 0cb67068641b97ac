"""Plan and run a seed: profiles, row counts, safety checks, then the COPY loader.

``plan_seed`` connects, checks (migration head, table names, non-empty tables) and decides how
many rows each table gets; it changes nothing, so the CLI can ask for confirmation before
``run_seed`` truncates (``--reset``) and loads.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from dbadmin.errors import UsageError
from dbadmin.migrate.lock import AdvisoryLock, LockHolder
from dbadmin.seed import planning
from dbadmin.seed.load import (
    DbReader,
    SeedProgress,
    TableResult,
    load_sources,
    refresh_matviews,
    truncate,
    truncate_closure,
)
from dbadmin.seed.ordering import order_tables
from dbadmin.seed.tables import GenericTable
from dbadmin.seed.text import TimeFormatter, to_ms
from dbadmin.seed.values import Unfillable

if TYPE_CHECKING:
    import psycopg2.extensions
    from sqlalchemy import Table

    from dbadmin.seed.catalog import Catalog
    from dbadmin.seed.like import SourceStats
    from dbadmin.settings import Settings

PROFILES = ("minimal", "dev", "demo", "load")

DEFAULT_BATCH_SIZE = 10_000
# tables the app generators read without a foreign key: load those first when seeded together
SOFT_PARENTS = {
    "analytics": ("users", "conversations"),
    "content_metadata": ("chapters",),
    "embeddings": ("chapters",),
    "messages": ("chapters",),
}


@dataclass(frozen=True)
class SeedRequest:
    profile: str = "dev"
    scale: float = 1.0
    rows: Mapping[str, int] = field(default_factory=dict)
    seed: int = 1
    now: dt.datetime | None = None
    reset: bool = False
    append: bool = False
    batch_size: int = DEFAULT_BATCH_SIZE
    lock_wait: float = 60.0  # seconds to wait for another seed's lock (then exit 4)
    from_database: bool = False
    schema: str | None = None  # --from-database: which schema to reflect (default: public)
    rebuild_indexes: bool = True  # big loads into empty tables: indexes/FKs re-created after
    like: str | None = None  # --like SOURCE_URL: match the source's planner statistics
    no_values: bool = False  # --like --no-values: no text value copied from the source


@dataclass(frozen=True)
class PlannedTable:
    table: str
    rows: int
    existing: int
    reason: str  # "profile", "--rows", "parent of messages", "existing rows reused"
    notes: tuple[str, ...] = ()  # count lowered to what the table holds, lookup table kept small


@dataclass(frozen=True)
class SeedPlan:
    request: SeedRequest
    mode: str  # "app" (models + realistic generators) or "generic" (reflected schema)
    now: dt.datetime
    tables: tuple[PlannedTable, ...]
    truncate: tuple[str, ...]  # what --reset empties (TRUNCATE ... CASCADE closure)
    unfillable: tuple[tuple[str, str], ...]
    metadata: Any = field(repr=False, compare=False, default=None)
    # what run_seed needs from the planning: seedable tables by name, and per table (fullname)
    # the foreign keys filled with NULL to break cycles
    seedable: Mapping[str, Table] = field(repr=False, compare=False, default_factory=dict)
    null_fks: Mapping[str, frozenset[str]] = field(repr=False, compare=False, default_factory=dict)
    catalog: Catalog | None = field(repr=False, compare=False, default=None)
    like: SourceStats | None = field(repr=False, compare=False, default=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.request.profile,
            "mode": self.mode,
            "seed": self.request.seed,
            "now": self.now.isoformat(),
            "tables": [t.__dict__ for t in self.tables],
            "truncate": list(self.truncate),
        }


@dataclass(frozen=True)
class SeedResult:
    profile: str
    mode: str
    seed: int
    now: dt.datetime
    tables: tuple[TableResult, ...]
    truncated: tuple[str, ...]
    seconds: float
    refreshed: tuple[str, ...] = ()  # materialized views refreshed after the load

    @property
    def total_rows(self) -> int:
        return sum(t.rows for t in self.tables)

    @property
    def unfillable(self) -> tuple[TableResult, ...]:
        return tuple(t for t in self.tables if t.status == "unfillable")

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "mode": self.mode,
            "seed": self.seed,
            "now": self.now.isoformat(),
            "truncated": list(self.truncated),
            "tables": [
                {
                    "table": t.table,
                    "rows": t.rows,
                    "seconds": round(t.seconds, 3),
                    "rows_per_second": round(t.rows_per_second),
                    "status": t.status,
                    "reason": t.reason,
                    "notes": list(t.notes),
                }
                for t in self.tables
            ],
            "total_rows": self.total_rows,
            "seconds": round(self.seconds, 3),
            "unfillable": [{"table": t.table, "reason": t.reason} for t in self.unfillable],
            "refreshed": list(self.refreshed),
        }


def default_now() -> dt.datetime:
    """Today 00:00 UTC: runs on the same day with the same seed give identical data."""
    return dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def parse_rows(items: Sequence[str]) -> dict[str, int]:
    """``["messages=300000", ...]`` -> counts; malformed or negative counts are usage errors."""
    rows: dict[str, int] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--rows {item!r} is not TABLE=N", "write e.g. --rows messages=300000")
        try:
            count = int(raw.strip().replace("_", ""))
        except ValueError:
            raise UsageError(
                f"--rows {item!r}: {raw!r} is not a whole number", "write e.g. --rows users=100"
            ) from None
        if count < 0:
            raise UsageError(f"--rows {item!r}: the row count must not be negative")
        rows[name] = count
    return rows


def validate_request(request: SeedRequest) -> None:
    """Usage errors in a request, found without a database (the CLI checks before it connects)."""
    if request.profile not in PROFILES:
        raise UsageError(
            f"unknown profile {request.profile!r}", f"choose one of {', '.join(PROFILES)}"
        )
    if not request.scale > 0 or not math.isfinite(request.scale):
        raise UsageError(f"--scale {request.scale} must be a positive number")
    if not request.lock_wait >= 0 or not math.isfinite(request.lock_wait):
        raise UsageError(f"--lock-wait {request.lock_wait} must be a number of seconds >= 0")
    if request.batch_size < 1:
        raise UsageError(f"--batch-size {request.batch_size} must be at least 1")
    if request.reset and request.append:
        raise UsageError("--reset and --append contradict each other", "pass one of them")
    if request.no_values and not request.like:
        raise UsageError("--no-values only applies with --like SOURCE_URL")
    if request.profile == "minimal" and (request.rows or request.from_database or request.like):
        raise UsageError(
            "the minimal profile inserts fixed records; --rows/--from-database do not apply",
            "use --profile dev/demo/load with --rows",
        )


def check_at_head(conn: psycopg2.extensions.connection, settings: Settings) -> None:
    """The app profiles need the schema the models describe: refuse unless at the head."""
    from dbadmin.migrate.heads import script_heads
    from dbadmin.migrate.runner import database_heads

    heads = set(script_heads(settings))
    with conn.cursor() as cur:
        current = set(database_heads(cur))
    conn.rollback()
    if current != heads:
        shown = ", ".join(sorted(current)) or "no revision (empty or unmanaged schema)"
        raise UsageError(
            f"the database is not at the migration head (current: {shown}; "
            f"head: {', '.join(sorted(heads))})",
            "migrate first: dbadmin migrate up (or seed any schema with --from-database)",
        )


def plan_seed(settings: Settings, request: SeedRequest) -> SeedPlan:
    """Decide what to seed; raises UsageError for anything the user must fix first (including
    more rows than a table's unique keys can hold: nothing is written then)."""
    from dbadmin.db import raw_connection
    from dbadmin.seed.catalog import read_catalog

    validate_request(request)
    now = request.now or default_now()
    with raw_connection(settings) as conn:
        if request.from_database or request.like:
            metadata = planning.reflect(settings, request.schema)
            mode = "generic"
        else:
            from dbadmin.migrate.models import load_metadata

            check_at_head(conn, settings)
            metadata = load_metadata(settings)
            mode = "app"
        reader = DbReader(conn)
        catalog = read_catalog(
            conn, metadata.schema or reader.rows("SELECT current_schema()")[0][0]
        )
        tables = planning.seedable_tables(metadata, catalog)
        planning.adopt_partition_fks(tables, metadata, catalog)
        unknown = [name for name in request.rows if name not in tables]
        if unknown:
            partitions = [u for u in unknown if u in catalog.tables]
            raise UsageError(
                f"--rows names unknown table {', '.join(repr(u) for u in unknown)}"
                + (f" ({', '.join(partitions)}: a partition, seeded through its table)"
                   if partitions else ""),
                f"tables: {', '.join(tables) or '(none)'}",
            )  # fmt: skip
        existing = {name: reader.count(t) for name, t in tables.items()}
        conn.rollback()
        if request.profile == "minimal":
            from dbadmin.seed.minimal import TABLES

            fixed = [tables[name] for name in TABLES if name in tables]
            emptied = truncate_closure(conn, fixed) if request.reset else []
            return SeedPlan(request, mode, now, (), tuple(emptied), (), metadata)
        notes: dict[str, list[str]] = {}
        like = _read_like(settings, request, catalog.schema)
        if like is not None:
            counts, reasons = planning.counts_like(tables, request, like, notes)
        else:
            counts, reasons = planning.counts_for(tables, request, mode, existing, notes)
        chosen = [tables[name] for name, n in counts.items() if n > 0]
        busy = [name for name, n in counts.items() if n > 0 and existing[name] > 0]
        if busy and not (request.append or request.reset):
            listed = ", ".join(f"{n} ({existing[n]} rows)" for n in busy)
            raise UsageError(
                f"refusing to seed tables that already have rows: {listed}",
                "pass --append to add to them, or --reset to empty them first",
            )
        to_truncate = truncate_closure(conn, chosen) if request.reset else []
    order = order_tables(chosen, SOFT_PARENTS)
    null_fks = order.null_fks
    if order.unfillable:
        # a cycle broken while unfillable tables were still waiting may point at one of them:
        # the NULL-filled keys are those of the tables actually loaded
        null_fks = order_tables(order.tables, SOFT_PARENTS).null_fks
    partial = SeedPlan(request, mode, now, (), (), (), metadata, tables, null_fks, catalog, like)
    unfillable = dict(order.unfillable)
    sources: dict[str, GenericTable] = {}
    for table in order.tables:
        try:
            source = _source(partial, table, counts[table.name])
        except Unfillable as exc:
            unfillable[table.name] = str(exc)
            continue
        if isinstance(source, GenericTable):
            sources[table.name] = source
    if not request.append:
        existing_now = {name: 0 if request.reset else n for name, n in existing.items()}
    else:
        existing_now = existing
    planning.apply_limits(
        sources, tables, order.tables, counts, reasons, existing_now, request.rows, notes
    )
    planned = tuple(
        PlannedTable(
            t.name, counts[t.name], existing[t.name], reasons[t.name], tuple(notes.get(t.name, ()))
        )
        for t in order.tables
        if t.name not in unfillable
    )
    return replace(
        partial,
        tables=planned,
        truncate=tuple(to_truncate),
        unfillable=tuple(sorted(unfillable.items())),
    )


def _source(plan: SeedPlan, table: Table, rows: int, times: TimeFormatter | None = None) -> Any:
    """The generator of one table: the app's realistic one, else the generic one."""
    from dbadmin.seed.app import GENERATORS

    times = times or TimeFormatter()
    now_ms = to_ms(plan.now)
    if plan.mode == "app" and table.name in GENERATORS:
        return GENERATORS[table.name](
            table, rows, seed=plan.request.seed, now_ms=now_ms, times=times
        )
    assert plan.catalog is not None
    info = plan.catalog.tables.get(table.name)
    if info is None:
        raise Unfillable(f"table {table.name} of the models is not in the database")
    return GenericTable(
        table,
        rows,
        seed=plan.request.seed,
        now_ms=now_ms,
        info=info,
        catalog=plan.catalog,
        null_fks=plan.null_fks.get(table.fullname, frozenset()),
        times=times,
        stats=plan.like.of(table.name) if plan.like else None,
        no_values=plan.request.no_values,
        dependencies=plan.like.dependencies.get(table.name, ()) if plan.like else (),
    )


def _read_like(settings: Settings, request: SeedRequest, schema: str) -> SourceStats | None:
    if not request.like:
        return None
    from dbadmin.seed.like import read_source_stats
    from dbadmin.urls import DbUrl

    try:
        source = DbUrl.parse(request.like).secure()
    except ValueError as exc:
        raise UsageError(f"--like: {exc}", "give the source database's URL") from None
    return read_source_stats(settings, source, schema)


class SeedLock(AdvisoryLock):
    """One seed per database at a time: a second seed waits (``--lock-wait``), then plans again
    against what the first one loaded, exactly as a seed started after it would."""

    objid = 0x73656564  # "seed" (under dbadmin's classid; migrations use "migr")
    label = "seed"
    purpose = "seeding"
    application_name = "dbadmin-seed"


def run_seed(
    settings: Settings,
    plan: SeedPlan,
    progress: SeedProgress | None = None,
    *,
    on_lock_wait: Callable[[LockHolder | None], None] | None = None,
) -> SeedResult:
    """Take the seed lock, then truncate (--reset) and load every planned table in ONE
    transaction: a seed killed at any instant leaves the database as an unstarted run would.

    Raises OperationTimeout (exit 4) when another seed holds the lock past ``lock_wait``; a seed
    that waited re-plans against the rows the other one committed (and so refuses non-empty
    tables unless --append/--reset, as any later seed does).
    """
    with SeedLock(settings, wait=plan.request.lock_wait, on_wait=on_lock_wait):
        if _changed_meanwhile(settings, plan):
            plan = plan_seed(settings, replace(plan.request, now=plan.now))
        return _run_locked(settings, plan, progress)


def _changed_meanwhile(settings: Settings, plan: SeedPlan) -> bool:
    """Did rows appear or go in the planned tables between planning and taking the lock?"""
    from dbadmin.db import raw_connection

    if plan.request.reset or plan.request.profile == "minimal" or not plan.tables:
        return False  # emptied first / idempotent inserts: the plan holds whatever happened
    with raw_connection(settings) as conn:
        reader = DbReader(conn)
        return any(reader.count(plan.seedable[t.table]) != t.existing for t in plan.tables)


def _run_locked(settings: Settings, plan: SeedPlan, progress: SeedProgress | None) -> SeedResult:
    from dbadmin.db import raw_connection

    request = plan.request
    started = time.perf_counter()
    if request.profile == "minimal":
        from dbadmin.seed.minimal import seed_minimal

        with raw_connection(settings) as conn:
            if request.reset:
                truncate(conn, plan.truncate)
            minimal = seed_minimal(conn, plan.metadata, plan.now)
        return SeedResult(
            "minimal",
            plan.mode,
            request.seed,
            plan.now,
            tuple(minimal),
            plan.truncate,
            _since(started),
        )
    tables = plan.seedable
    times = TimeFormatter()
    results: list[TableResult] = [
        TableResult(name, 0, 0.0, "unfillable", reason) for name, reason in plan.unfillable
    ]
    sources: list[Any] = []
    for planned in plan.tables:
        try:
            source = _source(plan, tables[planned.table], planned.rows, times)
            source.notes[:0] = planned.notes
            sources.append(source)
        except Unfillable as exc:
            results.append(TableResult(planned.table, 0, 0.0, "unfillable", str(exc)))
    failed = {tables[r.table].fullname for r in results if r.table in tables}
    refreshed: list[str] = []
    with raw_connection(settings) as conn:
        if request.reset:
            truncate(conn, plan.truncate)
        loaded = load_sources(
            conn,
            sources,
            batch_size=request.batch_size,
            progress=progress,
            rebuild_indexes=request.rebuild_indexes,
            failed=failed,
            catalog=plan.catalog,
        )
        if plan.catalog is not None and any(r.rows for r in loaded):
            refreshed = refresh_matviews(conn, plan.catalog)
        if plan.like is not None:
            # VACUUM marks a page all-visible only once the commits of its rows are flushed,
            # and a clog page shares one LSN: this commit and the ANALYZEs after it are flushed
            with conn.cursor() as cur:
                cur.execute("SET synchronous_commit = on")
        conn.commit()
        if plan.like is not None:
            from dbadmin.seed.like import vacuum_like

            seeded = [tables[r.table] for r in loaded if r.rows and r.table in tables]
            vacuum_like(conn, plan.like, seeded)
    results.extend(loaded)
    position = {p.table: i for i, p in enumerate(plan.tables)}
    results.sort(key=lambda r: position.get(r.table, -1))
    return SeedResult(
        request.profile,
        plan.mode,
        request.seed,
        plan.now,
        tuple(results),
        plan.truncate,
        _since(started),
        tuple(refreshed),
    )


def _since(started: float) -> float:
    return time.perf_counter() - started


__all__ = [
    "PROFILES",
    "SeedPlan",
    "SeedRequest",
    "SeedResult",
    "check_at_head",
    "default_now",
    "parse_rows",
    "plan_seed",
    "run_seed",
]
