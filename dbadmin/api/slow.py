"""Slow queries from Python: ``slow_top`` and ``slow_snapshot`` (pg_stat_statements, with
history), ``slow_enable``, and ``parse_logs`` (server logs, no database needed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from dbadmin.api.target import Notice, say, settings_for

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from dbadmin.settings import Settings
    from dbadmin.slowlog.enable import EnableReport
    from dbadmin.slowlog.logparse import LogReport
    from dbadmin.slowlog.pgss import SnapshotResult, TopReport


def _write(path: Path, text: str, notice: Notice | None) -> None:
    from dbadmin.files import write_atomically

    write_atomically(path, text)
    say(notice, f"wrote {path}")


def slow_top(
    target: Settings | str | None = None,
    *,
    limit: int = 20,
    sort: str = "total",
    min_calls: int = 1,
    since: str | None = None,
    all_databases: bool = False,
    html: Path | None = None,
    notice: Notice | None = None,
) -> TopReport:
    """The statements that take the most time (cumulative, or the deltas over ``since``, e.g.
    ``24h``, from stored snapshots); ``html`` also writes a single-file report."""
    from dbadmin.slowlog.pgss import parse_since, top

    if since is not None:
        parse_since(since)  # a bad window is a usage error before anything connects
    report = top(
        settings_for(target),
        limit=limit,
        sort=sort,
        min_calls=min_calls,
        since=since,
        all_databases=all_databases,
    )
    if html is not None:
        from dbadmin.slowlog.html import top_report_html

        _write(html, top_report_html(report), notice)
    return report


def slow_snapshot(target: Settings | str | None = None, *, keep_days: int = 14) -> SnapshotResult:
    """Store the current pg_stat_statements counters (never resetting them) for
    ``slow_top(since=...)``; prunes snapshots older than ``keep_days``."""
    from dbadmin.slowlog.pgss import snapshot

    return snapshot(settings_for(target), keep_days=keep_days)


def slow_enable(target: Settings | str | None = None, *, threshold: str = "250ms") -> EnableReport:
    """Create pg_stat_statements and set log_min_duration_statement where permitted;
    ``report.ok`` is False when a step could not be done (each says why)."""
    from dbadmin.slowlog.enable import enable, parse_threshold

    parse_threshold(threshold)  # checked before anything connects
    return enable(settings_for(target), threshold=threshold)


@dataclass(frozen=True)
class LogSummary:
    """A parsed log and how many groups its document lists (``top``)."""

    report: LogReport
    top: int = 20

    def as_dict(self) -> dict[str, Any]:
        return self.report.as_dict(top=self.top)


def parse_logs(
    sources: Iterable[str | Path | BinaryIO],
    *,
    log_format: str = "auto",
    prefix: str | None = None,
    min_duration_ms: float = 0.0,
    jobs: int = 0,
    n_plus_one_min: int = 10,
    top: int = 20,
    html: Path | None = None,
    notice: Notice | None = None,
) -> LogSummary:
    """Group the statements of server logs (stderr, csvlog, jsonlog, syslog; plain or gzip) by
    fingerprint, with errors and N+1 runs. Raises ``ProblemFound`` when a non-empty log yields
    no query (the first unparsed line and the prefix expected are in the message)."""
    from dbadmin.errors import UsageError
    from dbadmin.slowlog.logparse import parse_logs as parse

    if top < 1:
        raise UsageError("--top must be at least 1")
    report = parse(
        sources,
        log_format=log_format,
        prefix=prefix,
        min_duration_ms=min_duration_ms,
        jobs=jobs,
        n_plus_one_min=n_plus_one_min,
    )
    if html is not None and report.total_queries:
        from dbadmin.slowlog.html import log_report_html

        _write(html, log_report_html(report, top=top), notice)
    return LogSummary(report, top)
