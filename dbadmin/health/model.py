"""Typed results of health checks. Statuses carry their Nagios exit codes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from dbadmin.severity import Severity


class Status(Enum):
    OK = "OK"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"
    UNKNOWN = "UNKNOWN"

    @property
    def exit_code(self) -> int:
        """The Nagios plugin exit code."""
        return _EXIT[self]

    @property
    def severity(self) -> Severity:
        """The shared severity (explain's findings have the same type); its ``rank`` orders
        statuses for "worst", UNKNOWN below WARNING."""
        return Severity(self.value.lower())


_EXIT = {Status.OK: 0, Status.WARNING: 1, Status.CRITICAL: 2, Status.UNKNOWN: 3}


def worst(statuses: Iterable[Status]) -> Status:
    return max(statuses, key=lambda s: s.severity.rank, default=Status.OK)


@dataclass(frozen=True)
class CheckResult:
    """One check: its status, the measured value against its thresholds, and the evidence.

    ``details`` name the objects and pids involved (one mapping per finding); ``metrics`` are
    extra numbers exported as perfdata / Prometheus samples (e.g. latency p50 and p95).
    """

    name: str
    status: Status
    summary: str
    value: float | None = None
    unit: str = ""
    warn: float | None = None
    crit: float | None = None
    advice: str = ""
    details: tuple[Mapping[str, Any], ...] = ()
    metrics: Mapping[str, float] = field(default_factory=dict)
    elapsed_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "value": self.value,
            "unit": self.unit,
            "warn": self.warn,
            "crit": self.crit,
            "summary": self.summary,
            "advice": self.advice,
            "metrics": dict(self.metrics),
            "details": [dict(d) for d in self.details],
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


class Verdict:
    """The overall status, Nagios exit code and one-line summary of a run of named checks (a
    ``checks`` tuple of results with ``name``, ``status`` and ``summary``, and an ``error`` set
    when the run could not connect at all); shared by health and audit reports."""

    checks: tuple[Any, ...]
    error: str | None

    @property
    def status(self) -> Status:
        if self.error is not None:
            return Status.UNKNOWN
        return worst(c.status for c in self.checks)

    @property
    def exit_code(self) -> int:
        return self.status.exit_code

    def summary(self) -> str:
        if self.error is not None:
            return self.error
        bad = [c for c in self.checks if c.status is not Status.OK]
        ok = len(self.checks) - len(bad)
        bad.sort(key=lambda c: -c.status.severity.rank)
        parts = [f"{c.name} {c.status.value} ({c.summary})" for c in bad]
        parts.append(f"{ok} of {len(self.checks)} checks OK")
        return "; ".join(parts)


@dataclass(frozen=True)
class HealthReport(Verdict):
    """A whole `dbadmin health` run. ``error`` is set when the run could not connect at all."""

    checks: tuple[CheckResult, ...]
    target: str
    server_version: str | None = None
    endpoint: str = ""
    elapsed_ms: float = 0.0
    error: str | None = None

    @property
    def up(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "exit_code": self.exit_code,
            "summary": self.summary(),
            "target": self.target,
            "server_version": self.server_version,
            "endpoint": self.endpoint,
            "elapsed_ms": round(self.elapsed_ms, 1),
            "error": self.error,
            "checks": {c.name: c.as_dict() for c in self.checks},
        }
