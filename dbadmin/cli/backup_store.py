"""`dbadmin backup list` for a store (``s3://...``); the other commands share their code with
the directory's (see :mod:`dbadmin.cli.backup`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dbadmin.cli.common import notice

if TYPE_CHECKING:
    from dbadmin.api import BackupList


def list_store(found: BackupList, *, wide: bool = False) -> None:
    """The table and notices of a store's listing (``--json`` prints ``found.as_dict()``)."""
    from dbadmin.cli.backup import print_backup_table
    from dbadmin.render import human_bytes

    store, catalog = found.store, found.store_catalog
    assert store is not None and catalog is not None
    rows = [
        (
            b.name,
            b.entry.finished.strftime("%Y-%m-%d %H:%M:%S UTC"),
            human_bytes(b.stored_size),
            b.entry.manifest.format + (" (encrypted)" if b.encryption else ""),
            b.entry.manifest.alembic_revision or "-",
            b.entry.verified,
        )
        for b in catalog.backups
    ]
    rows += [(name, "-", "-", "-", "-", "CORRUPT") for name, _ in catalog.corrupt]
    print_backup_table(store.where, rows, wide=wide)
    for item in catalog.leftovers:
        notice(f"object {store.url_of(item.name)} has no manifest (not a backup); check it")
    for pending in catalog.pending:
        notice(
            f"unfinished upload of {pending.name} from {pending.initiated:%Y-%m-%d %H:%M}; the "
            "next backup or prune aborts it"
        )
    for _name, reason in catalog.corrupt:
        notice(f"{reason} (verify, restore and prune refuse it)")
