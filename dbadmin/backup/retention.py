"""`dbadmin backup prune`: retention by count and age, and cleanup of killed runs' temporaries.

A backup survives if it is among the newest ``keep`` OR younger than ``keep_days``; the newest
complete backup always survives (even ``--keep 0``): pruning must never leave zero backups.
Deleting removes the manifest first, so an interrupted prune never leaves a backup that looks
complete but is not. Temporaries are removed only when no other run holds the directory lock
(a running backup's temporary is not a leftover).
"""

from __future__ import annotations

import datetime as dt
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from dbadmin.backup.manifest import (
    BackupEntry,
    BackupLocked,
    Leftover,
    directory_lock,
    now_utc,
    path_size,
    remove_path,
    scan,
)
from dbadmin.errors import UsageError

# `backup verify` holds the lock only while it rewrites one manifest: wait that out, so a prune
# never deletes a backup whose manifest is being rewritten (a backup run holds it for minutes;
# then prune goes on without it, deleting backups but leaving temporaries alone).
LOCK_WAIT_SECONDS = 2.0


@dataclass(frozen=True)
class Doomed:
    entry: BackupEntry
    reason: str
    size_bytes: int


@dataclass(frozen=True)
class PrunePlan:
    directory: Path
    keep: tuple[BackupEntry, ...]
    delete: tuple[Doomed, ...]
    leftovers: tuple[Leftover, ...]
    leftovers_note: str | None  # why leftovers are not cleaned (a run holds the lock)

    @property
    def bytes_freed(self) -> int:
        return sum(d.size_bytes for d in self.delete) + sum(x.size_bytes for x in self.leftovers)


def plan_prune(
    directory: Path,
    *,
    keep: int | None = None,
    keep_days: float | None = None,
    now: dt.datetime | None = None,
    leftovers_allowed: bool = True,
) -> PrunePlan:
    if keep is None and keep_days is None:
        raise UsageError(
            "say what to keep", "pass --keep N and/or --keep-days D (e.g. --keep-days 7)"
        )
    if (keep is not None and keep < 0) or (keep_days is not None and keep_days < 0):
        raise UsageError("--keep and --keep-days must not be negative")
    catalog = scan(directory)
    now = now or now_utc()
    kept: list[BackupEntry] = []
    doomed: list[Doomed] = []
    for index, entry in enumerate(catalog.backups):  # newest first
        age_days = (now - entry.finished).total_seconds() / 86400
        by_count = keep is not None and index < keep
        by_age = keep_days is not None and age_days < keep_days
        if index == 0 or by_count or by_age:
            kept.append(entry)
            continue
        reasons = []
        if keep is not None:
            reasons.append(f"beyond the newest {keep}")
        if keep_days is not None:
            reasons.append(f"{age_days:.1f} days old (> {keep_days:g})")
        doomed.append(Doomed(entry, ", ".join(reasons), path_size(entry.data_path)))
    note = None if leftovers_allowed else "another run holds the lock; temporaries left alone"
    foreign = [x for x in catalog.leftovers if not x.removable]
    if foreign:
        names = ", ".join(x.path.name for x in foreign[:3])
        note = (note + "; " if note else "") + (
            f"not removing {len(foreign)} file(s) dbadmin did not leave as temporaries "
            f"({names}): check and delete them by hand"
        )
    return PrunePlan(
        directory=directory,
        keep=tuple(kept),
        delete=tuple(doomed),
        leftovers=tuple(x for x in catalog.leftovers if x.removable) if leftovers_allowed else (),
        leftovers_note=note,
    )


def prune(
    directory: Path,
    *,
    keep: int | None = None,
    keep_days: float | None = None,
    dry_run: bool = False,
    now: dt.datetime | None = None,
) -> PrunePlan:
    """Plan and (unless ``dry_run``) delete. Holds the directory lock while deleting when free."""
    if not directory.is_dir():
        return PrunePlan(directory, (), (), (), None)
    with ExitStack() as stack:
        try:
            stack.enter_context(directory_lock(directory, "prune", wait=LOCK_WAIT_SECONDS))
            free = True
        except BackupLocked:
            free = False
        plan = plan_prune(
            directory, keep=keep, keep_days=keep_days, now=now, leftovers_allowed=free
        )
        if not dry_run:
            for doomed in plan.delete:
                doomed.entry.manifest_file.unlink(missing_ok=True)  # first: no longer "complete"
                remove_path(doomed.entry.data_path)
            for leftover in plan.leftovers:
                remove_path(leftover.path)
    return plan
