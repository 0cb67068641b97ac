"""Backups in a store (:mod:`dbadmin.backup.store`): list, fetch, verify, restore, prune.

The manifest objects are the catalog, read through the same trust boundary as a directory's
(:mod:`dbadmin.backup.trust`: a manifest must pass its digest and name only its own objects).
Verify and restore first fetch the backup into a private temporary directory (0700, files
0600): the stored bytes are hashed on the way and compared with the manifest (and, when
encrypted, authenticated chunk by chunk while decrypting) before anything reaches a server; the
local checks and restore then run on that copy, which is deleted afterwards.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbadmin.backup.manifest import (
    MANIFEST_SUFFIX,
    TEMPORARY_REASON,
    BackupEntry,
    BackupLocked,
    CorruptBackup,
    Leftover,
    open_entry,
    trusted_manifest,
)
from dbadmin.backup.retention import PrunePlan, check_retention, split_by_retention
from dbadmin.backup.store import BackupStore, PendingUpload, StoredObject
from dbadmin.backup.streamread import DOWNLOAD_CHUNK, needed_key, open_checked
from dbadmin.backup.trust import NAME_RE, check_seal, corrupt, seal
from dbadmin.backup.verify import (
    RECORD_LOCK_WAIT_SECONDS,
    Check,
    VerifyResult,
    verification_record,
    verify_backup,
)
from dbadmin.errors import ProblemFound, UsageError

if TYPE_CHECKING:
    from dbadmin.backup.crypto import BackupKey
    from dbadmin.backup.runner import Notice
    from dbadmin.settings import Settings


@dataclass(frozen=True)
class StoredBackup:
    """A complete backup in a store; ``entry`` names its objects relative to the store."""

    entry: BackupEntry
    document: dict[str, Any]
    stored_size: int

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def encryption(self) -> dict[str, Any] | None:
        info = self.document.get("encryption")
        return info if isinstance(info, dict) else None

    def stored_files(self) -> list[StoredFile]:
        """The backup's objects (one, or the directory format's ``DATA/FILE`` each) with what
        the manifest says they hold; raises CorruptBackup when it does not say."""
        manifest = self.entry.manifest
        info = self.encryption
        if manifest.format != "directory":
            item = manifest.files[0]
            if info:
                size, sha = int(info["stored_size"]), str(info["stored_sha256"])
                return [StoredFile(manifest.data, size, sha, info)]
            return [StoredFile(manifest.data, item.size, item.sha256, None)]
        per_file = info.get("files") if info else None
        found = []
        for item in manifest.files:
            name = f"{manifest.data}/{item.path}"
            if info is None:
                found.append(StoredFile(name, item.size, item.sha256, None))
                continue
            own = per_file.get(item.path) if isinstance(per_file, dict) else None
            if not isinstance(own, dict):
                raise corrupt(name, "the manifest has no encryption details for this file")
            shared = {k: v for k, v in info.items() if k != "files"}
            size, sha = int(own["stored_size"]), str(own["stored_sha256"])
            found.append(StoredFile(name, size, sha, {**shared, **own}))
        return found


@dataclass(frozen=True)
class StoredFile:
    """One object of a stored backup: its name, stored size and sha256, and (when encrypted)
    the manifest's encryption details for it."""

    name: str
    size: int
    sha256: str
    encryption: dict[str, Any] | None


@dataclass(frozen=True)
class StoreCatalog:
    where: str
    backups: tuple[StoredBackup, ...]  # newest first
    leftovers: tuple[StoredObject, ...]  # data objects without a manifest
    pending: tuple[PendingUpload, ...]  # uploads never completed nor aborted
    corrupt: tuple[tuple[str, str], ...]  # (manifest object, reason)

    def refuse_if_corrupt(self, doing: str) -> None:
        if self.corrupt:
            name, reason = self.corrupt[0]
            raise CorruptBackup(
                f"{self.where} holds a corrupt backup ({name}), {doing}: {reason}",
                "look at it (`dbadmin backup list`), then remove it or name the backup to use",
            )


def load_stored(store: BackupStore, man_name: str, sizes: dict[str, int]) -> StoredBackup:
    """A manifest object checked as a directory's manifest is, and its data object present
    with the stored size (raises CorruptBackup)."""
    where = store.url_of(man_name)
    try:
        doc = json.loads(store.read_bytes(man_name))
    except (ValueError, UnicodeDecodeError) as exc:
        raise corrupt(where, f"unreadable manifest ({exc})") from None
    if not isinstance(doc, dict):
        raise corrupt(where, "the manifest is not a JSON object")
    manifest = trusted_manifest(doc, check_seal(doc, where), man_name, where)
    backup = StoredBackup(BackupEntry(manifest, Path(man_name), Path(manifest.data)), doc, 0)
    total = 0
    for item in backup.stored_files():
        if item.name not in sizes:
            raise corrupt(store.url_of(item.name), f"the data of backup {manifest.name} is missing")
        total += sizes[item.name]
    return replace(backup, stored_size=total)


def scan_store(store: BackupStore) -> StoreCatalog:
    objects = store.list()
    sizes = {item.name: item.size for item in objects}
    backups: list[StoredBackup] = []
    broken: list[tuple[str, str]] = []
    claimed: set[str] = set()
    for item in objects:
        if not item.name.endswith(MANIFEST_SUFFIX) or item.name.startswith(".") or "/" in item.name:
            continue
        claimed.add(item.name)
        try:
            found = load_stored(store, item.name, sizes)
        except CorruptBackup as exc:
            broken.append((item.name, exc.what))
            continue
        claimed.update(f.name for f in found.stored_files())
        backups.append(found)
    # a name with a slash is a directory backup's file, or below the store (not ours to judge)
    leftovers = [o for o in objects if o.name not in claimed and _ours(o.name)]
    backups.sort(key=lambda b: (b.entry.finished, b.name), reverse=True)
    return StoreCatalog(
        store.where, tuple(backups), tuple(leftovers), tuple(store.pending_uploads()), tuple(broken)
    )


# the files pg_dump writes in a directory-format dump (a killed run's objects NAME/FILE)
DUMP_FILE_RE = re.compile(r"^(toc\.dat|\d+\.dat(\.\w+)?|blobs_\d+\.toc|blob_\d+\.dat(\.\w+)?)$")


def _ours(name: str) -> bool:
    """Whether an object under the prefix is dbadmin's: a backup's file, or a directory
    backup's ``NAME/FILE`` (anything else below a slash is another prefix's business)."""
    if name.startswith("."):
        return False
    head, slash, tail = name.partition("/")
    return not slash or (NAME_RE.match(head) is not None and DUMP_FILE_RE.match(tail) is not None)


def find_stored(store: BackupStore, ref: str | None, *, latest: bool = False) -> StoredBackup:
    """A backup by NAME, or the newest (refused while a backup in the store is corrupt)."""
    if latest or ref is None:
        catalog = scan_store(store)
        catalog.refuse_if_corrupt("refusing to choose the newest backup")
        if not catalog.backups:
            raise UsageError(f"no complete backup in {store.where}", "run `dbadmin backup` first")
        return catalog.backups[0]
    if not NAME_RE.match(ref):
        raise UsageError(f"bad backup name {ref!r}", "`dbadmin backup list` shows the names")
    sizes = {item.name: item.size for item in store.list()}
    man_name = f"{ref}{MANIFEST_SUFFIX}"
    if man_name not in sizes:
        raise UsageError(f"no backup named {ref!r} in {store.where}", "`dbadmin backup list`")
    return load_stored(store, man_name, sizes)


@contextlib.contextmanager
def fetched(
    store: BackupStore, backup: StoredBackup, key: BackupKey | None
) -> Iterator[BackupEntry]:
    """The backup copied (and decrypted) into a private temporary directory, its stored bytes
    checked against the manifest on the way; deleted on exit. Raises CorruptBackup (changed
    object) or DecryptionFailed (wrong key, changed ciphertext): nothing is yielded then."""
    manifest = backup.entry.manifest
    key = needed_key(backup, key)
    with tempfile.TemporaryDirectory(prefix="dbadmin-fetch-") as tmp:
        folder = Path(tmp)
        os.chmod(folder, 0o700)
        for item in backup.stored_files():
            download(store, item, folder / item.name, key)
        man_file = folder / f"{manifest.name}{MANIFEST_SUFFIX}"
        fd = os.open(man_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(backup.document, handle)
        yield open_entry(man_file)


def download(store: BackupStore, item: StoredFile, path: Path, key: BackupKey | None) -> None:
    """One object into ``path`` (0600, in 0700 folders), decrypted when encrypted; raises
    CorruptBackup naming the object when its bytes are not the manifest's."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open_checked(store, item, key) as source:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(source, out, DOWNLOAD_CHUNK)


def verify_stored(
    settings: Settings,
    store: BackupStore,
    backup: StoredBackup,
    *,
    key: BackupKey | None = None,
    notice: Notice | None = None,
    **checks: Any,
) -> VerifyResult:
    """Fetch, verify as a local backup (``checks``: restore_test, scratch_url...), record."""
    from dbadmin.backup.crypto import DecryptionFailed

    try:
        if backup.entry.manifest.format == "plain" and not checks.get("restore_test"):
            result = verify_plain_streamed(store, backup, key)
        else:
            with fetched(store, backup, key) as entry:
                result = verify_backup(settings, entry, notice=notice, record=False, **checks)
    except (CorruptBackup, DecryptionFailed) as exc:
        check = Check("sha256", False, exc.what)
        result = VerifyResult(backup.name, (check,), (exc.what,))
    recorded = record_stored(store, backup, result, notice=notice)
    return replace(result, recorded=recorded)


def verify_plain_streamed(
    store: BackupStore, backup: StoredBackup, key: BackupKey | None
) -> VerifyResult:
    """A plain script's checks on the stream itself (no temporary copy): the header, the
    trailer and the tables read while the object is hashed (and decrypted); the results count
    only once its sha256 matched (else CorruptBackup or DecryptionFailed is raised)."""
    from dbadmin.backup.integrity import manifest_check, read_script, script_checks
    from dbadmin.backup.streamread import plain_opener

    entry = backup.entry
    shown = store.url_of(entry.manifest.data)
    with plain_opener(store, backup, key)() as handle:
        issue, tables = (
            (None, None) if shown.endswith((".zst", ".lz4")) else read_script(handle, shown)
        )
    checks = [
        Check("sha256", True, "1 file(s) match (checked while streaming)"),
        *script_checks(entry, issue, tables),
        manifest_check(entry),
    ]
    return VerifyResult(backup.name, tuple(checks), tuple(c.detail for c in checks if not c.ok))


def record_stored(
    store: BackupStore, backup: StoredBackup, result: VerifyResult, *, notice: Notice | None
) -> bool:
    """Rewrite the manifest object with the outcome (under the store's lock), unless it was
    pruned or changed meanwhile."""
    man_name = backup.entry.manifest_file.name
    try:
        with store.lock("verify", wait=RECORD_LOCK_WAIT_SECONDS):
            try:
                current = json.loads(store.read_bytes(man_name))
                check_seal(current, man_name)
            except (ValueError, ProblemFound) as exc:
                if notice:
                    notice(f"verification not recorded: {man_name} changed or was removed ({exc})")
                return False
            current["verification"] = verification_record(result)
            store.put_bytes(man_name, (json.dumps(seal(current), indent=2) + "\n").encode())
    except BackupLocked:
        if notice:
            notice(f"verification not recorded: another run holds the lock on {store.where}")
        return False
    return True


def prune_store(
    store: BackupStore,
    *,
    keep: int | None = None,
    keep_days: float | None = None,
    dry_run: bool = False,
    now: dt.datetime | None = None,
    lock_wait: float = 2.0,
) -> PrunePlan:
    """Retention on a store, holding its lock; also aborts the uploads of dead runs."""
    check_retention(keep, keep_days)
    with store.lock("prune", wait=lock_wait):
        catalog = scan_store(store)
        catalog.refuse_if_corrupt("nothing was deleted")
        by_entry = {b.entry.name: b for b in catalog.backups}
        kept, doomed = split_by_retention(
            [b.entry for b in catalog.backups],
            keep=keep,
            keep_days=keep_days,
            now=now or dt.datetime.now(dt.UTC),
            size_of=lambda entry: by_entry[entry.name].stored_size,
        )
        pending = [Leftover(Path(p.name), 0, TEMPORARY_REASON) for p in catalog.pending]
        foreign = [o.name for o in catalog.leftovers]
        if not dry_run:
            for item in doomed:  # the manifest first: nothing is left looking complete
                store.delete(item.entry.manifest_file.name)
                for stored in by_entry[item.entry.name].stored_files():
                    store.delete(stored.name)
            for upload in catalog.pending:
                store.abort_pending(upload)
    note = None
    if foreign:
        note = (
            f"not removing {len(foreign)} object(s) without a manifest ({', '.join(foreign[:3])}):"
            " check and delete them by hand"
        )
    return PrunePlan(Path(store.where), tuple(kept), tuple(doomed), tuple(pending), note)


def locate(
    where: Path | Any, ref: str | None, *, latest: bool = False
) -> BackupEntry | tuple[BackupStore, StoredBackup]:
    """A local backup as an entry, or a stored one (a store's, or an encrypted local one, which
    must be decrypted before the local checks can read it) with its store."""
    from dbadmin.backup.manifest import find_backup, load_document
    from dbadmin.backup.store import open_store

    if not isinstance(where, Path):
        store = open_store(where)
        return store, find_stored(store, ref, latest=latest)
    entry = find_backup(where, ref, latest=latest)
    if not load_document(entry.manifest_file)[0].get("encryption"):
        return entry
    store = open_store(entry.manifest_file.parent)
    return store, find_stored(store, entry.name)
