"""Typed results of the security audit: findings carry the SQL that fixes them.

Statuses are health's (Nagios codes: OK 0, WARNING 1, CRITICAL 2, UNKNOWN 3), so a report reads and
exits the same way; a finding's ``fix`` holds executable statements (what ``--apply`` runs) and its
``note`` what must be decided by a person (a comment in the ``--fix`` script).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dbadmin.health.model import Status, Verdict, worst

__all__ = ["AuditCheck", "AuditReport", "Finding", "Status", "worst"]


@dataclass(frozen=True)
class Finding:
    """One object that fails a check (a table, a role, a setting) and how to fix it."""

    status: Status
    object: str
    message: str
    fix: tuple[str, ...] = ()
    note: str = ""

    @property
    def fixable(self) -> bool:
        return bool(self.fix)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "object": self.object,
            "message": self.message,
            "fix": list(self.fix),
            "note": self.note,
        }


@dataclass(frozen=True)
class AuditCheck:
    """One named check: the worst of its findings (OK when none), or UNKNOWN with the reason."""

    name: str
    status: Status
    summary: str
    advice: str = ""
    findings: tuple[Finding, ...] = ()
    elapsed_ms: float = 0.0

    @property
    def fixable(self) -> bool:
        """Every finding has executable fix SQL (so ``--apply`` can turn the check OK)."""
        return bool(self.findings) and all(f.fixable for f in self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "summary": self.summary,
            "advice": self.advice,
            "fixable": self.fixable,
            "findings": [f.as_dict() for f in self.findings],
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


def judged(name: str, findings: Iterable[Finding], ok_summary: str, advice: str = "") -> AuditCheck:
    """The check result for ``findings``: OK with ``ok_summary`` when there are none, else the
    worst status, the first finding's message and how many more there are."""
    found = tuple(sorted(findings, key=lambda f: -f.status.severity.rank))
    if not found:
        return AuditCheck(name, Status.OK, ok_summary)
    more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
    return AuditCheck(
        name,
        worst(f.status for f in found),
        f"{found[0].object}: {found[0].message}{more}",
        advice=advice,
        findings=found,
    )


@dataclass(frozen=True)
class AuditReport(Verdict):
    """A whole `dbadmin audit` run. ``error`` is set when the run could not connect at all;
    ``applied`` counts the fix statements an ``--apply`` ran before this (re-)run."""

    checks: tuple[AuditCheck, ...]
    target: str
    server_version: str | None = None
    role: str | None = None
    app_role: str = ""
    elapsed_ms: float = 0.0
    error: str | None = None
    applied: int | None = None

    def fix_statements(self) -> list[tuple[AuditCheck, Finding, str]]:
        """Every executable fix statement once, in check order (a statement two findings share,
        such as ENABLE ROW LEVEL SECURITY, is run the first time only)."""
        seen: set[str] = set()
        out: list[tuple[AuditCheck, Finding, str]] = []
        for check in self.checks:
            for finding in check.findings:
                for statement in finding.fix:
                    if statement not in seen:
                        seen.add(statement)
                        out.append((check, finding, statement))
        return out

    def fix_script(self) -> str:
        """The reviewed-by-a-person script ``--fix`` prints: one transaction, each statement
        after a comment naming its finding, notes as comments."""
        lines = [
            f"-- dbadmin audit --fix for {self.target} (as role {self.role})",
            "-- Review before running; `dbadmin audit --fix --apply --yes` runs the statements "
            "in one transaction.",
        ]
        seen: set[str] = set()
        body: list[str] = []
        for check in self.checks:
            for finding in check.findings:
                new = [s for s in finding.fix if s not in seen]
                if not new and not finding.note:
                    continue
                body.append(
                    f"-- {check.name} {finding.status.value}: {finding.object}: "
                    f"{' '.join(finding.message.split())}"
                )
                body.extend(f"-- {line}" for line in finding.note.splitlines() if finding.note)
                body.extend(f"{statement};" for statement in new)
                seen.update(new)
        if not body:
            return "\n".join([*lines, "-- nothing to fix"]) + "\n"
        return "\n".join([*lines, "BEGIN;", *body, "COMMIT;"]) + "\n"

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "exit_code": self.exit_code,
            "summary": self.summary(),
            "target": self.target,
            "server_version": self.server_version,
            "role": self.role,
            "app_role": self.app_role,
            "elapsed_ms": round(self.elapsed_ms, 1),
            "error": self.error,
            "applied": self.applied,
            "checks": {c.name: c.as_dict() for c in self.checks},
        }
