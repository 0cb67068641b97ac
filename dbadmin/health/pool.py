"""`health pool`: drive the application's SQLAlchemy QueuePool and judge whether it fits.

The pool is built exactly like the application's (pool_size, max_overflow, pool_timeout,
pool_pre_ping, pool_recycle from the settings) and K threads check connections out, run one
query and give them back for S seconds. The driver's own cost per checkout is kept small
(perf_counter, thread-local lists, no locks on the hot path) so the figures describe the pool and
the server, not the driver; each thread yields the GIL after giving a connection back, so waiting
threads are served in turn instead of starving behind a tight loop. While it runs, a separate connection samples the server's view
(pg_stat_activity for the driver's application_name). The verdict combines saturation (checkout
timeouts, p95 wait) with server headroom: (pool_size + max_overflow) x instances against
max_connections - reserved - other connections, or Neon's pooler limits on a -pooler endpoint.

``--concurrency`` is bounded before any load starts (exit 2): by 1,000 threads (checked before
connecting), and by what the server can accept at all, max_connections minus its reserved slots
(PgBouncer's 10,000 clients on a Neon -pooler endpoint), read by the one sampler connection. A
load test must not be the thing that exhausts the server's connections or the host's threads.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dbadmin.db import fetch_one
from dbadmin.errors import UsageError
from dbadmin.health import queries
from dbadmin.health.model import Status, worst
from dbadmin.health.thresholds import Thresholds, judge
from dbadmin.settings import PoolSettings
from dbadmin.stats import nearest_rank
from dbadmin.urls import DbUrl, masked_line

if TYPE_CHECKING:
    import psycopg2.extensions

    from dbadmin.settings import Settings

# Neon: max_connections by compute size (CU); 9 CU and up are capped at 4000.
NEON_COMPUTE_MAX_CONNECTIONS: tuple[tuple[float, int], ...] = (
    (0.25, 104),
    (0.5, 209),
    (1, 419),
    (2, 839),
    (4, 1678),
    (8, 3357),
    (9, 4000),
)
NEON_POOLER_CLIENT_LIMIT = 10_000  # PgBouncer max_client_conn on a -pooler endpoint
NEON_POOLER_SERVER_SHARE = 0.9  # PgBouncer's server pool: 90% of the compute's max_connections
NEON_RESERVED = 7  # connections reserved for Neon's own superuser
SAMPLE_EVERY = 0.25  # seconds between samples of the server's view
MAX_CONCURRENCY = 1_000  # threads, whatever the server accepts


class ConcurrencyTooHigh(UsageError):
    """``--concurrency`` above the bound: a usage error (exit 2), raised before any load."""


@dataclass(frozen=True)
class PoolLoadOptions:
    thresholds: Thresholds
    concurrency: int = 8
    duration: float = 10.0
    query: str = "SELECT 1"
    instances: int = 1

    def validate(self) -> None:
        if self.concurrency < 1:
            raise UsageError("--concurrency must be at least 1")
        if self.concurrency > MAX_CONCURRENCY:
            raise ConcurrencyTooHigh(
                f"--concurrency {self.concurrency} is above dbadmin's limit of "
                f"{MAX_CONCURRENCY:,} threads; nothing was started",
                f"use --concurrency {MAX_CONCURRENCY:,} or less (with --instances N to model "
                "more application processes)",
            )
        if self.duration <= 0:
            raise UsageError("--duration must be positive")
        if self.instances < 1:
            raise UsageError("--instances must be at least 1")
        if not self.query.strip():
            raise UsageError("--query must not be empty")


@dataclass(frozen=True)
class Percentiles:
    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Percentiles:
        ordered = sorted(seconds)
        return cls(
            p50=round(nearest_rank(ordered, 0.50) * 1000, 3),
            p95=round(nearest_rank(ordered, 0.95) * 1000, 3),
            p99=round(nearest_rank(ordered, 0.99) * 1000, 3),
            max=round(ordered[-1] * 1000, 3) if ordered else 0.0,
        )


@dataclass(frozen=True)
class ServerView:
    max_connections: int
    reserved: int
    ours_by_state: Mapping[str, int]
    other_connections: int

    @property
    def ours(self) -> int:
        return sum(self.ours_by_state.values())


@dataclass(frozen=True)
class Headroom:
    endpoint: str  # "neon-pooled", "neon-direct", "direct"
    demand: int  # (pool_size + max_overflow) x instances
    available: int  # what the demand is compared with
    used_pct: float
    headroom: int  # available - demand
    explanation: str
    server_pool: int | None = None  # Neon pooled: PgBouncer's server connections
    neon_compute: str | None = None  # the compute size matching max_connections
    neon_compute_needed: str | None = None  # smallest compute whose max_connections fits


@dataclass(frozen=True)
class PoolLoadResult:
    pool: PoolSettings
    concurrency: int
    duration_s: float
    query: str
    instances: int
    application_name: str
    checkouts: int
    checkouts_per_s: float
    wait_ms: Percentiles
    query_ms: Percentiles
    timeouts: int
    errors: int
    first_error: str | None
    peak_connections: int
    overflow_used: int
    connections_opened: int
    reopened: int
    invalidated: int
    server: ServerView | None
    headroom: Headroom | None
    status: Status
    verdicts: tuple[str, ...]
    advice: tuple[str, ...]
    stuck_threads: int = 0

    @property
    def exit_code(self) -> int:
        return self.status.exit_code

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {
            "status": self.status.value,
            "exit_code": self.exit_code,
            "verdicts": list(self.verdicts),
            "advice": list(self.advice),
            "pool": asdict(self.pool),
            "load": {
                "concurrency": self.concurrency,
                "instances": self.instances,
                "duration_s": round(self.duration_s, 3),
                "query": self.query,
                "application_name": self.application_name,
                "checkouts": self.checkouts,
                "checkouts_per_s": round(self.checkouts_per_s, 1),
                "wait_ms": asdict(self.wait_ms),
                "query_ms": asdict(self.query_ms),
                "timeouts": self.timeouts,
                "errors": self.errors,
                "first_error": self.first_error,
                "stuck_threads": self.stuck_threads,
            },
            "connections": {
                "peak_open": self.peak_connections,
                "overflow_used": self.overflow_used,
                "opened": self.connections_opened,
                "reopened": self.reopened,
                "invalidated": self.invalidated,
            },
            "server": None
            if self.server is None
            else {
                "max_connections": self.server.max_connections,
                "reserved": self.server.reserved,
                "other_connections": self.server.other_connections,
                "ours": self.server.ours,
                "ours_by_state": dict(self.server.ours_by_state),
            },
            "headroom": None if self.headroom is None else asdict(self.headroom),
        }


# --- Neon sizing -------------------------------------------------------------------------------
def _cu(size: float) -> str:
    return f"{size:g} CU" + ("+" if size >= 9 else "")


def neon_compute_for(max_connections: int) -> str | None:
    """The Neon compute size whose max_connections is ``max_connections`` (or closest below)."""
    match = None
    for size, limit in NEON_COMPUTE_MAX_CONNECTIONS:
        if limit <= max_connections:
            match = size
    return _cu(match) if match is not None else None


def neon_min_compute(connections: int) -> str | None:
    """The smallest Neon compute whose max_connections (minus Neon's reserved) fits."""
    for size, limit in NEON_COMPUTE_MAX_CONNECTIONS:
        if limit - NEON_RESERVED >= connections:
            return _cu(size)
    return None


def compute_headroom(
    url: DbUrl, pool: PoolSettings, instances: int, server: ServerView
) -> Headroom:
    demand = (pool.pool_size + pool.max_overflow) * instances
    compute = neon_compute_for(server.max_connections) if url.is_neon else None
    if url.is_pooler:
        server_pool = int(server.max_connections * NEON_POOLER_SERVER_SHARE)
        available = NEON_POOLER_CLIENT_LIMIT
        return Headroom(
            endpoint="neon-pooled",
            demand=demand,
            available=available,
            used_pct=round(100.0 * demand / available, 1),
            headroom=available - demand,
            explanation=(
                f"Neon pooled endpoint: {demand} client connections of PgBouncer's 10,000; it "
                f"runs at most {server_pool} server connections (90% of max_connections "
                f"{server.max_connections}) and queues further transactions up to "
                "query_wait_timeout (120 s)"
            ),
            server_pool=server_pool,
            neon_compute=compute,
        )
    reserved = max(server.reserved, NEON_RESERVED) if url.is_neon else server.reserved
    available = max(server.max_connections - reserved - server.other_connections, 0)
    needed = demand + reserved + server.other_connections
    return Headroom(
        endpoint="neon-direct" if url.is_neon else "direct",
        demand=demand,
        available=available,
        used_pct=round(100.0 * demand / max(available, 1), 1),
        headroom=available - demand,
        explanation=(
            f"(pool_size {pool.pool_size} + max_overflow {pool.max_overflow}) x {instances} "
            f"instance(s) = {demand} vs {available} available (max_connections "
            f"{server.max_connections} - {reserved} reserved - {server.other_connections} other "
            "connections)"
        ),
        neon_compute=compute,
        neon_compute_needed=neon_min_compute(needed) if url.is_neon else None,
    )


def check_concurrency(url: DbUrl, concurrency: int, max_connections: int, reserved: int) -> None:
    """Raise :class:`ConcurrencyTooHigh` when ``concurrency`` threads exceed what the server
    accepts (max_connections minus reserved, or PgBouncer's clients on a Neon -pooler endpoint)
    or dbadmin's 1,000; the message names the bound that applies."""
    if url.is_pooler:
        server_bound = NEON_POOLER_CLIENT_LIMIT
        why = f"the -pooler endpoint's {NEON_POOLER_CLIENT_LIMIT:,} clients"
    else:
        reserved = max(reserved, NEON_RESERVED) if url.is_neon else reserved
        server_bound = max(max_connections - reserved, 0)
        why = f"the server's max_connections {max_connections} minus {reserved} reserved"
    if server_bound >= MAX_CONCURRENCY:
        server_bound, why = MAX_CONCURRENCY, f"dbadmin's limit (the server allows {server_bound})"
    if concurrency > server_bound:
        raise ConcurrencyTooHigh(
            f"--concurrency {concurrency} is above {server_bound:,} ({why}); nothing was started",
            f"use --concurrency {server_bound} or less; the pool itself opens at most "
            "pool_size + max_overflow connections",
        )


# --- the driver --------------------------------------------------------------------------------
@dataclass
class _Counters:
    lock: threading.Lock = field(default_factory=threading.Lock)
    open_now: int = 0
    peak: int = 0
    opened: int = 0
    invalidated: int = 0


@dataclass
class _WorkerStats:
    waits: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    timeouts: int = 0
    errors: int = 0
    first_error: str | None = None


def _sample(
    conn: psycopg2.extensions.connection, major: int, app: str
) -> tuple[dict[str, int], int]:
    with conn.cursor() as cur:
        cur.execute("SET LOCAL statement_timeout = 2000")
        cur.execute(queries.load("pool_server_view", major), {"application_name": app})
        by_state, others = fetch_one(cur)
    conn.rollback()
    return {str(k): int(v) for k, v in (by_state or {}).items()}, int(others)


def _server_limits(conn: psycopg2.extensions.connection) -> tuple[int, int, int]:
    with conn.cursor() as cur:
        cur.execute("SET LOCAL statement_timeout = 5000")
        cur.execute("SHOW server_version_num")
        major = int(fetch_one(cur)[0]) // 10000
        cur.execute(queries.load("connections", major), {})
        _used, max_connections, reserved, _states = fetch_one(cur)
    conn.rollback()
    return major, int(max_connections), int(reserved)


def run_pool_load(settings: Settings, options: PoolLoadOptions) -> PoolLoadResult:
    """Run the load for ``options.duration`` seconds and judge the pool."""
    import psycopg2
    from sqlalchemy import event
    from sqlalchemy import exc as sa_exc

    from dbadmin.db import connect_raw, make_engine

    options.validate()
    app = f"dbadmin-pool-{os.getpid()}"
    url = settings.url
    # The sampler connects first: a server that is down fails here, once, within the retry budget.
    sampler = connect_raw(
        url,
        connect_timeout=settings.connect_timeout,
        retry_seconds=settings.connect_retry_seconds,
        application_name="dbadmin-pool-sampler",
    )
    try:
        major, max_connections, reserved = _server_limits(sampler)
        check_concurrency(url, options.concurrency, max_connections, reserved)

        def creator() -> psycopg2.extensions.connection:
            return connect_raw(
                url,
                connect_timeout=settings.connect_timeout,
                retry_seconds=min(settings.connect_retry_seconds, options.duration),
                application_name=app,
            )

        engine = make_engine(settings, pooled=True, creator=creator)
        counters = _Counters()

        @event.listens_for(engine.pool, "connect")
        def _on_connect(*_: Any) -> None:
            with counters.lock:
                counters.opened += 1
                counters.open_now += 1
                counters.peak = max(counters.peak, counters.open_now)

        @event.listens_for(engine.pool, "close")
        def _on_close(*_: Any) -> None:
            with counters.lock:
                counters.open_now -= 1

        @event.listens_for(engine.pool, "close_detached")
        def _on_close_detached(*_: Any) -> None:
            with counters.lock:
                counters.open_now -= 1

        @event.listens_for(engine.pool, "invalidate")
        def _on_invalidate(*_: Any) -> None:
            with counters.lock:
                counters.invalidated += 1

        query = options.query
        stats = [_WorkerStats() for _ in range(options.concurrency)]
        start_gate = threading.Barrier(options.concurrency + 1)
        bounds = {"end": 0.0}

        def worker(mine: _WorkerStats) -> None:
            checkout = engine.raw_connection
            clock = time.perf_counter
            yield_gil = time.sleep
            waits_append = mine.waits.append
            latencies_append = mine.latencies.append
            start_gate.wait()
            end = bounds["end"]
            while True:
                began = clock()
                if began >= end:
                    return
                try:
                    dbapi = checkout()
                except sa_exc.TimeoutError:
                    mine.timeouts += 1
                    continue
                except Exception as exc:
                    mine.errors += 1
                    if mine.first_error is None:
                        mine.first_error = masked_line(str(exc), url.password, limit=200)
                    time.sleep(0.05)
                    continue
                got = clock()
                try:
                    cursor = dbapi.cursor()
                    cursor.execute(query)
                    if cursor.description is not None:
                        cursor.fetchall()
                    cursor.close()
                except Exception as exc:
                    mine.errors += 1
                    if mine.first_error is None:
                        mine.first_error = masked_line(str(exc), url.password, limit=200)
                finally:
                    done = clock()
                    dbapi.close()
                waits_append(got - began)
                latencies_append(done - got)
                # Give up the GIL between checkouts, as an application thread does while it
                # handles the rest of its request. Without it the thread that has just returned
                # a connection takes it straight back before a woken waiter can run: a saturated
                # pool then shows near-zero p95 waits while the other threads starve.
                yield_gil(0)

        threads = [
            threading.Thread(target=worker, args=(s,), name=f"dbadmin-pool-{i}", daemon=True)
            for i, s in enumerate(stats)
        ]
        for thread in threads:
            thread.start()
        began = time.perf_counter()
        bounds["end"] = began + options.duration
        start_gate.wait()
        best: tuple[dict[str, int], int] | None = None
        while time.perf_counter() < bounds["end"]:
            time.sleep(min(SAMPLE_EVERY, max(bounds["end"] - time.perf_counter(), 0)))
            try:
                sample = _sample(sampler, major, app)
            except psycopg2.Error:
                continue
            if best is None or sum(sample[0].values()) > sum(best[0].values()):
                best = sample
        join_by = time.perf_counter() + settings.pool.pool_timeout + 10
        for thread in threads:
            thread.join(max(join_by - time.perf_counter(), 0))
        elapsed = time.perf_counter() - began
        stuck = sum(1 for thread in threads if thread.is_alive())
        engine.dispose()
    finally:
        sampler.close()

    waits = [w for s in stats for w in s.waits]
    latencies = [w for s in stats for w in s.latencies]
    server = ServerView(
        max_connections=max_connections,
        reserved=reserved,
        ours_by_state=best[0] if best else {},
        other_connections=best[1] if best else 0,
    )
    first_error = next((s.first_error for s in stats if s.first_error), None)
    return _judge(
        settings,
        options,
        app=app,
        elapsed=elapsed,
        waits=waits,
        latencies=latencies,
        timeouts=sum(s.timeouts for s in stats),
        errors=sum(s.errors for s in stats),
        first_error=first_error,
        counters=counters,
        server=server,
        stuck=stuck,
    )


def _judge(
    settings: Settings,
    options: PoolLoadOptions,
    *,
    app: str,
    elapsed: float,
    waits: list[float],
    latencies: list[float],
    timeouts: int,
    errors: int,
    first_error: str | None,
    counters: _Counters,
    server: ServerView,
    stuck: int,
) -> PoolLoadResult:
    pool = settings.pool
    t = options.thresholds
    wait = Percentiles.of(waits)
    latency = Percentiles.of(latencies)
    headroom = compute_headroom(settings.url, pool, options.instances, server)
    statuses: list[Status] = [Status.OK]
    verdicts: list[str] = []
    advice: list[str] = []
    capacity = pool.pool_size + pool.max_overflow
    if timeouts:
        statuses.append(Status.CRITICAL)
        verdicts.append(
            f"pool saturated: {timeouts} checkout timeouts (pool_timeout {pool.pool_timeout:g} s;"
            f" {options.concurrency} threads for {capacity} connections)"
        )
    wait_status = judge(wait.p95, *t.pair("pool_wait"))
    if wait_status is not Status.OK:
        statuses.append(wait_status)
        verdicts.append(f"checkout wait p95 {wait.p95:.1f} ms is above the threshold")
    if timeouts or wait_status is not Status.OK:
        advice.append(
            "raise DATABASE_POOL_SIZE / DATABASE_MAX_OVERFLOW if the server has headroom, or "
            "hold connections for less time (shorter transactions, no I/O while checked out)"
        )
    if errors:
        statuses.append(Status.CRITICAL)
        verdicts.append(f"{errors} errors; first: {first_error}")
    if stuck:
        statuses.append(Status.CRITICAL)
        verdicts.append(f"{stuck} threads still busy after the run (the query does not finish)")
    head_status = judge(headroom.used_pct, *t.pair("pool_headroom"))
    if head_status is not Status.OK:
        statuses.append(head_status)
        verdicts.append(
            f"server headroom: the pools may open {headroom.demand} connections, "
            f"{headroom.available} are available ({headroom.used_pct:.0f}%)"
        )
        if headroom.endpoint == "neon-pooled":
            advice.append("split the load over more endpoints or lower the pools")
        else:
            tip = "lower pool_size/max_overflow or the number of instances"
            if settings.url.is_neon:
                tip += ", use the -pooler endpoint (10,000 clients)"
                if headroom.neon_compute_needed:
                    tip += f", or a compute of at least {headroom.neon_compute_needed}"
            else:
                tip += ", put PgBouncer in front, or raise max_connections"
            advice.append(tip)
    if not waits and not timeouts and not errors:
        statuses.append(Status.UNKNOWN)
        verdicts.append("no checkout completed")
    status = worst(statuses)
    if status is Status.OK:
        verdicts.append(
            f"pool fits: no timeouts, checkout wait p95 {wait.p95:.1f} ms, "
            f"{headroom.headroom} connections of headroom"
        )
    return PoolLoadResult(
        pool=pool,
        concurrency=options.concurrency,
        duration_s=elapsed,
        query=options.query,
        instances=options.instances,
        application_name=app,
        checkouts=len(waits),
        checkouts_per_s=len(waits) / elapsed if elapsed > 0 else 0.0,
        wait_ms=wait,
        query_ms=latency,
        timeouts=timeouts,
        errors=errors,
        first_error=first_error,
        peak_connections=counters.peak,
        overflow_used=max(0, counters.peak - pool.pool_size),
        connections_opened=counters.opened,
        reopened=max(0, counters.opened - counters.peak),
        invalidated=counters.invalidated,
        server=server,
        headroom=headroom,
        status=status,
        verdicts=tuple(verdicts),
        advice=tuple(advice),
        stuck_threads=stuck,
    )
