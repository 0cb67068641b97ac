"""Backups streamed into a store (``s3://...``, or a directory when encrypting).

pg_dump writes into a FIFO in a private (0700) temporary directory; a thread reads it in 1 MiB
pieces, hashes them (sha256 of what pg_dump wrote, and of what is stored), encrypts them when
asked (:mod:`dbadmin.backup.crypto`) and feeds the store's upload, which sends fixed-size parts:
memory holds a few parts and the local disk holds nothing. The upload is completed only after
pg_dump exited 0 and the row counts are in; the manifest object is written last, so a backup
exists only once its manifest does. Any failure or interruption (an error, Ctrl-C, SIGTERM,
``--timeout``) aborts the upload: no object, no parts. A SIGKILLed run's upload is aborted by
the next run or prune that takes the store's lock (uploads started before that moment belong to
runs that no longer hold it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbadmin.backup.manifest import MANIFEST_SUFFIX, BackupWriteError, FileEntry
from dbadmin.backup.store import BackupStore, Upload
from dbadmin.backup.trust import seal
from dbadmin.errors import DbadminError

if TYPE_CHECKING:
    from dbadmin.backup.crypto import BackupKey, Encryptor

READ_SIZE = 1024 * 1024
JOIN_SECONDS = 30.0


class StreamTarget:
    """The ``create_backup`` target (see ``create.DirectoryTarget``) for a store."""

    dump_args = ("--no-sync",)  # pg_dump cannot fsync a pipe; the store makes it durable

    def __init__(self, store: BackupStore, key: BackupKey | None) -> None:
        self.store = store
        self.key = key
        self.where = store.where
        self.acquired: Any = None
        self.tmp: Path | None = None
        self.fifo: Path | None = None
        self.upload: Upload | None = None
        self.thread: threading.Thread | None = None
        self.encryptor: Encryptor | None = None
        self.cancelled = False
        self.error: BaseException | None = None
        self.plain_size = 0
        self.plain_hash = hashlib.sha256()
        self.stored_size = 0
        self.stored_hash = hashlib.sha256()
        self.data = ""

    # --- the run's frame -----------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        with self.store.lock("backup") as acquired:
            self.acquired = acquired
            yield

    def clean_stale(self) -> None:
        """Abort the uploads of runs that died without aborting them (SIGKILL, power loss)."""
        for pending in self.store.pending_uploads():
            if pending.initiated < self.acquired:
                self.store.abort_pending(pending)

    def taken_names(self) -> set[str]:
        return {item.name for item in self.store.list()}

    def location_of(self, name: str) -> str:
        return self.store.url_of(name)

    def written(self) -> int:
        return self.plain_size

    # --- the stream ----------------------------------------------------------------------------
    def start(self, data: str) -> Path:
        self.data = data
        self.tmp = Path(tempfile.mkdtemp(prefix="dbadmin-stream-"))  # 0700
        self.fifo = self.tmp / "pg_dump.pipe"
        os.mkfifo(self.fifo, 0o600)
        if self.key is not None:
            from dbadmin.backup.crypto import Encryptor

            self.encryptor = Encryptor(self.key)
        try:
            self.upload = self.store.upload(data)
        except BaseException:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        self.thread = threading.Thread(target=self._pump, daemon=True, name="dbadmin-stream")
        self.thread.start()
        return self.fifo

    def _send(self, chunk: bytes) -> None:
        assert self.upload is not None
        if chunk:
            self.stored_size += len(chunk)
            self.stored_hash.update(chunk)
            self.upload.write(chunk)

    def _feed(self, chunk: bytes) -> None:
        """Hash one piece of pg_dump's output, encrypt it when asked, send it."""
        self.plain_size += len(chunk)
        self.plain_hash.update(chunk)
        self._send(self.encryptor.update(chunk) if self.encryptor else chunk)

    def _end(self) -> None:
        if self.encryptor is not None:
            self._send(self.encryptor.finish())

    def _pump(self) -> None:
        assert self.fifo is not None
        try:
            with open(self.fifo, "rb") as pipe:
                while not self.cancelled and (chunk := pipe.read(READ_SIZE)):
                    self._feed(chunk)
                if not self.cancelled:
                    self._end()
        except BaseException as exc:  # closing the pipe makes pg_dump fail (EPIPE)
            self.error = exc

    def raise_own_failure(self) -> None:
        if self.error is not None:
            self.abort()
            if isinstance(self.error, DbadminError):
                raise self.error
            raise BackupWriteError(
                f"streaming the backup to {self.where} failed: {self.error}; nothing was kept"
            ) from None

    def abort(self) -> None:
        """Stop the pump (unblocking it if pg_dump never opened the FIFO) and abort the upload."""
        self.cancelled = True
        if self.fifo is not None and self.thread is not None and self.thread.is_alive():
            with contextlib.suppress(OSError):
                os.close(os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK))
            self.thread.join(JOIN_SECONDS)
        if self.upload is not None:
            self.upload.abort()
        self._cleanup()

    def _cleanup(self) -> None:
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def finish(self) -> list[FileEntry]:
        assert self.thread is not None and self.upload is not None
        try:
            self.thread.join()
            self.raise_own_failure()
            self.upload.complete()
        except BaseException:
            self.abort()
            raise
        self._cleanup()
        return [FileEntry(self.data, self.plain_size, self.plain_hash.hexdigest())]

    def encryption_info(self) -> dict[str, Any] | None:
        """The manifest's ``encryption`` (None when not encrypted)."""
        if self.encryptor is None:
            return None
        return {
            **self.encryptor.describe(),
            "stored_size": self.stored_size,
            "stored_sha256": self.stored_hash.hexdigest(),
        }

    def delete_data(self) -> None:
        with contextlib.suppress(Exception):
            self.store.delete(self.data)

    def write_manifest(self, name: str, document: dict[str, Any]) -> str:
        info = self.encryption_info()
        if info is not None:
            document = seal({**document, "encryption": info})
        man_name = f"{name}{MANIFEST_SUFFIX}"
        body = (json.dumps(document, indent=2) + "\n").encode()
        try:
            self.store.put_bytes(man_name, body)
        except BaseException:
            self.delete_data()  # data without a manifest is not a backup
            raise
        return self.store.url_of(man_name)
