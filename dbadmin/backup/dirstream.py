"""Directory-format backups into a store (``s3://...``): one object per file of pg_dump's.

pg_dump writes the directory format's files itself (it cannot write that format to a pipe), so
it dumps into a private (0700) temporary directory; once it exited 0, every file is uploaded as
its own object ``NAME/FILE`` (hashed, and encrypted on its own when asked: a fresh nonce prefix
per file, the same chunked AES-256-GCM format as :mod:`dbadmin.backup.crypto`), and its local
copy is deleted as soon as its object is complete. Peak local disk is therefore the dump's size.
The manifest object is written last; any failure or interruption deletes the objects already
uploaded, aborts the current upload and removes the temporary directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbadmin.backup.manifest import FileEntry, data_files, path_size
from dbadmin.backup.store import StoreUrl
from dbadmin.backup.streamed import READ_SIZE, StreamTarget
from dbadmin.errors import UsageError

if TYPE_CHECKING:
    from dbadmin.backup.create import BackupOptions
    from dbadmin.settings import Settings


class DirectoryStreamTarget(StreamTarget):
    """The ``create_backup`` target for ``--format directory`` in a store."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.uploaded: list[str] = []
        self.per_file: dict[str, dict[str, Any]] = {}
        self.sent = 0
        self.describe: dict[str, Any] | None = None

    def start(self, data: str) -> Path:
        self.data = data
        self.tmp = Path(tempfile.mkdtemp(prefix="dbadmin-dump-"))  # 0700
        return self.tmp / data  # pg_dump creates it

    def taken_names(self) -> set[str]:
        """Also NAME when objects NAME/FILE exist (a killed run's): never mix two dumps."""
        names = super().taken_names()
        return names | {name.split("/", 1)[0] for name in names if "/" in name}

    def written(self) -> int:
        return self.sent + (path_size(self.tmp) if self.tmp is not None else 0)

    def raise_own_failure(self) -> None:
        return None  # nothing runs beside pg_dump

    def abort(self) -> None:
        if self.upload is not None:
            self.upload.abort()
            self.upload = None
        self.delete_data()
        self._cleanup()

    def delete_data(self) -> None:
        for name in self.uploaded:
            with contextlib.suppress(Exception):
                self.store.delete(name)
        self.uploaded = []

    def finish(self) -> list[FileEntry]:
        assert self.tmp is not None
        try:
            files = [self._upload_file(rel, path) for rel, path in data_files(self.tmp / self.data)]
        except BaseException:
            self.abort()
            raise
        self._cleanup()
        return files

    def _upload_file(self, rel: str, path: Path) -> FileEntry:
        """One file as the object ``DATA/REL``, through the same hashing and encryption as the
        streamed formats; its local copy is deleted once the object is complete."""
        name = f"{self.data}/{rel}"
        self.plain_size, self.plain_hash = 0, hashlib.sha256()
        self.stored_size, self.stored_hash = 0, hashlib.sha256()
        if self.key is not None:
            from dbadmin.backup.crypto import Encryptor

            self.encryptor = Encryptor(self.key)
        self.upload = self.store.upload(name)
        with open(path, "rb") as handle:
            while chunk := handle.read(READ_SIZE):
                self._feed(chunk)
        self._end()
        self.upload.complete()
        self.uploaded.append(name)
        self.upload = None
        path.unlink()
        self.sent += self.plain_size
        if self.encryptor is not None:
            described = self.encryptor.describe()
            self.per_file[rel] = {
                "nonce_prefix": described.pop("nonce_prefix"),
                "stored_size": self.stored_size,
                "stored_sha256": self.stored_hash.hexdigest(),
            }
            self.describe = described
        return FileEntry(rel, self.plain_size, self.plain_hash.hexdigest())

    def encryption_info(self) -> dict[str, Any] | None:
        """Shared settings, and per file its nonce prefix and stored size and sha256."""
        if self.describe is None:
            return None
        return {**self.describe, "files": self.per_file}


def stream_target(
    where: StoreUrl | Path, settings: Settings, options: BackupOptions
) -> StreamTarget:
    """The target a store (or an encrypted local backup) is written through: one object per
    backup, or one per file for the directory format."""
    from dbadmin.backup.store import open_store

    key = None
    if options.encrypt:
        from dbadmin.backup.crypto import require_key

        key = require_key(settings.env, "--encrypt")
    if options.format == "directory":
        if not isinstance(where, StoreUrl):
            raise UsageError(
                "an encrypted backup in a local directory cannot use --format directory",
                "use --format custom (the default) or plain, or a store (s3://...)",
            )
        return DirectoryStreamTarget(open_store(where), key)
    return StreamTarget(open_store(where), key)
