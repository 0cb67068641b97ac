"""Where backups live: a local directory or an object store (``s3://bucket/prefix``).

A store is a flat namespace of objects under one prefix, with the few operations a backup needs
(:class:`BackupStore`): list, stream an object in (:meth:`BackupStore.upload`, which either
completes or leaves nothing), stream one out, delete, and an exclusive lock with an owner and an
expiry. The same layout as a backup directory: ``NAME.dump`` / ``NAME.sql[.gz]`` plus
``NAME.manifest.json``, written last. S3 and every S3-compatible service is implemented; sftp or
Azure Blob would be one more class with these methods.
"""

from __future__ import annotations

import builtins
import datetime as dt
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

from dbadmin.errors import UsageError

if TYPE_CHECKING:
    from dbadmin.settings import Settings

STORE_SCHEMES = ("s3",)
LOCK_OBJECT = ".dbadmin-backup.lock"


@dataclass(frozen=True)
class StoreUrl:
    """``s3://bucket/prefix``; ``endpoint_url`` for S3-compatible services (MinIO, R2...)."""

    scheme: str
    bucket: str
    prefix: str  # "" or ending with "/"
    endpoint_url: str | None = None

    def __str__(self) -> str:
        return f"{self.scheme}://{self.bucket}/{self.prefix}"

    def url_of(self, name: str) -> str:
        return f"{self}{name}"


@dataclass(frozen=True)
class StoredObject:
    name: str  # relative to the prefix
    size: int
    modified: dt.datetime


@dataclass(frozen=True)
class PendingUpload:
    """An upload that was started and never completed nor aborted (a killed run's)."""

    name: str
    upload_id: str
    initiated: dt.datetime


class Upload(Protocol):
    """An object being written: invisible until :meth:`complete`; :meth:`abort` leaves nothing."""

    def write(self, data: bytes) -> None: ...
    def complete(self) -> None: ...
    def abort(self) -> None: ...


class BackupStore(Protocol):
    where: str  # for messages: the URL or the directory

    def url_of(self, name: str) -> str: ...
    def list(self) -> list[StoredObject]: ...
    def upload(self, name: str) -> Upload: ...
    def open_read(self, name: str) -> AbstractContextManager[IO[bytes]]: ...
    def read_bytes(self, name: str) -> bytes: ...
    def put_bytes(self, name: str, data: bytes) -> None: ...
    def delete(self, name: str) -> None: ...
    def pending_uploads(self) -> builtins.list[PendingUpload]: ...  # `list` is a method here
    def abort_pending(self, upload: PendingUpload) -> None: ...
    def lock(self, purpose: str, *, wait: float = 0.0) -> AbstractContextManager[dt.datetime]: ...


def is_store_url(text: str | Path | None) -> bool:
    return (
        isinstance(text, str)
        and text.split("://", 1)[0].lower() in STORE_SCHEMES
        and ("://" in text)
    )


def parse_store_url(text: str, endpoint_url: str | None = None) -> StoreUrl:
    scheme, _, rest = text.partition("://")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise UsageError(f"no bucket in {text!r}", "use s3://BUCKET/PREFIX")
    prefix = prefix.strip("/")
    if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
        raise UsageError(f"bad prefix in {text!r}", "use s3://BUCKET/PATH/TO/BACKUPS")
    return StoreUrl(scheme.lower(), bucket, f"{prefix}/" if prefix else "", endpoint_url or None)


def backup_location(
    directory: str | Path | None, settings: Settings, endpoint_url: str | None = None
) -> Path | StoreUrl:
    """``--dir`` (a path or a store URL), else ``DBADMIN_BACKUP_DIR``, else the default folder."""
    raw: str | Path | None = directory
    if raw is None:
        configured = settings.env.get("DBADMIN_BACKUP_DIR")
        if configured and is_store_url(configured):
            raw = configured
    if isinstance(raw, str) and is_store_url(raw):
        return parse_store_url(raw, endpoint_url)
    if raw is None:
        return settings.backup_dir.resolve()
    return Path(raw).expanduser().resolve()


def open_store(location: StoreUrl | Path) -> BackupStore:
    if isinstance(location, Path):
        from dbadmin.backup.store.local import LocalStore

        return LocalStore(location)
    from dbadmin.backup.store.s3 import S3Store

    return S3Store(location)
