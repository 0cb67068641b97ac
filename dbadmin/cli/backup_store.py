"""`dbadmin backup list` for a store (``s3://...``); the other commands share their code with
the directory's (see :mod:`dbadmin.cli.backup`)."""

from __future__ import annotations

from typing import Any

from dbadmin.cli.common import notice, print_json


def list_store(location: Any, json_output: bool, *, wide: bool = False) -> None:
    from dbadmin.backup.remote import scan_store
    from dbadmin.backup.store import open_store
    from dbadmin.cli.backup import entry_document, print_backup_table
    from dbadmin.render import human_bytes

    store = open_store(location)
    catalog = scan_store(store)
    if json_output:
        backups = []
        for found in catalog.backups:
            doc = entry_document(found.entry)
            doc["path"] = store.url_of(found.entry.manifest.data)
            doc["encryption"] = found.encryption
            backups.append(doc)
        print_json(
            {
                "directory": store.where,
                "backups": backups,
                "leftovers": [
                    {"path": store.url_of(o.name), "size_bytes": o.size, "reason": "no manifest"}
                    for o in catalog.leftovers
                ],
                "unfinished_uploads": [
                    {"path": store.url_of(p.name), "initiated": p.initiated.isoformat()}
                    for p in catalog.pending
                ],
                "corrupt": [{"name": n, "reason": r} for n, r in catalog.corrupt],
            }
        )
        return
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
