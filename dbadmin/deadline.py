"""An overall time limit for one run (``backup --timeout``, ``restore --timeout``).

A server that stops answering in the middle of a statement (a frozen backend, a lost network
path that still ACKs, a lock nobody releases) would otherwise keep a cron job waiting forever:
keepalives notice a dead peer, not a silent one. The deadline is checked by the loops that wait
(:func:`dbadmin.backup.runner.run_tool`) and raises :class:`OperationTimeout` (exit 4); their
clean-up then stops the child and removes whatever was half-written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from dbadmin.errors import OperationTimeout


@dataclass(frozen=True)
class Deadline:
    seconds: float
    option: str = "--timeout"
    started: float = field(default_factory=time.monotonic)

    @property
    def at(self) -> float:
        return self.started + self.seconds

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def wait(self, poll: float) -> float:
        """How long a poll may sleep: ``poll``, or less when the deadline is nearer."""
        return min(poll, self.remaining())

    def expired(self) -> bool:
        return time.monotonic() >= self.at

    def check(self, what: str) -> None:
        if self.expired():
            raise self.error(what)

    def error(self, what: str) -> OperationTimeout:
        return OperationTimeout(
            f"{what}: {self.option} {self.seconds:g}s reached",
            f"raise {self.option}, or find what the server is waiting on (`dbadmin health`, "
            "pg_stat_activity)",
        )


def optional(seconds: float | None, option: str = "--timeout") -> Deadline | None:
    """None (no limit) for None or 0."""
    return Deadline(float(seconds), option) if seconds else None
