"""``seed`` from Python: realistic, deterministic data through COPY, one transaction, one seed
at a time (an application's own tests call it after ``schema_create``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dbadmin.api.target import Confirm, Notice, ask, say, settings_for
from dbadmin.errors import UsageError

if TYPE_CHECKING:
    from dbadmin.migrate.lock import LockHolder
    from dbadmin.seed.load import SeedProgress
    from dbadmin.seed.run import SeedPlan, SeedResult
    from dbadmin.settings import Settings


@dataclass(frozen=True)
class SeedRun:
    """The plan and what the seed did; ``ok`` is False when a table could not be filled."""

    plan: SeedPlan
    result: SeedResult

    @property
    def ok(self) -> bool:
        return not self.result.unfillable

    def as_dict(self) -> dict[str, Any]:
        return self.result.to_dict()


def parse_now(raw: str | dt.datetime | None) -> dt.datetime | None:
    """``--now`` as an aware UTC time (a date or time without a zone is UTC)."""
    if raw is None:
        return None
    if isinstance(raw, dt.datetime):
        moment = raw
    else:
        try:
            moment = dt.datetime.fromisoformat(raw)
        except ValueError:
            raise UsageError(
                f"--now {raw!r} is not an ISO date or time", "write e.g. --now 2026-01-31"
            ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def seed(
    target: Settings | str | None = None,
    *,
    profile: str = "dev",
    scale: float = 1.0,
    rows: Mapping[str, int] | Sequence[str] = (),
    seed: int = 1,
    now: str | dt.datetime | None = None,
    reset: bool = False,
    append: bool = False,
    batch_size: int = 10_000,
    from_database: bool = False,
    schema: str | None = None,
    keep_indexes: bool = False,
    like: str | None = None,
    no_values: bool = False,
    lock_wait: float = 60.0,
    confirm: Confirm | None = None,
    notice: Notice | None = None,
    progress: SeedProgress | None = None,
) -> SeedRun:
    """Fill the database: ``profile`` minimal, dev, demo or load (times ``scale``; ``rows``
    as ``{"messages": 1000}`` or ``["messages=1000"]``), ``seed`` for identical data. Tables
    with rows are refused (``UsageError``) unless ``append`` or ``reset`` (which asks
    ``confirm`` before emptying them). Tables that cannot be filled are told through
    ``notice`` and listed in ``result.unfillable``."""
    from dbadmin.seed.run import SeedRequest, parse_rows, plan_seed, run_seed, validate_request

    request = SeedRequest(
        profile=profile,
        scale=scale,
        rows=dict(rows) if isinstance(rows, Mapping) else parse_rows(list(rows)),
        seed=seed,
        now=parse_now(now),
        reset=reset,
        append=append,
        batch_size=batch_size,
        from_database=from_database,
        schema=schema,
        rebuild_indexes=not keep_indexes,
        lock_wait=lock_wait,
        like=like,
        no_values=no_values,
    )
    validate_request(request)  # every option checked before a connection or the embedded server
    settings = settings_for(target)
    plan = plan_seed(settings, request)
    if request.reset and plan.truncate:
        ask(confirm, f"empty {', '.join(plan.truncate)} (TRUNCATE ... CASCADE)")
    for name, reason in plan.unfillable:
        say(notice, f"cannot fill {name}: {reason}")

    def on_lock_wait(holder: LockHolder | None) -> None:
        who = holder.describe() if holder else "another session"
        say(notice, f"waiting up to {lock_wait:g} s for the seed lock held by {who}")

    result = run_seed(settings, plan, progress, on_lock_wait=on_lock_wait)
    for table in result.unfillable:
        if (table.table, table.reason) not in plan.unfillable:
            say(notice, f"cannot fill {table.table}: {table.reason}")
    return SeedRun(plan, result)
