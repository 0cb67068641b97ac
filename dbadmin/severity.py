"""How bad something is: one type for explain's findings and health's (and audit's) statuses.

A ``StrEnum``: each member *is* its lowercase string, so JSON documents, baselines and
comparisons with plain strings (``finding.severity == "warning"``) see what they always saw.
Health keeps its Nagios statuses (``Status.WARNING``, shown as ``WARNING``); each status has
one of these severities, and "worst" is decided by :attr:`Severity.rank` everywhere.

Never compare members with ``<``: they are strings, so that would be alphabetical.
"""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    OK = "ok"  # health/audit: nothing to report
    INFO = "info"  # explain: worth knowing, nothing to fix
    UNKNOWN = "unknown"  # health/audit: could not be judged
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Ordering for "worst": CRITICAL > WARNING > UNKNOWN > INFO > OK.

        UNKNOWN ranks below WARNING (although its Nagios exit code, 3, is higher): a real
        CRITICAL or WARNING must not hide behind a check that could not run.
        """
        return _RANK[self]


_RANK = {severity: rank for rank, severity in enumerate(Severity)}
