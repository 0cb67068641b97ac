"""After pg_restore: confirm every table's row count and leave the planner its statistics.

Row counts. The restore created every table it loaded (the target had none, or ``--clean``
dropped them first), so the server's cumulative statistics counted each row loaded into them:
for such a table ``n_tup_ins = n_live_tup`` = the rows loaded and ``n_tup_del = 0``, exactly
(counters, not estimates; ``sql/backup/table_counters.sql``). A table whose counters say exactly
the manifest's number is confirmed without a scan. Any other table (counters not flushed yet,
``track_counts`` off, a real difference) is counted with ``count(*)`` before anything is
reported, so a reported mismatch is always a real count, never a counter.

Planner statistics. pg_dump 18 writes them into the backup (``--statistics``) and pg_restore 18
restores them in the restore's own transaction. ANALYZE then runs on every table whose
statistics are missing (vacuumdb ``--missing-stats-only``'s rule: a column, an index expression
or an extended statistics object without statistics; ``sql/backup/table_statistics.sql``) or
stale: ``reltuples`` off the exact count by more than autovacuum's analyze threshold, or the
manifest lists the table as changed since its last ANALYZE on the source. A backup or a target
without statistics support therefore gets a full ANALYZE, as pg_restore's documentation advises.
A table that keeps the restored statistics gets the relation-level figures ANALYZE would record
(``sql/backup/settle_relation_stats.sql``): the restored file's relpages, the exact row count as
reltuples, no page all-visible yet.

``thorough``: count(*) and ANALYZE every table regardless.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dbadmin.backup.catalog import (
    ANALYZE_KINDS,
    STATISTICS_MAJOR,
    TABLE_KINDS,
    count_rows,
    table_key,
    user_relations,
    user_relations_by_size,
    with_user_relations,
)
from dbadmin.errors import DbadminError
from dbadmin.urls import DbUrl

ANALYZE_WORKERS = 2  # ANALYZE sessions in parallel (plus one counting rows)
SESSION_EXIT_WAIT_SECONDS = 5.0  # for the restore's sessions to end (and flush their counters)

Connect = Callable[[DbUrl], Any]


@dataclass(frozen=True)
class TableStatistics:
    table: str  # schema.table
    reltuples: float
    missing: str | None  # what has no statistics ("columns", ...), None when complete
    threshold: float  # autovacuum_analyze_threshold
    scale_factor: float  # autovacuum_analyze_scale_factor

    def stale_for(self, rows: int) -> bool:
        """``reltuples`` is off the exact row count by more rows than autovacuum lets change
        before it re-analyzes (threshold + scale factor * reltuples); never-analyzed tables
        have ``reltuples = -1``."""
        return self.reltuples < 0 or abs(self.reltuples - rows) > (
            self.threshold + self.scale_factor * self.reltuples
        )


@dataclass(frozen=True)
class PostRestore:
    row_counts: dict[str, int]  # exact, for the manifest's tables present in the target
    scanned: tuple[str, ...]  # counted with count(*) (the others: confirmed by the counters)
    analyzed: tuple[str, ...]  # ANALYZEd
    kept_statistics: tuple[str, ...]  # kept the statistics restored from the backup
    count_seconds: float
    analyze_seconds: float


# --- reading -------------------------------------------------------------------------------------
def wait_for_sessions_to_end(cur: Any, application_name: str, timeout: float) -> bool:
    """Wait until no session named ``application_name`` is left (the restore's own sessions,
    which may still be exiting after pg_restore has: a backend flushes its counters before it
    leaves pg_stat_activity). False on timeout; the counters are then checked anyway, and a
    table they cannot confirm is counted with count(*)."""
    deadline = time.monotonic() + timeout
    while True:
        cur.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            (application_name,),
        )
        if not cur.fetchone()[0]:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.002)


def confirmed_by_counters(cur: Any, expected: Mapping[str, int]) -> dict[str, int]:
    """The tables whose insert counters say exactly the expected number of rows."""
    cur.execute(with_user_relations("table_counters"), {"relkinds": list(TABLE_KINDS)})
    confirmed: dict[str, int] = {}
    for schema, name, live, inserted, deleted in cur.fetchall():
        key = table_key(schema, name)
        if key in expected and live == inserted == expected[key] and deleted == 0:
            confirmed[key] = expected[key]
    return confirmed


def table_statistics(cur: Any) -> dict[str, TableStatistics]:
    cur.execute(with_user_relations("table_statistics"), {"relkinds": list(ANALYZE_KINDS)})
    found: dict[str, TableStatistics] = {}
    for schema, name, reltuples, columns, expressions, extended, threshold, scale in cur:
        missing = [
            what
            for what, flag in (
                ("columns", columns),
                ("index expressions", expressions),
                ("extended statistics", extended),
            )
            if flag
        ]
        key = table_key(schema, name)
        found[key] = TableStatistics(
            key, float(reltuples), ", ".join(missing) or None, float(threshold), float(scale)
        )
    return found


def needs_analyze(
    stats: TableStatistics, rows: int | None, stale_on_source: Collection[str]
) -> bool:
    """Missing, stale by its row count (when known), or stale on the source."""
    return (
        stats.missing is not None
        or stats.table in stale_on_source
        or (rows is not None and stats.stale_for(rows))
    )


def settle_relation_stats(cur: Any, rows: Mapping[tuple[str, str], int]) -> None:
    """Relation-level statistics of tables that keep the backup's column statistics: relpages
    of the restored file, the exact reltuples, nothing all-visible yet (PostgreSQL 18+)."""
    if rows:
        from dbadmin import sql as sql_files

        cur.execute(
            sql_files.load("backup", "settle_relation_stats", 0),
            {
                "schemas": [schema for schema, _ in rows],
                "names": [name for _, name in rows],
                "rows": [float(n) for n in rows.values()],
            },
        )


# --- ANALYZE -------------------------------------------------------------------------------------
def analyze_groups(
    cur: Any, workers: int, only: Collection[str] | None = None
) -> list[list[tuple[str, str]]]:
    """The database's own tables (``only`` these ``schema.table`` names when given; never the
    system catalogs, which the restore did not change), split into up to ``workers`` groups of
    similar size."""
    groups: list[list[tuple[str, str]]] = [[] for _ in range(max(1, workers))]
    sizes = [0] * len(groups)
    for schema, table, size in user_relations_by_size(cur, ANALYZE_KINDS):
        if only is not None and table_key(schema, table) not in only:
            continue
        lightest = sizes.index(min(sizes))  # biggest first, each to the lightest group
        groups[lightest].append((schema, table))
        sizes[lightest] += size
    return [g for g in groups if g]


def analyze_tables(cur: Any, tables: Sequence[tuple[str, str]]) -> None:
    from psycopg2 import sql

    if tables:
        names = [sql.SQL("{}.{}").format(sql.Identifier(s), sql.Identifier(t)) for s, t in tables]
        cur.execute(sql.SQL("ANALYZE {}").format(sql.SQL(", ").join(names)))


class ParallelAnalyze:
    """One ANALYZE statement per group, each group in its own session, all started at once;
    :meth:`join` waits for them and returns how long the slowest took."""

    def __init__(
        self, url: DbUrl, connect: Connect, groups: Sequence[Sequence[tuple[str, str]]]
    ) -> None:
        self.failures: list[BaseException] = []
        self._started = time.monotonic()
        self._ended: list[float] = []
        self._threads = [
            threading.Thread(target=self._run, args=(url, connect, g), daemon=True) for g in groups
        ]
        for thread in self._threads:
            thread.start()

    def _run(self, url: DbUrl, connect: Connect, tables: Sequence[tuple[str, str]]) -> None:
        try:
            conn = connect(url)
            try:
                with conn.cursor() as cur:
                    analyze_tables(cur, tables)
            finally:
                conn.close()
        except BaseException as exc:  # reported by the caller, after join()
            self.failures.append(exc)
        self._ended.append(time.monotonic())

    def join(self) -> float:
        for thread in self._threads:
            thread.join()
        return max(self._ended, default=self._started) - self._started


# --- the whole step ------------------------------------------------------------------------------
def after_restore(
    url: DbUrl,
    expected: Mapping[str, int],
    *,
    stale_on_source: Collection[str] = (),
    thorough: bool = False,
    analyze: bool = True,
    workers: int = ANALYZE_WORKERS,
    connect: Connect,
    server_major: int,
    restore_sessions: str | None = None,
) -> PostRestore:
    """Exact counts of the manifest's tables, and ANALYZE where the statistics need it.

    The ANALYZE sessions and the count(*) session run at the same time. A table that had to be
    counted and whose restored statistics are complete is analyzed afterwards if its count
    shows them stale; the tables that keep the restored statistics get the relation figures
    ANALYZE would record (PostgreSQL 18+: ``server_major``). ``restore_sessions``: the
    application_name of the restore's own sessions, waited out before the counters are read.
    """
    from dbadmin.db import translate_db_error

    conn = connect(url)
    analyzer: ParallelAnalyze | None = None
    try:
        with conn.cursor() as cur:
            present = [
                (schema, table)
                for schema, table in user_relations(cur, TABLE_KINDS)
                if table_key(schema, table) in expected
            ]
            if restore_sessions and not thorough:
                wait_for_sessions_to_end(cur, restore_sessions, SESSION_EXIT_WAIT_SECONDS)
            confirmed = {} if thorough else confirmed_by_counters(cur, expected)
            to_scan = [(s, t) for s, t in present if table_key(s, t) not in confirmed]
            stats = table_statistics(cur) if analyze else {}
            first = {
                key
                for key, st in stats.items()
                if thorough or needs_analyze(st, confirmed.get(key), stale_on_source)
            }
            groups = analyze_groups(cur, workers, first) if first else []
            analyzer = ParallelAnalyze(url, connect, groups)  # while this session counts
            counted = time.monotonic()
            scanned = count_rows(cur, to_scan)
            count_seconds = time.monotonic() - counted
            # tables counted just now whose complete statistics the count shows stale
            second = [
                key
                for key, rows in scanned.items()
                if key in stats and key not in first and needs_analyze(stats[key], rows, ())
            ]
            analyze_seconds = analyzer.join()
            if analyzer.failures:
                raise analyzer.failures[0]  # translated below, as this session's errors are
            by_key = {table_key(s, t): (s, t) for s, t in present}
            if second:
                started = time.monotonic()
                analyze_tables(cur, [by_key[key] for key in second])
                analyze_seconds += time.monotonic() - started
            exact = {**confirmed, **scanned}
            kept = sorted(set(stats) - first - set(second))
            if kept and server_major >= STATISTICS_MAJOR:
                settle_relation_stats(cur, {by_key[k]: exact[k] for k in kept if k in exact})
    except DbadminError:
        raise
    except Exception as exc:
        raise translate_db_error(exc, url) from exc
    finally:
        if analyzer is not None:
            analyzer.join()
        conn.close()
    return PostRestore(
        row_counts=exact,
        scanned=tuple(sorted(scanned)),
        analyzed=tuple(sorted(first | set(second))),
        kept_statistics=tuple(kept),
        count_seconds=round(count_seconds, 3),
        analyze_seconds=round(analyze_seconds, 3),
    )
