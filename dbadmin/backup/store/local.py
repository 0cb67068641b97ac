"""A backup directory seen as a store: the same files, locks and atomic renames as
:mod:`dbadmin.backup.manifest` (encrypted local backups are written through it)."""

from __future__ import annotations

import builtins
import contextlib
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from dbadmin.backup.manifest import (
    LOCK_NAME,
    PARTIAL_MARK,
    BackupWriteError,
    directory_lock,
    ensure_private_dir,
    fsync_path,
    remove_inside,
    remove_path,
)
from dbadmin.backup.store import PendingUpload, StoredObject


class FileUpload:
    """A ``.NAME.partial-PID`` temporary renamed into place by :meth:`complete`."""

    def __init__(self, directory: Path, name: str) -> None:
        self.final = directory / name
        self.temp = directory / f".{name}{PARTIAL_MARK}-{os.getpid()}"
        fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        self.handle = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> None:
        try:
            self.handle.write(data)
        except OSError as exc:
            raise BackupWriteError(f"cannot write {self.temp}: {exc.strerror or exc}") from None

    def complete(self) -> None:
        try:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            os.replace(self.temp, self.final)
            fsync_path(self.final.parent)
        except OSError as exc:
            self.abort()
            raise BackupWriteError(f"cannot finish {self.final}: {exc.strerror or exc}") from None

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.handle.close()
        remove_path(self.temp)


class LocalStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.where = str(directory)

    def url_of(self, name: str) -> str:
        return str(self.directory / name)

    def list(self) -> list[StoredObject]:
        if not self.directory.is_dir():
            return []
        found = []
        for item in sorted(self.directory.iterdir()):
            if item.is_file() and not item.is_symlink() and PARTIAL_MARK not in item.name:
                info = item.stat()
                when = dt.datetime.fromtimestamp(info.st_mtime, dt.UTC)
                found.append(StoredObject(item.name, info.st_size, when))
        return found

    def upload(self, name: str) -> FileUpload:
        ensure_private_dir(self.directory)
        return FileUpload(self.directory, name)

    @contextlib.contextmanager
    def open_read(self, name: str) -> Iterator[IO[bytes]]:
        fd = os.open(self.directory / name, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as handle:
            yield handle

    def read_bytes(self, name: str) -> bytes:
        with self.open_read(name) as handle:
            return handle.read()

    def put_bytes(self, name: str, data: bytes) -> None:
        upload = self.upload(name)
        try:
            upload.write(data)
        except BaseException:
            upload.abort()
            raise
        upload.complete()

    def delete(self, name: str) -> None:
        remove_inside(self.directory, self.directory / name)

    def pending_uploads(self) -> builtins.list[PendingUpload]:  # `list` is a method here
        if not self.directory.is_dir():
            return []
        return [
            PendingUpload(item.name, "", dt.datetime.fromtimestamp(item.lstat().st_mtime, dt.UTC))
            for item in sorted(self.directory.iterdir())
            if PARTIAL_MARK in item.name and item.name != LOCK_NAME
        ]

    def abort_pending(self, upload: PendingUpload) -> None:
        remove_inside(self.directory, self.directory / upload.name)

    @contextlib.contextmanager
    def lock(self, purpose: str, *, wait: float = 0.0) -> Iterator[dt.datetime]:
        # a flock dies with its holder: every temporary found under it is a dead run's
        with directory_lock(self.directory, purpose, wait=wait):
            yield dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
