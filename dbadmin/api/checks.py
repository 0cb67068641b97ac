"""Checks from Python: ``health``, ``pool_check``, ``audit`` and ``doctor``. Each returns its
report (with ``as_dict()``, ``status`` and the Nagios ``exit_code``); a problem found is in the
report, not raised. What keeps the checks from running raises a ``DbadminError``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dbadmin.api.target import Confirm, Notice, ask, say, settings_for

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from dbadmin.audit.context import AuditOptions
    from dbadmin.audit.model import AuditReport
    from dbadmin.doctor import DoctorReport
    from dbadmin.health.model import HealthReport
    from dbadmin.health.pool import PoolLoadResult
    from dbadmin.health.thresholds import Thresholds
    from dbadmin.settings import Settings


def _settings_and_thresholds(
    target: Settings | str | None, warn: Sequence[str], crit: Sequence[str]
) -> tuple[Settings, Thresholds]:
    """--warn/--crit are checked before anything starts (usage errors first), then the
    settings and the thresholds in force (pyproject, environment, flags)."""
    from dbadmin.health.thresholds import parse_flags, resolve_thresholds

    flags = parse_flags(warn, crit)
    settings = settings_for(target)
    thresholds = resolve_thresholds(env=settings.env, cwd=Path.cwd(), flags=flags)
    return settings, thresholds


def health(
    target: Settings | str | None = None,
    *,
    checks: Sequence[str] = (),
    skip: Sequence[str] = (),
    warn: Sequence[str] = (),
    crit: Sequence[str] = (),
    timeout: float = 10.0,
    prometheus: Path | None = None,
) -> HealthReport:
    """Run the health checks (all, or ``checks`` minus ``skip``) within ``timeout`` seconds.
    ``warn``/``crit`` are ``NAME=VALUE`` thresholds over pyproject/environment ones.
    ``prometheus`` writes a textfile atomically (a failure lands in ``report.error``)."""
    from dbadmin.health.runner import HealthOptions, run_health_bounded, select_checks

    chosen = select_checks(checks, skip)
    settings, thresholds = _settings_and_thresholds(target, warn, crit)
    report = run_health_bounded(settings, HealthOptions(thresholds, chosen, timeout))
    if prometheus is not None:
        from dataclasses import replace

        from dbadmin.errors import DbadminError
        from dbadmin.health.exporters import prometheus_text, write_atomically

        try:
            write_atomically(prometheus, prometheus_text(report))
        except DbadminError as exc:
            report = replace(report, error=exc.one_line())
    return report


def pool_check(
    target: Settings | str | None = None,
    *,
    concurrency: int = 8,
    duration: float = 10.0,
    query: str = "SELECT 1",
    instances: int = 1,
    warn: Sequence[str] = (),
    crit: Sequence[str] = (),
) -> PoolLoadResult:
    """Drive a QueuePool configured like the application's with ``concurrency`` threads for
    ``duration`` seconds (``health pool``). Raises ``ConcurrencyTooHigh`` (a ``UsageError``)
    beyond the server's connection slots, before any load."""
    from dbadmin.health.pool import PoolLoadOptions, run_pool_load

    settings, thresholds = _settings_and_thresholds(target, warn, crit)
    options = PoolLoadOptions(
        thresholds=thresholds,
        concurrency=concurrency,
        duration=duration,
        query=query,
        instances=instances,
    )
    return run_pool_load(settings, options)


def audit_options(
    settings: Settings,
    chosen: tuple[str, ...],
    timeout: float,
    app_role: str | None,
    allow_roles: Sequence[str],
    strict: bool,
    sample: bool,
) -> AuditOptions:
    from dbadmin.audit.context import (
        ALLOWED_ROLES_ENV,
        APP_ROLE_ENV,
        DEFAULT_APP_ROLE,
        AuditOptions,
    )

    role = app_role or settings.env.get(APP_ROLE_ENV) or DEFAULT_APP_ROLE
    allowed = [*allow_roles, *settings.env.get(ALLOWED_ROLES_ENV, "").split(",")]
    return AuditOptions(
        checks=chosen,
        timeout=timeout,
        app_role=role,
        allowed_roles=tuple(r.strip() for r in allowed if r.strip()),
        strict=strict,
        sample=sample,
    )


def audit(
    target: Settings | str | None = None,
    *,
    checks: Sequence[str] = (),
    skip: Sequence[str] = (),
    app_role: str | None = None,
    allow_roles: Sequence[str] = (),
    strict: bool = False,
    sample: bool = False,
    timeout: float = 30.0,
    apply: bool = False,
    confirm: Confirm | None = None,
    notice: Notice | None = None,
    on_fix_script: Callable[[str], object] | None = None,
) -> AuditReport:
    """Audit who can read or change what; ``report.fix_script()`` is the SQL that fixes the
    findings. ``apply`` runs it in one transaction (after ``on_fix_script`` is shown it and
    ``confirm`` agrees), then audits again and returns that report."""
    from dbadmin.audit.checks import select_checks
    from dbadmin.audit.runner import run_audit_bounded

    chosen = select_checks(checks, skip)
    settings = settings_for(target)
    options = audit_options(settings, chosen, timeout, app_role, allow_roles, strict, sample)
    report = run_audit_bounded(settings, options)
    if apply and report.error is None:
        report = _apply(settings, options, report, confirm, notice, on_fix_script)
    return report


def _apply(
    settings: Settings,
    options: AuditOptions,
    report: AuditReport,
    confirm: Confirm | None,
    notice: Notice | None,
    on_fix_script: Callable[[str], object] | None,
) -> AuditReport:
    from dataclasses import replace

    from dbadmin.audit.runner import apply_fixes, run_audit_bounded

    count = len(report.fix_statements())
    if not count:
        say(notice, "audit: nothing to apply (no finding has fix SQL)")
        return replace(report, applied=0)
    if on_fix_script is not None:
        on_fix_script(report.fix_script())
    ask(confirm, f"run {count} fix statements on {report.target} in one transaction")
    applied = apply_fixes(settings, report)
    say(notice, f"audit: applied {applied} fix statements in one transaction; auditing again")
    return replace(run_audit_bounded(settings, options), applied=applied)


def doctor(target: Settings | str | None = None) -> DoctorReport:
    """The URL in use, server version, TLS, endpoint, pg_dump/pg_restore choice,
    pg_stat_statements and the migration revision (``report.failed``; a connection failure is
    in ``report.connect_error``)."""
    from dbadmin.doctor import run_doctor

    return run_doctor(settings_for(target))
