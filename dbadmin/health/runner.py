"""The health run: connect once, run the selected checks, all inside a deadline.

The whole run, connect retries included, is bounded by ``HealthOptions.timeout``;
:func:`run_health_bounded` adds a hard stop for a hung network.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from dbadmin.errors import DbadminError, UsageError
from dbadmin.health.checks import CHECK_NAMES, CHECKS, check_latency
from dbadmin.health.model import CheckResult, HealthReport, Status
from dbadmin.health.session import CheckUnknown, Session
from dbadmin.health.thresholds import SPECS, Thresholds

if TYPE_CHECKING:
    import psycopg2.extensions

    from dbadmin.settings import Settings

APPLICATION_NAME = "dbadmin-health"


@dataclass(frozen=True)
class HealthOptions:
    thresholds: Thresholds
    checks: tuple[str, ...] = CHECK_NAMES
    timeout: float = 10.0


def select_checks(
    only: Sequence[str], skip: Sequence[str], known: tuple[str, ...] = CHECK_NAMES
) -> tuple[str, ...]:
    """``--check``/``--skip`` (repeatable or comma-separated) -> the ordered checks to run, out
    of ``known`` (health's checks unless another command's are given)."""

    def names(values: Sequence[str], flag: str) -> list[str]:
        out = []
        for value in values:
            for item in value.split(","):
                key = item.strip().lower()
                if not key:
                    continue
                if key not in known:
                    raise UsageError(
                        f"{flag} {item!r}: unknown check", "valid checks: " + ", ".join(known)
                    )
                out.append(key)
        return out

    wanted = names(only, "--check")
    skipped = set(names(skip, "--skip"))
    chosen = tuple(n for n in known if (not wanted or n in wanted) and n not in skipped)
    if not chosen:
        raise UsageError("no checks left to run", "check the --check and --skip names")
    return chosen


def _unknown(name: str, reason: str, t: Thresholds, elapsed_ms: float = 0.0) -> CheckResult:
    warn, crit = t.pair(name)
    return CheckResult(
        name=name,
        status=Status.UNKNOWN,
        summary=reason,
        unit=SPECS[name].unit,
        warn=warn,
        crit=crit,
        elapsed_ms=elapsed_ms,
    )


def endpoint_kind(settings: Settings) -> str:
    url = settings.url
    if url.is_pooler:
        return "neon-pooled"
    if url.is_neon:
        return "neon-direct"
    return "local" if url.is_local else "remote"


def connect_budget(settings: Settings, remaining: float) -> tuple[int, float]:
    """(libpq connect_timeout, retry seconds) that fit in ``remaining`` seconds.

    libpq treats connect_timeout below 2 as 2; the retries (a waking Neon compute, a restarting
    server) get what is left after one attempt, never the default 30 s.
    """
    attempt = max(2, min(settings.connect_timeout, math.floor(remaining / 2)))
    retry = max(0.0, remaining - attempt - 0.5)
    return attempt, retry


def connect_within(
    settings: Settings, timeout: float, application_name: str
) -> psycopg2.extensions.connection:
    """One connection whose attempts and retries fit in ``timeout`` seconds (DbadminError when
    it cannot be had)."""
    from dbadmin.db import connect_raw

    attempt, retry = connect_budget(settings, timeout)
    return connect_raw(
        settings.url,
        connect_timeout=attempt,
        retry_seconds=retry,
        application_name=application_name,
    )


def run_health(settings: Settings, options: HealthOptions) -> HealthReport:
    """Connect once and run the selected checks within ``options.timeout`` seconds."""
    import psycopg2

    started = time.monotonic()
    deadline = started + options.timeout
    t = options.thresholds
    target = settings.url.describe()
    endpoint = endpoint_kind(settings)
    attempt, _ = connect_budget(settings, options.timeout)  # reconnect() uses it too
    connect_started = time.perf_counter()
    try:
        conn = connect_within(settings, options.timeout, APPLICATION_NAME)
    except DbadminError as exc:
        return HealthReport(
            checks=tuple(_unknown(n, "not run: cannot connect", t) for n in options.checks),
            target=target,
            endpoint=endpoint,
            elapsed_ms=(time.monotonic() - started) * 1000,
            error=exc.one_line(),
        )
    first_connect_ms = (time.perf_counter() - connect_started) * 1000
    results: list[CheckResult] = []
    version: str | None = None
    try:
        session = Session(conn, deadline, settings.url.password)
        try:
            info = session.rows("server_info")[0]
            version = str(info["version"])
            session.major = int(info["version_num"]) // 10000
        except CheckUnknown as exc:
            return HealthReport(
                checks=tuple(_unknown(n, f"not run: {exc}", t) for n in options.checks),
                target=target,
                endpoint=endpoint,
                elapsed_ms=(time.monotonic() - started) * 1000,
                error=f"cannot query the server: {exc}",
            )

        def reconnect() -> float | None:
            # libpq keywords: psycopg2's stub types them as **Any (as db.connect_raw passes them)
            kwargs: dict[str, Any] = settings.url.connect_kwargs()
            kwargs["connect_timeout"] = str(max(2, min(attempt, math.floor(session.remaining()))))
            kwargs.setdefault("application_name", APPLICATION_NAME)
            began = time.perf_counter()
            try:
                other = psycopg2.connect(**kwargs)
            except psycopg2.Error:
                return None
            elapsed = (time.perf_counter() - began) * 1000
            other.close()
            return elapsed

        for name in options.checks:
            began = time.perf_counter()
            try:
                if name == "latency":
                    result = check_latency(session, t, first_connect_ms, reconnect)
                else:
                    result = CHECKS[name](session, t)
            except CheckUnknown as exc:
                result = _unknown(name, str(exc), t)
            elapsed = (time.perf_counter() - began) * 1000
            results.append(_with_elapsed(result, elapsed))
    finally:
        try:
            conn.close()
        except Exception:
            pass
    return HealthReport(
        checks=tuple(results),
        target=target,
        server_version=version,
        endpoint=endpoint,
        elapsed_ms=(time.monotonic() - started) * 1000,
    )


def _with_elapsed(result: CheckResult, elapsed_ms: float) -> CheckResult:
    return replace(result, elapsed_ms=elapsed_ms)


@dataclass
class _Outcome:
    report: HealthReport | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


def run_health_bounded(
    settings: Settings, options: HealthOptions, grace: float = 1.0
) -> HealthReport:
    """:func:`run_health` with a hard stop: a network that hangs mid-query (no RST, no answer)
    cannot keep cron waiting past ``timeout + grace``; the report is then UNKNOWN."""
    outcome = _Outcome()

    def work() -> None:
        try:
            outcome.report = run_health(settings, options)
        except BaseException as exc:  # handed to the caller's thread
            outcome.error = exc
        finally:
            outcome.done.set()

    worker = threading.Thread(target=work, name="dbadmin-health", daemon=True)
    worker.start()
    outcome.done.wait(options.timeout + grace)
    if outcome.error is not None:
        raise outcome.error
    if outcome.report is not None:
        return outcome.report
    t = options.thresholds
    return HealthReport(
        checks=tuple(_unknown(n, "not finished within --timeout", t) for n in options.checks),
        target=settings.url.describe(),
        endpoint=endpoint_kind(settings),
        elapsed_ms=(options.timeout + grace) * 1000,
        error=f"the health run did not finish within --timeout {options.timeout:g} s "
        "(server or network not answering)",
    )
