"""Running the audit (one connection, one bounded transaction per query, inside a deadline) and
applying its fix SQL (one transaction, all or nothing).

A check whose catalog or view the role cannot read, or whose query fails or times out, is UNKNOWN
with the reason and never aborts the run, as in `dbadmin health`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from dbadmin.audit.checks import CHECKS
from dbadmin.audit.context import Audit, AuditOptions, AuditSession, CheckUnknown, Facts
from dbadmin.audit.model import AuditCheck, AuditReport, Status
from dbadmin.errors import DbadminError, SqlError

if TYPE_CHECKING:
    from dbadmin.settings import Settings

APPLICATION_NAME = "dbadmin-audit"
APPLY_LOCK_TIMEOUT_MS = 5000
APPLY_STATEMENT_TIMEOUT_MS = 60000


def _unknown(name: str, reason: str) -> AuditCheck:
    return AuditCheck(name, Status.UNKNOWN, reason)


def _failed(settings: Settings, options: AuditOptions, started: float, error: str) -> AuditReport:
    return AuditReport(
        checks=tuple(_unknown(n, f"not run: {error}") for n in options.checks),
        target=settings.url.describe(),
        app_role=options.app_role,
        elapsed_ms=(time.monotonic() - started) * 1000,
        error=error,
    )


def run_audit(settings: Settings, options: AuditOptions) -> AuditReport:
    """Connect once and run the selected checks within ``options.timeout`` seconds."""
    from dbadmin.health.runner import connect_within

    started = time.monotonic()
    try:
        conn = connect_within(settings, options.timeout, APPLICATION_NAME)
    except DbadminError as exc:
        return _failed(settings, options, started, exc.one_line())
    try:
        session = AuditSession(conn, started + options.timeout, settings.url.password)
        try:
            facts = Facts.from_row(
                session.rows("facts", {"app_role": options.app_role})[0], options.app_role
            )
        except CheckUnknown as exc:
            return _failed(settings, options, started, f"cannot query the server: {exc}")
        session.major = facts.major
        url = settings.url
        audit = Audit(
            session, options, facts, sslmode=url.sslmode, remote=not url.is_local, neon=url.is_neon
        )
        results = []
        for name in options.checks:
            began = time.perf_counter()
            try:
                result = CHECKS[name](audit)
            except CheckUnknown as exc:
                result = _unknown(name, str(exc))
            results.append(replace(result, elapsed_ms=(time.perf_counter() - began) * 1000))
    finally:
        try:
            conn.close()
        except Exception:
            pass
    return AuditReport(
        checks=tuple(results),
        target=settings.url.describe(),
        server_version=facts.version,
        role=facts.role,
        app_role=options.app_role,
        elapsed_ms=(time.monotonic() - started) * 1000,
    )


def run_audit_bounded(settings: Settings, options: AuditOptions, grace: float = 1.0) -> AuditReport:
    """:func:`run_audit` with a hard stop: a network that hangs mid-query cannot keep the caller
    past ``timeout + grace``; the report is then UNKNOWN."""
    box: dict[str, object] = {}
    done = threading.Event()

    def work() -> None:
        try:
            box["report"] = run_audit(settings, options)
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=work, name="dbadmin-audit", daemon=True).start()
    done.wait(options.timeout + grace)
    error = box.get("error")
    if isinstance(error, BaseException):
        raise error
    report = box.get("report")
    if isinstance(report, AuditReport):
        return report
    return _failed(
        settings,
        options,
        time.monotonic() - options.timeout - grace,
        f"the audit did not finish within --timeout {options.timeout:g} s "
        "(server or network not answering)",
    )


def apply_fixes(settings: Settings, report: AuditReport) -> int:
    """Run every fix statement of ``report`` in one transaction; all or nothing. Returns how many
    ran. A failing statement rolls everything back and names itself in the error."""
    import psycopg2

    from dbadmin.db import connect_raw
    from dbadmin.urls import error_line

    statements = report.fix_statements()
    if not statements:
        return 0
    conn = connect_raw(settings.url, application_name=APPLICATION_NAME)
    try:
        with conn, conn.cursor() as cur:  # commits at the end, rolls back on an exception
            cur.execute(
                f"SET LOCAL lock_timeout = {APPLY_LOCK_TIMEOUT_MS:d}; "
                f"SET LOCAL statement_timeout = {APPLY_STATEMENT_TIMEOUT_MS:d}"
            )
            for check, finding, statement in statements:
                try:
                    cur.execute(statement)
                except psycopg2.Error as exc:
                    raise SqlError(
                        f"fix for {check.name} ({finding.object}) failed, nothing was changed: "
                        f"{error_line(exc, settings.url.password)}; failing statement: {statement[:300]}",
                        "run it as a role with the rights it needs (the owner), or apply the "
                        "`--fix` script by hand",
                    ) from None
    finally:
        conn.close()
    return len(statements)
