"""`dbadmin backup prune`: retention by count and age, and cleanup of killed runs' temporaries.

A backup survives if it is among the newest ``keep`` OR younger than ``keep_days``; the newest
complete backup always survives (even ``--keep 0``): pruning must never leave zero backups.
Deleting removes the manifest first, so an interrupted prune never leaves a backup that looks
complete but is not.

Prune holds the directory lock (the one ``backup`` holds while it writes) for the whole run,
dry runs included: it never looks at, or deletes in, a directory a backup is writing to. It
waits up to ``lock_wait`` seconds (default 2, enough for a ``verify`` recording its outcome),
then fails with exit 1 ("another dbadmin run holds the lock ... nothing was done").

A directory holding a corrupt backup (a manifest that fails its digest, names files outside
its own, is a symbolic link, or whose data is missing or a link) is not pruned at all: exit 1,
nothing deleted, until someone has looked at it. Only entries of the directory itself are ever
deleted, and a symbolic link is removed as a link, never followed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dbadmin.backup.manifest import (
    BackupEntry,
    Leftover,
    directory_lock,
    now_utc,
    path_size,
    remove_inside,
    scan,
)
from dbadmin.errors import UsageError

# `backup verify` holds the lock only while it rewrites one manifest: wait that out; a backup
# run holds it for minutes, and then prune fails (exit 1) instead of waiting that long.
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
    leftovers_note: str | None  # files prune leaves alone (not dbadmin's temporaries)

    @property
    def bytes_freed(self) -> int:
        return sum(d.size_bytes for d in self.delete) + sum(x.size_bytes for x in self.leftovers)


def check_retention(keep: int | None, keep_days: float | None) -> None:
    if keep is None and keep_days is None:
        raise UsageError(
            "say what to keep", "pass --keep N and/or --keep-days D (e.g. --keep-days 7)"
        )
    if (keep is not None and keep < 0) or (keep_days is not None and keep_days < 0):
        raise UsageError("--keep and --keep-days must not be negative")


def split_by_retention(
    backups: Sequence[BackupEntry],
    *,
    keep: int | None,
    keep_days: float | None,
    now: dt.datetime,
    size_of: Callable[[BackupEntry], int],
) -> tuple[list[BackupEntry], list[Doomed]]:
    """(kept, doomed) of ``backups`` (newest first) by the retention rule; the newest is kept.
    Shared by directories and stores."""
    kept: list[BackupEntry] = []
    doomed: list[Doomed] = []
    for index, entry in enumerate(backups):  # newest first
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
        doomed.append(Doomed(entry, ", ".join(reasons), size_of(entry)))
    return kept, doomed


def plan_prune(
    directory: Path,
    *,
    keep: int | None = None,
    keep_days: float | None = None,
    now: dt.datetime | None = None,
) -> PrunePlan:
    """What a prune would delete (raises CorruptBackup when the directory holds a corrupt
    backup). Call it holding the directory lock, as :func:`prune` does."""
    check_retention(keep, keep_days)
    catalog = scan(directory)
    catalog.refuse_if_corrupt("nothing was deleted")
    kept, doomed = split_by_retention(
        catalog.backups, keep=keep, keep_days=keep_days, now=now or now_utc(),
        size_of=lambda entry: path_size(entry.data_path),
    )  # fmt: skip
    note = None
    foreign = [x for x in catalog.leftovers if not x.removable]
    if foreign:
        names = ", ".join(x.path.name for x in foreign[:3])
        note = (
            f"not removing {len(foreign)} file(s) dbadmin did not leave as temporaries "
            f"({names}): check and delete them by hand"
        )
    return PrunePlan(
        directory=directory,
        keep=tuple(kept),
        delete=tuple(doomed),
        leftovers=tuple(x for x in catalog.leftovers if x.removable),
        leftovers_note=note,
    )


def prune(
    directory: Path,
    *,
    keep: int | None = None,
    keep_days: float | None = None,
    dry_run: bool = False,
    now: dt.datetime | None = None,
    lock_wait: float = LOCK_WAIT_SECONDS,
) -> PrunePlan:
    """Plan and (unless ``dry_run``) delete, holding the directory lock throughout (waiting up
    to ``lock_wait`` seconds for it, then BackupLocked: exit 1, nothing done)."""
    if not directory.is_dir():
        return PrunePlan(directory, (), (), (), None)
    with directory_lock(directory, "prune", wait=lock_wait):
        plan = plan_prune(directory, keep=keep, keep_days=keep_days, now=now)
        if not dry_run:
            for doomed in plan.delete:
                # the manifest first: an interrupted prune leaves nothing looking complete
                remove_inside(directory, doomed.entry.manifest_file)
                remove_inside(directory, doomed.entry.data_path)
            for leftover in plan.leftovers:
                remove_inside(directory, leftover.path)
    return plan
