"""``--like SOURCE_URL``: data whose planner statistics match a source database's.

Only statistics are read from the source, never a table row: ``pg_class.reltuples`` (row
counts, times ``--scale``) and ``pg_stats`` (``null_frac``, ``n_distinct``,
``most_common_vals``/``most_common_freqs``, ``histogram_bounds``, ``correlation``,
``avg_width``). A column with statistics is generated to reproduce them: NULLs at
``null_frac``, each most common value at its frequency, and the rest spread evenly over as many
other values as ``n_distinct`` says, taken from the histogram's buckets (ordered types:
anywhere inside a bucket, and in row order when the source's ``correlation`` says the column
is stored in order). A foreign key keeps the source's fan-out: as many parents have
children as the column has distinct values, the busiest ones with the most common values'
shares. Functional dependencies of extended statistics (``pg_stats_ext``, degree >= 0.8) are
kept: the dependent column becomes a function of the determining ones. ``no_values``: text
values are never copied; each most common value or histogram
bound is replaced by a look-alike of the same length (same value -> same look-alike, so
frequencies hold), for sources that hold personal data.

Reading ``pg_stats`` needs the columns' SELECT privilege or ``pg_read_all_stats``-level
access (a Neon project's owner role has it).
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import random
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dbadmin.seed.columns import ColumnSpec
from dbadmin.seed.copy import NULL, escape
from dbadmin.seed.values import (
    MakerContext,
    Values,
    draw_raw,
    format_raw,
    make_values,
    parse_raw,
)

if TYPE_CHECKING:
    from sqlalchemy import Table

    from dbadmin.settings import Settings
    from dbadmin.urls import DbUrl

ORDERED = {"int", "numeric", "money", "float", "date", "timestamp", "timestamptz"}
TEXT_KINDS = {"text", "char"}

STATS_SQL = """
SELECT tablename, attname, null_frac, n_distinct,
       most_common_vals::text::text[], most_common_freqs::float8[],
       histogram_bounds::text::text[], correlation, avg_width
FROM pg_stats WHERE schemaname = %s AND NOT inherited
"""
STATS_INHERITED_SQL = STATS_SQL.replace("AND NOT inherited", "AND inherited")
ROWS_SQL = """
SELECT c.relname, c.reltuples, c.relkind, c.relpages, c.relallvisible
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND NOT c.relispartition
"""
# functional dependencies of CREATE STATISTICS objects, with the table's attnum -> name map
DEPENDENCIES_SQL = """
SELECT e.tablename, e.dependencies::text,
       (SELECT json_object_agg(a.attnum, a.attname) FROM pg_attribute a
        WHERE a.attrelid = format('%%I.%%I', e.schemaname, e.tablename)::regclass AND a.attnum > 0)
FROM pg_stats_ext e WHERE e.schemaname = %s AND e.dependencies IS NOT NULL
"""
DEPENDENCY_MIN = 0.8  # weaker dependencies are left to chance
VISIBLE_MIN = 0.5  # a source table this much all-visible has been vacuumed: so is the copy
PARTITION_ROWS_SQL = """
SELECT p.relname, sum(GREATEST(c.reltuples, 0))
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
JOIN pg_namespace n ON n.oid = p.relnamespace
WHERE n.nspname = %s AND c.relkind = 'r'
GROUP BY p.relname
"""


@dataclass(frozen=True)
class ColumnStats:
    null_frac: float
    n_distinct: float  # > 0: a count; < 0: minus the fraction of rows
    mcv: tuple[str, ...]
    mcf: tuple[float, ...]
    histogram: tuple[str, ...]
    correlation: float | None
    avg_width: int

    def distinct(self, rows: int) -> int:
        non_null = max(rows * (1 - self.null_frac), 0)
        d = self.n_distinct if self.n_distinct > 0 else -self.n_distinct * rows
        return max(1, min(round(d), max(round(non_null), 1)))


@dataclass(frozen=True)
class SourceStats:
    """What --like read: row estimates per table, statistics per (table, column)."""

    source: str  # the source URL, password masked
    rows: Mapping[str, float]  # reltuples; -1: never analysed
    columns: Mapping[tuple[str, str], ColumnStats]
    # pg_stats_ext: table -> (determining columns, dependent column) with degree >= 0.8
    dependencies: Mapping[str, tuple[tuple[tuple[str, ...], str], ...]] = field(
        default_factory=dict
    )

    # pg_class.relallvisible / relpages: how much of each table VACUUM has marked all-visible
    visible: Mapping[str, float] = field(default_factory=dict)

    def of(self, table: str) -> dict[str, ColumnStats]:
        return {c: s for (t, c), s in self.columns.items() if t == table}


def read_source_stats(settings: Settings, source: DbUrl, schema: str) -> SourceStats:
    """Statistics of ``schema`` in the source (read-only; no table row is read)."""
    from dbadmin.db import raw_connection

    columns: dict[tuple[str, str], ColumnStats] = {}
    with raw_connection(settings, url=source) as conn:
        conn.set_session(readonly=True)
        with conn.cursor() as cur:
            cur.execute(ROWS_SQL, (schema,))
            relations = cur.fetchall()
            found = {r[0]: float(r[1]) for r in relations}
            visible = {r[0]: r[4] / r[3] for r in relations if r[3] > 0}
            cur.execute(PARTITION_ROWS_SQL, (schema,))
            for parent, total in cur.fetchall():
                if parent in found and found[parent] <= 0:
                    found[parent] = float(total)
            for sql in (STATS_SQL, STATS_INHERITED_SQL):  # partitioned tables: inherited rows
                cur.execute(sql, (schema,))
                for table, column, nf, nd, mcv, mcf, hist, corr, width in cur.fetchall():
                    columns[(table, column)] = ColumnStats(
                        float(nf or 0),
                        float(nd or 0),
                        tuple(mcv or ()),
                        tuple(float(f) for f in mcf or ()),
                        tuple(hist or ()),
                        None if corr is None else float(corr),
                        int(width or 0),
                    )
            dependencies = _dependencies(cur, schema)
        conn.rollback()
    return SourceStats(source.describe(), found, columns, dependencies, visible)


def _dependencies(cur: Any, schema: str) -> dict[str, tuple[tuple[tuple[str, ...], str], ...]]:
    """Strong functional dependencies from extended statistics, where readable."""
    import psycopg2

    cur.execute("SAVEPOINT dbadmin_like_ext")
    try:
        cur.execute(DEPENDENCIES_SQL, (schema,))
        rows = cur.fetchall()
    except psycopg2.Error:  # no privilege on the view or a table: no dependencies
        cur.execute("ROLLBACK TO SAVEPOINT dbadmin_like_ext")
        return {}
    found: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for table, text, names in rows:
        for key, degree in json.loads(text).items():
            left, _, right = key.partition("=>")
            try:
                deps = tuple(names[n.strip()] for n in left.split(","))
                target = names[right.strip()]
            except KeyError:
                continue
            if float(degree) >= DEPENDENCY_MIN and (deps, target) not in found.get(table, []):
                found.setdefault(table, []).append((deps, target))
    return {t: tuple(d) for t, d in found.items()}


def vacuum_like(conn: Any, like: SourceStats, tables: Sequence[Table]) -> tuple[str, ...]:
    """After the seed commits: VACUUM (ANALYZE) each seeded table that VACUUM has marked
    mostly all-visible in the source (autovacuum's usual state), so the copy's visibility map
    matches (index-only scan costs) and the empty pages COPY's bulk extension leaves at the
    end of a table (PostgreSQL 16+, up to 64 pages, a third of a small table) are cut off:
    the planner costs scans by the table's current size. The vacuumed tables' names."""
    from dbadmin.seed.copy import qualified

    done: list[str] = []
    conn.autocommit = True  # VACUUM cannot run inside a transaction block
    with conn.cursor() as cur:
        for table in tables:
            if like.visible.get(table.name, 0.0) >= VISIBLE_MIN:
                cur.execute(f"VACUUM (ANALYZE) {qualified(table.name, table.schema)}")
                done.append(table.name)
        cur.execute("RESET synchronous_commit")  # set for the seed's commit (see run.py)
    return tuple(done)


def look_alike(value: str) -> str:
    """A stand-in of the same length and shape (letters, digits, separators kept in place),
    the same for the same value, from which the value cannot be read back."""
    digest = hashlib.sha256(value.encode()).digest()
    rng = random.Random(digest)
    out = []
    for ch in value:
        if ch.isdigit():
            out.append(rng.choice(string.digits))
        elif ch.isupper():
            out.append(rng.choice(string.ascii_uppercase))
        elif ch.isalpha():
            out.append(rng.choice(string.ascii_lowercase))
        else:
            out.append(ch)
    text = "".join(out)
    return text if text != value or not any(c.isalnum() for c in value) else text[::-1]


def stats_values(
    spec: ColumnSpec,
    stats: ColumnStats,
    rng: random.Random,
    ctx: MakerContext,
    rows: int,
    no_values: bool,
) -> Values:
    """A column reproducing the source's statistics (see the module docstring)."""
    # values the schema itself lists (enum labels, CHECK ... IN) are not the source's data
    hide = no_values and spec.kind in TEXT_KINDS and spec.domain is None

    def shown(v: str) -> str:
        return escape(look_alike(v) if hide else v)

    mcv = [shown(v) for v in stats.mcv]
    others = max(0 if mcv else 1, stats.distinct(rows) - len(mcv))
    pool, ordered = _pool(spec, stats, rng, ctx, others, shown)
    null_frac = stats.null_frac if spec.nullable else 0.0
    # physical order: a column the source stores in (reverse) order of its values
    # (timestamps of an append-only table) follows the row number through the sorted pool
    corr = stats.correlation or 0.0
    follow = ordered and abs(corr) >= 0.8 and rows > 0
    if follow and corr < 0:
        pool.reverse()
    elif not follow:
        rng.shuffle(pool)

    def placed(row: int) -> str:
        return pool[min(len(pool) - 1, row * len(pool) // rows)]

    return _chooser(stats, rng, null_frac, mcv, pool, NULL, placed if follow else None)


def _pool(
    spec: ColumnSpec,
    stats: ColumnStats,
    rng: random.Random,
    ctx: MakerContext,
    size: int,
    shown: Callable[[str], str],
) -> tuple[list[str], bool]:
    """``size`` distinct values other than the most common ones, from the histogram; and
    whether they are in ascending order (ordered types)."""
    if size == 0:
        return [], False
    taken = set(stats.mcv)
    bounds = [b for b in stats.histogram if b not in taken]
    if spec.kind in ORDERED and len(bounds) >= 2:
        raws = [r for b in bounds if (r := parse_raw(spec, b)) is not None]
        if len(raws) == len(bounds):
            found: set[str] = set()
            picks: list[float] = []
            for _ in range(size * 3):
                k = rng.randrange(len(raws) - 1)
                lo, hi = float(raws[k]), float(raws[k + 1])
                picks.extend(draw_raw(spec, rng, lo, max(lo, hi), 1))
                if len(picks) >= size * 2:
                    break
            picks.sort()
            texts = [t for t in format_raw(spec, ctx, picks) if t not in taken]
            ordered = []
            for t in texts:
                if t not in found:
                    found.add(t)
                    ordered.append(t)
                if len(ordered) == size:
                    break
            if ordered:
                return ordered, True
    pool = [shown(b) for b in bounds[:size]]
    if len(pool) < size and spec.kind in TEXT_KINDS and bounds and _free_text(spec):
        pool += _variants(bounds, size - len(pool), set(pool) | set(stats.mcv))
    if len(pool) < size:  # more distinct values than bounds: generated ones of the same kind
        plain = ColumnSpec(**{**spec.__dict__, "nullable": False, "unique": True})
        extra = make_values(plain, rng, ctx)(0, size - len(pool))
        pool += extra
    return pool, False


def _free_text(spec: ColumnSpec) -> bool:
    """A text column whose CHECKs say nothing of its values' form (look-alikes stay valid)."""
    check = spec.check
    return not (check.values or check.patterns or check.likes or check.lo or check.hi)


def _variants(bounds: list[str], count: int, taken: set[str]) -> list[str]:
    """``count`` new distinct texts, each a look-alike of a histogram bound with that bound's
    length, so the copy's widths (``avg_width``, pages per table) follow the source's rather
    than the generic generator's."""
    out: list[str] = []
    seen = set(taken)
    for i in range(count * 20):
        base = bounds[i % len(bounds)]
        text = escape(look_alike(f"{base}\x00{i}")[: len(base)])
        if text not in seen and any(c.isalnum() for c in base):
            seen.add(text)
            out.append(text)
            if len(out) == count:
                break
    return out


def fk_picker(
    stats: ColumnStats, keys: list[tuple[str, ...]], rows: int, rng: random.Random, nullable: bool
) -> Any:
    """``pick(n)``: ``n`` parent keys (None: NULL) with the source's fan-out. The busiest parents
    take the most common values' shares; the other rows go round-robin over as many further
    parents as ``n_distinct`` says, so each of them has children (a random draw would leave
    about a third of them childless and the copy's ``n_distinct`` short)."""
    active = min(len(keys), stats.distinct(rows))
    order = list(keys)
    rng.shuffle(order)
    top = list(stats.mcf[: min(active, len(stats.mcf))])
    busy, rest = order[: len(top)], order[len(top) : active]
    null_frac = stats.null_frac if nullable else 0.0
    choose = _chooser(stats, rng, null_frac, busy, rest, None)
    return lambda n: choose(0, n)


def _chooser(
    stats: ColumnStats,
    rng: random.Random,
    null_frac: float,
    common: list[Any],
    others: list[Any],
    null: Any,
    placed: Callable[[int], Any] | None = None,
) -> Callable[[int, int], list[Any]]:
    """``choose(start, n)``: ``n`` values for rows from ``start``: ``null`` at ``null_frac``,
    each common value at its frequency, else the others in turn (every one as often), or
    ``placed(row)`` when the column follows the row order."""
    cum = list(itertools.accumulate(stats.mcf[: len(common)]))
    mass = cum[-1] if cum else 0.0
    rand, turn = rng.random, [0]

    def choose(start: int, n: int) -> list[Any]:
        out: list[Any] = []
        for _ in range(n):
            if rand() < null_frac:
                out.append(null)
                continue
            v = rand() * (1 - stats.null_frac)  # the frequencies count the NULL rows too
            if common and (v < mass or not others):
                at = bisect.bisect_left(cum, v if others else v * mass / (1 - stats.null_frac))
                out.append(common[min(at, len(common) - 1)])
            elif placed is not None:
                out.append(placed(start + len(out)))
            else:
                out.append(others[turn[0] % len(others)])
                turn[0] += 1
        return out

    return choose
