"""pg_stat_statements: the top statements now and snapshots for history (``enable.py`` enables it).

Snapshots live in a dbadmin-owned schema of the target database (``dbadmin.pgss_snapshots``,
``dbadmin.pgss_snapshot_rows``, ``dbadmin.pgss_query_texts``), created on first use. dbadmin
never calls ``pg_stat_statements_reset()``: other consumers (PgHero, Datadog, people) keep their
view. Deltas over a window stay correct across a reset, an evicted entry or a server restart
(Neon loses the counters whenever its compute suspends): the series of an entry restarts and the
later value counts in full, so no delta is ever negative (see ``sql/slowlog/delta.sql``).

SQL lives in ``dbadmin/sql/slowlog/*.sql``, loaded like the health checks' (``NAME.NN.sql`` from
major NN on); ``pgss_rows.17.sql`` is used with extension version 1.11+ (PostgreSQL 17+, which
renamed ``blk_read_time`` and added ``stats_since``): the column set follows the installed
extension version, not just the server's (:attr:`Probe.sql_major`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from dbadmin import sql
from dbadmin.db import fetch_one
from dbadmin.errors import ConfigError, ProblemFound, UsageError
from dbadmin.slowlog.nplusone import possible_n_plus_one
from dbadmin.urls import error_line, scrub_sql

if TYPE_CHECKING:
    import psycopg2.extensions

    from dbadmin.settings import Settings

SORTS = ("total", "mean", "calls", "rows", "io", "temp")
# dbadmin's own statements (and anything reading pg_stat_statements) are left out of reports.
_OWN = re.compile(r"pg_stat_statements|\bdbadmin\b", re.IGNORECASE)
_SINCE = re.compile(r"^\s*(\d+)\s*(m|min|h|d|w)\s*$", re.IGNORECASE)


@lru_cache(maxsize=64)
def load_sql(name: str, major: int = 0) -> str:
    """A named statement from sql/slowlog for ``major`` (see :mod:`dbadmin.sql`), with
    ``/*PGSS_ROWS*/`` expanded to that version's pg_stat_statements columns."""
    text = sql.load("slowlog", name, major)
    if "/*PGSS_ROWS*/" in text:
        text = text.replace("/*PGSS_ROWS*/", load_sql("pgss_rows", major).strip() + "\n")
    return text


# --- results -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Probe:
    server_version_num: int
    database: str
    username: str
    superuser: bool
    read_all_stats: bool
    preload: str | None  # None: not visible to this role
    ext_version: str | None
    ext_schema: str | None
    ext_available: str | None
    log_min_duration_statement: str | None
    can_create_schema: bool

    @property
    def preloaded(self) -> bool | None:
        if self.preload is None:
            return None
        return "pg_stat_statements" in [p.strip().strip('"') for p in self.preload.split(",")]

    @property
    def v17(self) -> bool:
        if not self.ext_version:
            return self.server_version_num >= 170000
        parts = tuple(int(p) for p in re.findall(r"\d+", self.ext_version)[:2])
        return parts >= (1, 11)

    @property
    def sql_major(self) -> int:
        """The major version that picks the sql/slowlog files: the server's, but below 17 while
        the installed extension predates 1.11 (its columns are those of PostgreSQL 14-16)."""
        major = self.server_version_num // 10000
        return max(major, 17) if self.v17 else min(major, 16)


@dataclass(frozen=True)
class StatementStats:
    fingerprint: str  # pg_stat_statements queryid
    query: str
    calls: int
    total_ms: float
    mean_ms: float
    max_ms: float | None  # None for deltas (a maximum cannot be differenced)
    stddev_ms: float | None
    rows: int
    hit_pct: float | None  # shared-buffer hit ratio; None when no block was touched
    temp_blks: int
    io_ms: float
    share_pct: float  # share of the total time of all statements in scope
    user: str | None
    database: str | None
    toplevel: bool | None
    possible_n_plus_one: bool = False  # see nplusone.possible_n_plus_one

    def as_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "query": self.query,
            "count": self.calls,
            "calls": self.calls,
            "total_ms": round(self.total_ms, 3),
            "mean_ms": round(self.mean_ms, 3),
            "max_ms": None if self.max_ms is None else round(self.max_ms, 3),
            "stddev_ms": None if self.stddev_ms is None else round(self.stddev_ms, 3),
            "rows": self.rows,
            "hit_pct": None if self.hit_pct is None else round(self.hit_pct, 2),
            "temp_blks": self.temp_blks,
            "io_ms": round(self.io_ms, 3),
            "share_pct": round(self.share_pct, 2),
            "user": self.user,
            "database": self.database,
            "toplevel": self.toplevel,
            "possible_n_plus_one": self.possible_n_plus_one,
        }


@dataclass(frozen=True)
class TopReport:
    source: str  # "pg_stat_statements" (counters since the last reset) or "snapshots" (deltas)
    database: str
    all_databases: bool
    server_version_num: int
    sort: str
    total_ms: float  # all statements in scope (before --top and --min-calls)
    total_calls: int
    statements: tuple[StatementStats, ...]
    since: str | None = None
    window_start: dt.datetime | None = None
    snapshots_used: int = 0
    series_restarts: int = 0
    stats_reset: dt.datetime | None = None
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "database": self.database,
            "all_databases": self.all_databases,
            "server_version_num": self.server_version_num,
            "sort": self.sort,
            "since": self.since,
            "window_start": self.window_start,
            "snapshots_used": self.snapshots_used,
            "series_restarts": self.series_restarts,
            "stats_reset": self.stats_reset,
            "total_ms": round(self.total_ms, 3),
            "total_calls": self.total_calls,
            "groups": [s.as_dict() for s in self.statements],
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class SnapshotResult:
    snapshot_id: int
    taken_at: dt.datetime
    entries: int
    pruned_snapshots: int
    keep_days: int
    created_schema: bool
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "snapshot_id": self.snapshot_id,
            "taken_at": self.taken_at,
            "entries": self.entries,
            "pruned_snapshots": self.pruned_snapshots,
            "keep_days": self.keep_days,
            "created_schema": self.created_schema,
            "table": "dbadmin.pgss_snapshots",
            "warnings": list(self.warnings),
        }


# --- helpers -------------------------------------------------------------------------------------
def parse_since(text: str) -> str:
    """'1h', '24h', '7d', '30m', '2w' -> a PostgreSQL interval literal."""
    m = _SINCE.match(text)
    if not m:
        raise UsageError(f"--since {text!r} is not a duration", "use e.g. 30m, 1h, 24h, 7d, 2w")
    value, unit = int(m.group(1)), m.group(2).lower()
    word = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}[unit]
    return f"{value} {word}"


def _rows(cur: psycopg2.extensions.cursor) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def probe(conn: psycopg2.extensions.connection) -> Probe:
    with conn.cursor() as cur:
        cur.execute(load_sql("probe"))
        row = _rows(cur)[0]
    return Probe(
        server_version_num=int(row["server_version_num"]),
        database=row["database"],
        username=row["username"],
        superuser=bool(row["superuser"]),
        read_all_stats=bool(row["read_all_stats"]),
        preload=row["preload"],
        ext_version=row["ext_version"],
        ext_schema=row["ext_schema"],
        ext_available=row["ext_available"],
        log_min_duration_statement=row["log_min_duration_statement"],
        can_create_schema=bool(row["can_create_schema"]),
    )


def _missing_extension(p: Probe) -> ConfigError:
    if p.ext_available is None:
        return ConfigError(
            "pg_stat_statements is not available on this server (the contrib package is missing)",
            "install PostgreSQL's contrib package (Debian: postgresql-contrib), add "
            "shared_preload_libraries = 'pg_stat_statements' to postgresql.conf, restart, then "
            "run `dbadmin slow-queries enable`",
        )
    return ConfigError(
        f"pg_stat_statements is not installed in database {p.database}",
        "run `dbadmin slow-queries enable` (CREATE EXTENSION pg_stat_statements). On Neon that is "
        "all it takes (the library is preloaded); self-hosted servers also need "
        "shared_preload_libraries = 'pg_stat_statements' in postgresql.conf and a restart",
    )


def _not_loaded(p: Probe) -> ConfigError:
    return ConfigError(
        "pg_stat_statements is installed but its library is not loaded "
        f"(shared_preload_libraries = {p.preload!r})"
        if p.preload is not None
        else "pg_stat_statements is installed but its library is not loaded",
        "add pg_stat_statements to shared_preload_libraries in postgresql.conf (or ALTER SYSTEM "
        "SET shared_preload_libraries = '...,pg_stat_statements') and restart PostgreSQL; on Neon "
        "it is always loaded",
    )


def _visibility_warnings(p: Probe, hidden: int | None) -> list[str]:
    warnings: list[str] = []
    if not (p.superuser or p.read_all_stats):
        count = "" if hidden is None else f" ({hidden} hidden)"
        warnings.append(
            f"role {p.username} is not a superuser and lacks pg_read_all_stats: statements of "
            f"other roles show no text or query id{count}; GRANT pg_read_all_stats "
            f"(or pg_monitor) TO {p.username} to see them"
        )
    return warnings


def _checked(conn: psycopg2.extensions.connection) -> Probe:
    p = probe(conn)
    if p.ext_version is None:
        raise _missing_extension(p)
    return p


def _execute(
    conn: psycopg2.extensions.connection, sql: str, params: dict[str, Any] | None = None
) -> psycopg2.extensions.cursor:
    """Run one statement; turn "must be loaded via shared_preload_libraries" into advice."""
    import psycopg2

    cur = conn.cursor()
    try:
        cur.execute(sql, params)
    except psycopg2.errors.ObjectNotInPrerequisiteState as exc:
        conn.rollback()
        if "shared_preload_libraries" in str(exc):
            raise _not_loaded(probe(conn)) from None
        raise
    return cur


def _stats(
    rows: list[dict[str, Any]], *, deltas: bool
) -> tuple[list[StatementStats], float, int, int]:
    own = 0
    hidden = 0
    kept: list[dict[str, Any]] = []
    for row in rows:
        query = row.get("query")
        if row.get("queryid") is None or query in (None, "<insufficient privilege>"):
            hidden += 1
            continue
        if _OWN.search(query):
            own += 1
            continue
        kept.append(row)
    total_ms = sum(float(r["total_ms"] or 0) for r in kept)
    total_calls = sum(int(r["calls"] or 0) for r in kept)
    out: list[StatementStats] = []
    for r in kept:
        calls = int(r["calls"] or 0)
        total = max(float(r["total_ms"] or 0), 0.0)
        query = scrub_sql(" ".join(str(r["query"]).split()))
        hit = int(r["shared_blks_hit"] or 0)
        read = int(r["shared_blks_read"] or 0)
        out.append(
            StatementStats(
                fingerprint=str(r["queryid"]),
                query=query,
                calls=calls,
                total_ms=total,
                mean_ms=total / calls if calls else 0.0,
                max_ms=None if deltas or r["max_ms"] is None else float(r["max_ms"]),
                stddev_ms=None if deltas or r["stddev_ms"] is None else float(r["stddev_ms"]),
                rows=int(r["rows"] or 0),
                hit_pct=100.0 * hit / (hit + read) if hit + read > 0 else None,
                temp_blks=int(r["temp_blks"] or 0),
                io_ms=max(float(r["io_ms"] or 0), 0.0),
                share_pct=100.0 * total / total_ms if total_ms > 0 else 0.0,
                user=r.get("username"),
                database=r.get("database"),
                toplevel=r.get("toplevel"),
                possible_n_plus_one=possible_n_plus_one(query, calls, int(r["rows"] or 0)),
            )
        )
    return out, total_ms, total_calls, hidden


_SORT_KEYS = {
    "total": lambda s: s.total_ms,
    "mean": lambda s: s.mean_ms,
    "calls": lambda s: s.calls,
    "rows": lambda s: s.rows,
    "io": lambda s: s.io_ms,
    "temp": lambda s: s.temp_blks,
}


# --- top -----------------------------------------------------------------------------------------
def top(
    settings: Settings,
    *,
    limit: int = 20,
    sort: str = "total",
    min_calls: int = 1,
    since: str | None = None,
    all_databases: bool = False,
) -> TopReport:
    """The top statements now (``since=None``) or over a window of snapshots (deltas)."""
    from dbadmin.db import raw_connection

    if sort not in SORTS:
        raise UsageError(f"unknown --sort {sort!r}", "use one of " + ", ".join(SORTS))
    if limit < 1:
        raise UsageError("--top must be at least 1")
    interval = parse_since(since) if since else None
    with raw_connection(settings, autocommit=True) as conn:
        p = _checked(conn)
        params: dict[str, Any] = {"all_databases": all_databases}
        window_start = None
        snaps_used = 0
        restarts = 0
        warnings: list[str] = []
        with _execute(conn, load_sql("stats_reset")) as cur:
            reset_row = _rows(cur)[0]
        if interval is None:
            with _execute(conn, load_sql("top", p.sql_major), params) as cur:
                rows = _rows(cur)
            source = "pg_stat_statements"
        else:
            if not _has_snapshots(conn):
                raise ProblemFound(
                    "no pg_stat_statements snapshots in this database yet",
                    "run `dbadmin slow-queries snapshot` from cron (e.g. hourly); --since then "
                    "reports the deltas between snapshots",
                )
            with _execute(conn, load_sql("snapshot_window"), {"since": interval}) as cur:
                window = _rows(cur)
            base = window[0]
            window_start = base["taken_at"]
            snaps_used = len(window)
            if base["taken_at"] > reset_row["now"] - _interval(interval):
                warnings.append(
                    f"history starts at {base['taken_at']:%Y-%m-%d %H:%M %Z}, later than the "
                    f"requested window ({since}); the report covers the shorter span"
                )
            with _execute(
                conn, load_sql("delta", p.sql_major), {**params, "base_id": base["id"]}
            ) as cur:
                rows = _rows(cur)
            restarts = sum(int(r.get("restarts") or 0) for r in rows)
            if restarts:
                warnings.append(
                    f"{restarts} counter series restarted inside the window (a "
                    "pg_stat_statements reset, an evicted entry or a server restart); the "
                    "counts after each restart are included, nothing before it is lost twice"
                )
            source = "snapshots"
    stats, total_ms, total_calls, hidden = _stats(rows, deltas=interval is not None)
    warnings = _visibility_warnings(p, hidden) + warnings
    chosen = [s for s in stats if s.calls >= min_calls]
    chosen.sort(key=lambda s: (-_SORT_KEYS[sort](s), s.fingerprint))
    return TopReport(
        source=source,
        database=p.database,
        all_databases=all_databases,
        server_version_num=p.server_version_num,
        sort=sort,
        total_ms=total_ms,
        total_calls=total_calls,
        statements=tuple(chosen[:limit]),
        since=since,
        window_start=window_start,
        snapshots_used=snaps_used,
        series_restarts=restarts,
        stats_reset=reset_row["stats_reset"],
        warnings=tuple(warnings),
    )


def _interval(text: str) -> dt.timedelta:
    value, word = text.split()
    return dt.timedelta(**{word: int(value)})


def _has_snapshots(conn: psycopg2.extensions.connection) -> bool:
    with conn.cursor() as cur:
        cur.execute("SELECT /* dbadmin */ to_regclass('dbadmin.pgss_snapshots') IS NOT NULL")
        exists = bool(fetch_one(cur)[0])
        if not exists:
            return False
        cur.execute("SELECT /* dbadmin */ EXISTS (SELECT 1 FROM dbadmin.pgss_snapshots)")
        return bool(fetch_one(cur)[0])


# --- snapshot ------------------------------------------------------------------------------------
def snapshot(settings: Settings, *, keep_days: int = 14) -> SnapshotResult:
    """Store the current counters (never resetting them) and prune old snapshots."""
    from dbadmin.db import raw_connection

    if keep_days < 1:
        raise UsageError("--keep-days must be at least 1")
    with raw_connection(settings) as conn:
        p = _checked(conn)
        try:
            with conn.cursor() as cur:
                # one writer at a time (a transaction-level lock also works through PgBouncer)
                cur.execute(
                    "SELECT /* dbadmin */ pg_advisory_xact_lock(hashtext('dbadmin.pgss_snapshots'))"
                )
                cur.execute("SELECT /* dbadmin */ to_regclass('dbadmin.pgss_snapshots') IS NULL")
                created = bool(fetch_one(cur)[0])
            if created:
                with _execute(conn, load_sql("snapshot_setup")):
                    pass
            with _execute(conn, load_sql("snapshot_take", p.sql_major)) as cur:
                taken = _rows(cur)[0]
            with _execute(conn, load_sql("snapshot_prune"), {"keep_days": keep_days}) as cur:
                pruned = _rows(cur)[0]
            with conn.cursor() as cur:
                cur.execute(
                    "UPDATE /* dbadmin */ dbadmin.pgss_snapshots SET entries = %(n)s WHERE id = %(id)s",
                    {"n": int(taken["entries"]), "id": taken["id"]},
                )
            conn.commit()
        except Exception as exc:
            conn.rollback()
            import psycopg2

            if isinstance(exc, psycopg2.errors.InsufficientPrivilege):
                raise ProblemFound(
                    f"cannot store snapshots in database {p.database}: "
                    + error_line(exc, settings.url.password),
                    "run the first snapshot as a role that may CREATE in this database (or "
                    "create schema dbadmin and grant it), then schedule it",
                ) from None
            raise
    return SnapshotResult(
        snapshot_id=int(taken["id"]),
        taken_at=taken["taken_at"],
        entries=int(taken["entries"]),
        pruned_snapshots=int(pruned["snapshots"]),
        keep_days=keep_days,
        created_schema=created,
        warnings=tuple(_visibility_warnings(p, None)),
    )
