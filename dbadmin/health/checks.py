"""The health checks: one function per check, each judging rows read through a :class:`Session`.

A check whose view is not visible to the role, or whose query fails or times out, raises
:class:`CheckUnknown` (the runner reports it UNKNOWN with the reason); it never aborts the run.
The connection lives in ``session.py``, the run and its deadline in ``runner.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from dbadmin.health.model import CheckResult, Status, worst
from dbadmin.health.session import GRANT_HINT, CheckUnknown, Session
from dbadmin.health.thresholds import SPECS, Thresholds, judge
from dbadmin.stats import nearest_rank
from dbadmin.urls import scrub_sql

CHECK_NAMES: tuple[str, ...] = (
    "connections",
    "idle_in_transaction",
    "long_queries",
    "lock_waits",
    "cache_hit",
    "wraparound",
    "sequences",
    "invalid_indexes",
    "duplicate_indexes",
    "unused_indexes",
    "fk_without_index",
    "vacuum",
    "replication_slots",
    "database_size",
    "latency",
)
MAX_DETAILS = 20


# --- helpers -----------------------------------------------------------------------------------
def _pair(t: Thresholds, name: str) -> tuple[float | None, float | None]:
    return t.pair(name)


def _result(
    name: str,
    t: Thresholds,
    value: float | None,
    summary: str,
    *,
    advice: str = "",
    details: Sequence[Mapping[str, Any]] = (),
    metrics: Mapping[str, float] | None = None,
    status: Status | None = None,
) -> CheckResult:
    warn, crit = _pair(t, name)
    spec = SPECS[name]
    judged = status if status is not None else judge(value, warn, crit, below=spec.below)
    return CheckResult(
        name=name,
        status=judged,
        summary=summary,
        value=value,
        unit=spec.unit,
        warn=warn,
        crit=crit,
        advice=advice if judged is not Status.OK else "",
        details=tuple(_clean(d) for d in details[:MAX_DETAILS]),
        metrics=dict(metrics or {}),
    )


def _clean(row: Mapping[str, Any]) -> dict[str, Any]:
    import datetime as dt
    import decimal

    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, decimal.Decimal):
            value = float(value) if value % 1 else int(value)
        elif isinstance(value, float):
            value = round(value, 3)
        elif isinstance(value, dt.datetime | dt.date):
            value = value.isoformat()
        out[key] = value
    return out


def _lowest(t: Thresholds, name: str) -> float | None:
    levels = [x for x in _pair(t, name) if x is not None]
    return min(levels) if levels else None


def _over(rows: list[dict[str, Any]], key: str, limit: float | None) -> list[dict[str, Any]]:
    if limit is None:
        return []
    return [r for r in rows if (r.get(key) or 0) >= limit]


def _invisible(result: CheckResult, session: Session, what: str) -> CheckResult:
    """An OK built from a partial view of pg_stat_activity is not OK: it is UNKNOWN."""
    sees_all, role, hidden = session.visibility()
    if sees_all or hidden == 0 or result.status is not Status.OK:
        return result
    return replace(
        result,
        status=Status.UNKNOWN,
        summary=f"{hidden} sessions of other roles are not visible to role {role}, so {what} "
        "cannot be judged",
        advice=GRANT_HINT,
    )


def _secs(value: float) -> str:
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"


def _bytes(size: float | None) -> str:
    from dbadmin.render import human_bytes

    return human_bytes(size)


def _more(rows: Sequence[Any], shown: int = 1) -> str:
    extra = len(rows) - shown
    return f" (+{extra} more)" if extra > 0 else ""


# --- the checks --------------------------------------------------------------------------------
def check_connections(s: Session, t: Thresholds) -> CheckResult:
    row = s.rows("connections")[0]
    used, max_conn, reserved = int(row["used"]), int(row["max_connections"]), int(row["reserved"])
    available = max(max_conn - reserved, 1)
    pct = 100.0 * used / available
    by_state = dict(row["by_state"] or {})
    return _result(
        "connections",
        t,
        round(pct, 1),
        f"{used} of {available} usable connections in use ({pct:.0f}%; max_connections "
        f"{max_conn}, {reserved} reserved)",
        advice="close idle sessions, lower the pools (pool_size + max_overflow per process), or "
        "put a pooler in front (Neon: the -pooler endpoint)",
        details=[{"state": k, "count": v} for k, v in sorted(by_state.items())],
        metrics={"used": used, "max_connections": max_conn, "reserved": reserved},
    )


def _activity_check(
    s: Session,
    t: Thresholds,
    name: str,
    describe: Callable[[dict[str, Any]], str],
    none_text: str,
    advice: str,
    *,
    some_text: Callable[[list[dict[str, Any]], float], str] = (
        lambda rows, longest: f"{len(rows)} now, longest {_secs(longest)}"
    ),
    metrics: Callable[[list[dict[str, Any]]], Mapping[str, float]] = (
        lambda rows: {"sessions": len(rows)}
    ),
) -> CheckResult:
    """A check over sessions of pg_stat_activity (query ``name``, one row per session, with
    ``seconds``): the longest one is judged, those over a threshold are listed."""
    rows = [_statements_masked(r) for r in s.rows(name)]
    value = max((float(r["seconds"] or 0) for r in rows), default=0.0)
    flagged = _over(rows, "seconds", _lowest(t, name))
    if flagged:
        summary = describe(flagged[0]) + _more(flagged)
    elif rows:
        summary = some_text(rows, value)
    else:
        summary = none_text
    result = _result(
        name,
        t,
        round(value, 1),
        summary,
        advice=advice,
        details=flagged,
        metrics=metrics(rows),
    )
    return _invisible(result, s, name.replace("_", " "))


def _statements_masked(row: dict[str, Any]) -> dict[str, Any]:
    """Other sessions' statement text with passwords masked (``ALTER ROLE ... PASSWORD '...'``
    left idle in a transaction would otherwise reach the summary, JSON and Nagios line)."""
    return {
        key: scrub_sql(value) if key.endswith("query") and isinstance(value, str) else value
        for key, value in row.items()
    }


def check_idle_in_transaction(s: Session, t: Thresholds) -> CheckResult:
    return _activity_check(
        s,
        t,
        "idle_in_transaction",
        lambda r: (
            f"pid {r['pid']} ({r['user']}@{r['database']}, "
            f"{r['application_name'] or 'no application_name'}) idle in transaction for "
            f"{_secs(r['seconds'])}"
        ),
        "no session idle in transaction",
        "commit or roll back in the application; set idle_in_transaction_session_timeout; "
        "pg_terminate_backend(pid) ends one",
    )


def check_long_queries(s: Session, t: Thresholds) -> CheckResult:
    return _activity_check(
        s,
        t,
        "long_queries",
        lambda r: (
            f"pid {r['pid']} ({r['user']}@{r['database']}) running for "
            f"{_secs(r['seconds'])}: {' '.join(str(r['query']).split())[:80]}"
        ),
        "no query running",
        "EXPLAIN the query (dbadmin explain); set statement_timeout; "
        "pg_cancel_backend(pid) cancels one",
    )


def check_lock_waits(s: Session, t: Thresholds) -> CheckResult:
    return _activity_check(
        s,
        t,
        "lock_waits",
        lambda r: (
            f"pid {r['blocked_pid']} waits {_secs(r['seconds'])} for a {r['mode']} lock"
            + (f" on {r['relation']}" if r["relation"] else "")
            + f" held by pid {r['blocking_pid']} ({r['blocking_state']}: "
            + " ".join(str(r["blocking_query"]).split())[:60]
            + ")"
        ),
        "no session waiting for a lock",
        "end the blocking transaction (pg_terminate_backend(blocking_pid)); use "
        "lock_timeout in migrations",
        some_text=lambda rows, longest: f"{len(rows)} lock waits, longest {_secs(longest)}",
        metrics=lambda rows: {"waiting": len({r["blocked_pid"] for r in rows})},
    )


def check_cache_hit(s: Session, t: Thresholds) -> CheckResult:
    row = s.rows("cache_hit")[0]
    hits, reads = int(row["hits"] or 0), int(row["reads"] or 0)
    total = hits + reads
    minimum = t.param("cache_hit_min_blocks")
    if total < minimum:
        return _result(
            "cache_hit",
            t,
            None,
            f"too few reads to judge ({total} block accesses, < {minimum:.0f})",
            metrics={"hits": hits, "reads": reads},
        )
    ratio = 100.0 * hits / total
    return _result(
        "cache_hit",
        t,
        round(ratio, 2),
        f"{ratio:.2f}% of {total} table/index block accesses served from shared buffers",
        advice="the working set does not fit in memory: more RAM (a bigger Neon compute), "
        "fewer/smaller indexes, or cheaper queries",
        metrics={"hits": hits, "reads": reads},
    )


def check_wraparound(s: Session, t: Thresholds) -> CheckResult:
    rows = s.rows("wraparound")
    if not rows:
        raise CheckUnknown("no database visible in pg_database")
    top = rows[0]
    age, freeze_max = int(top["xid_age"]), int(top["freeze_max_age"])
    pct = 100.0 * age / max(freeze_max, 1)
    warn_p, crit_p = t.pair("wraparound_freeze_pct")
    status = worst(
        [
            judge(age, *t.pair("wraparound")),
            judge(pct, warn_p, crit_p),
        ]
    )
    return _result(
        "wraparound",
        t,
        age,
        f"oldest transaction ID age {age:,} in database {top['database']} ({pct:.0f}% of "
        f"autovacuum_freeze_max_age {freeze_max:,}; wraparound at 2,147,483,647)",
        advice="VACUUM (FREEZE) the oldest tables of that database; look for long transactions, "
        "idle-in-transaction sessions and inactive replication slots holding it back",
        details=[r for r in rows if r["xid_age"] >= 0.5 * freeze_max][:MAX_DETAILS],
        metrics={"freeze_pct": round(pct, 1), "mxid_age": int(top["mxid_age"] or 0)},
        status=status,
    )


def _sequence_pct(r: Mapping[str, Any]) -> float | None:
    last = r["last_value"]
    if last is None:
        return None
    last, inc = float(last), float(r["increment_by"])
    low, high = float(r["min_value"]), float(r["max_value"])
    if r["column_type"] is not None:
        high = min(high, float(r["column_max"]))
        low = max(low, float(r["column_min"]))
    if high <= low:
        return 100.0
    if inc > 0:
        return 100.0 * (last - low) / (high - low)
    return 100.0 * (high - last) / (high - low)


def check_sequences(s: Session, t: Thresholds) -> CheckResult:
    rows = s.rows("sequences")
    measured = []
    unreadable = []
    for r in rows:
        if not r["readable"]:
            unreadable.append(f"{r['schema']}.{r['sequence']}")
            continue
        pct = _sequence_pct(r)
        if pct is not None:
            measured.append({**r, "used_pct": round(pct, 2)})
    measured.sort(key=lambda r: -r["used_pct"])
    value = measured[0]["used_pct"] if measured else 0.0
    flagged = _over(measured, "used_pct", _lowest(t, "sequences"))
    if flagged:
        r = flagged[0]
        feeds = (
            f" feeding {r['table_name']}.{r['column_name']} ({r['column_type']})"
            if r["column_name"]
            else ""
        )
        summary = (
            f"{r['schema']}.{r['sequence']}{feeds} has used {r['used_pct']:.1f}% of its range"
            + _more(flagged)
        )
    else:
        summary = f"{len(rows)} sequences, most used {value:.1f}%"
    details = [
        {
            k: r[k]
            for k in (
                "schema",
                "sequence",
                "sequence_type",
                "last_value",
                "table_name",
                "column_name",
                "column_type",
                "used_pct",
            )
        }
        for r in flagged
    ]
    result = _result(
        "sequences",
        t,
        value,
        summary,
        advice="ALTER the column and its sequence to bigint before it runs out",
        details=details,
        metrics={"sequences": len(rows)},
    )
    if unreadable and result.status is Status.OK:
        role = s.visibility()[1]
        return replace(
            result,
            status=Status.UNKNOWN,
            summary=f"{len(unreadable)} sequences not readable by role {role} "
            f"(e.g. {unreadable[0]})",
            advice="grant SELECT on the sequences, or pg_read_all_data (PostgreSQL 14+)",
            details=(),
        )
    return result


def _count_check(
    s: Session,
    t: Thresholds,
    name: str,
    rows: list[dict[str, Any]],
    describe: Callable[[dict[str, Any]], str],
    none_text: str,
    advice: str,
    metrics: Mapping[str, float] | None = None,
) -> CheckResult:
    summary = (describe(rows[0]) + _more(rows)) if rows else none_text
    return _result(name, t, len(rows), summary, advice=advice, details=rows, metrics=metrics or {})


def check_invalid_indexes(s: Session, t: Thresholds) -> CheckResult:
    rows = s.rows("invalid_indexes")
    return _count_check(
        s,
        t,
        "invalid_indexes",
        rows,
        lambda r: f"{r['schema']}.{r['index']} on {r['table']} is invalid",
        "no invalid index",
        "a failed CREATE INDEX CONCURRENTLY left it: DROP INDEX CONCURRENTLY and create it again",
    )


def check_duplicate_indexes(s: Session, t: Thresholds) -> CheckResult:
    rows = s.rows("duplicate_indexes")
    return _count_check(
        s,
        t,
        "duplicate_indexes",
        rows,
        lambda r: (
            f"{r['index']} on {r['table']} is covered by {r['covered_by']} "
            f"({_bytes(r['bytes'])} to save)"
        ),
        "no redundant index",
        "DROP INDEX CONCURRENTLY the covered index (it only costs writes and space)",
        {"bytes": sum(int(r["bytes"] or 0) for r in rows)},
    )


def check_unused_indexes(s: Session, t: Thresholds) -> CheckResult:
    min_mb = t.param("unused_index_min_mb")
    rows = s.rows("unused_indexes", {"min_bytes": int(min_mb * 1024 * 1024)})
    return _count_check(
        s,
        t,
        "unused_indexes",
        rows,
        lambda r: (
            f"{r['schema']}.{r['index']} on {r['table']} ({_bytes(r['bytes'])}) has "
            "never been scanned"
        ),
        f"no unused index of {min_mb:g} MB or more",
        "check replicas and the stats reset time, then DROP INDEX CONCURRENTLY",
        {"bytes": sum(int(r["bytes"] or 0) for r in rows)},
    )


def check_fk_without_index(s: Session, t: Thresholds) -> CheckResult:
    rows = s.rows("fk_without_index")  # each with its schema-qualified, quoted suggestion
    return _count_check(
        s,
        t,
        "fk_without_index",
        rows,
        lambda r: (
            f"{r['table']}.{r['constraint_name']} ({r['columns']}) -> "
            f"{r['referenced_table']} has no supporting index"
        ),
        "every foreign key has an index",
        "index the referencing columns (see details.suggestion): deletes and updates on the "
        "referenced table otherwise scan the whole table",
    )


def check_vacuum(s: Session, t: Thresholds) -> CheckResult:
    rows = s.rows(
        "vacuum",
        {
            "min_dead": int(t.param("vacuum_min_dead")),
            "max_age_hours": int(t.param("vacuum_age_hours")),
        },
    )
    value = max((float(r["dead_pct"] or 0) for r in rows), default=0.0)
    flagged = _over(rows, "dead_pct", _lowest(t, "vacuum"))
    if flagged:
        r = flagged[0]
        summary = (
            f"{r['schema']}.{r['table']}: {r['dead_tuples']:,} dead tuples ({r['dead_pct']:.0f}%),"
            f" last vacuum {r['last_vacuum'] or 'never'}" + _more(flagged)
        )
    else:
        summary = (
            f"no table with many dead tuples and no vacuum in {t.param('vacuum_age_hours'):g} h"
        )
    return _result(
        "vacuum",
        t,
        value,
        summary,
        advice="VACUUM (ANALYZE) the table; check autovacuum settings and what holds it back "
        "(long transactions, replication slots)",
        details=flagged,
        metrics={"tables": len(rows)},
    )


def check_replication_slots(s: Session, t: Thresholds) -> CheckResult:
    rows = s.rows("replication_slots")
    inactive = [r for r in rows if not r["active"]]
    retained = sum(int(r["retained_bytes"] or 0) for r in inactive)
    return _count_check(
        s,
        t,
        "replication_slots",
        inactive,
        lambda r: (
            f"slot {r['slot_name']} ({r['slot_type']}) is inactive, retaining "
            f"{_bytes(r['retained_bytes'])} of WAL"
        ),
        f"{len(rows)} slots, none inactive",
        "drop slots nobody consumes (pg_drop_replication_slot): they retain WAL and hold back "
        "vacuum",
        {"slots": len(rows), "retained_bytes": retained},
    )


def check_database_size(s: Session, t: Thresholds) -> CheckResult:
    row = s.rows("database_size")[0]
    size = int(row["bytes"])
    return _result(
        "database_size",
        t,
        round(size / 1024 / 1024, 1),
        f"{row['database']}: {_bytes(size)}",
        advice="above the configured size: archive or delete data, or raise the limit",
        metrics={"bytes": size},
    )


def check_latency(
    s: Session, t: Thresholds, first_connect_ms: float, reconnect: Callable[[], float | None]
) -> CheckResult:
    if s.remaining() <= 0.05:
        raise CheckUnknown("not run: the --timeout was reached")
    pings = max(int(t.param("pings")), 1)
    samples: list[float] = []
    import psycopg2

    try:
        with s.conn.cursor() as cur:
            cur.execute(f"BEGIN; SET LOCAL statement_timeout = {s.statement_timeout_ms():d}")
            for _ in range(pings):
                if s.remaining() <= 0.05:
                    break
                started = time.perf_counter()
                cur.execute("SELECT 1")
                cur.fetchone()
                samples.append((time.perf_counter() - started) * 1000)
            cur.execute("ROLLBACK")
    except psycopg2.Error as exc:
        s._reset()
        raise CheckUnknown(f"ping failed: {s.error_line(exc)}") from None
    samples.sort()
    p50, p95 = nearest_rank(samples, 0.50), nearest_rank(samples, 0.95)
    warm_ms = reconnect() if s.remaining() > 1.0 else None
    status = worst(
        [judge(p95, *t.pair("latency")), judge(first_connect_ms, *t.pair("latency_connect"))]
    )
    summary = f"first connect {first_connect_ms:.0f} ms"
    if warm_ms is not None:
        summary += f", second {warm_ms:.0f} ms"
    summary += f"; SELECT 1 p50 {p50:.2f} ms, p95 {p95:.2f} ms over {len(samples)} pings"
    metrics = {
        "first_connect_ms": round(first_connect_ms, 2),
        "p50_ms": round(p50, 3),
        "p95_ms": round(p95, 3),
        "max_ms": round(samples[-1], 3) if samples else 0.0,
        "pings": len(samples),
    }
    if warm_ms is not None:
        metrics["connect_ms"] = round(warm_ms, 2)
    cold = warm_ms is not None and first_connect_ms > 3 * warm_ms + 200
    return _result(
        "latency",
        t,
        round(p95, 3),
        summary + (" (the first connect was much slower: a cold start?)" if cold else ""),
        advice="a slow first connect is often a Neon compute waking up (cold start); slow "
        "round trips: run the app in the database's region",
        metrics=metrics,
        status=status,
    )


CHECKS: dict[str, Callable[[Session, Thresholds], CheckResult]] = {
    "connections": check_connections,
    "idle_in_transaction": check_idle_in_transaction,
    "long_queries": check_long_queries,
    "lock_waits": check_lock_waits,
    "cache_hit": check_cache_hit,
    "wraparound": check_wraparound,
    "sequences": check_sequences,
    "invalid_indexes": check_invalid_indexes,
    "duplicate_indexes": check_duplicate_indexes,
    "unused_indexes": check_unused_indexes,
    "fk_without_index": check_fk_without_index,
    "vacuum": check_vacuum,
    "replication_slots": check_replication_slots,
    "database_size": check_database_size,
}
