"""Reading a stored object as a checked stream: decrypted (each chunk authenticated) and hashed
on the way, and its size and sha256 compared with the manifest when its end is reached.

The end of the stream is where the verdict is given: the read that meets the object's end
raises :class:`CorruptBackup` (naming the object) instead of returning ``b""`` when its bytes
are not the manifest's. A plain-format restore from a store feeds psql from such a stream inside
the restore's one transaction, and the ``COMMIT`` is written only after the stream ended without
raising (:func:`dbadmin.backup.restore.transaction_wrapped`): a changed object rolls everything
back, and no temporary copy is written. A custom archive cannot be read this way (pg_restore
seeks), so it is still fetched into a temporary file (:func:`dbadmin.backup.remote.fetched`).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any

from dbadmin.backup.trust import corrupt

if TYPE_CHECKING:
    from dbadmin.backup.crypto import BackupKey
    from dbadmin.backup.remote import StoredBackup, StoredFile
    from dbadmin.backup.store import BackupStore

DOWNLOAD_CHUNK = 1024 * 1024


class Hashing:
    """A reader that hashes and counts what passes through it."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = bytes(self.source.read(size))
        self.digest.update(data)
        self.size += len(data)
        return data


class CheckedReader(io.RawIOBase):
    """The plaintext of one stored object; the read at its end checks size and sha256."""

    def __init__(self, source: Any, item: StoredFile, key: BackupKey | None, where: str) -> None:
        super().__init__()
        self.hashed = Hashing(source)
        self.item = item
        self.where = where
        if item.encryption:
            from dbadmin.backup.crypto import decrypt_stream

            assert key is not None
            self.chunks: Iterator[bytes] = decrypt_stream(key, item.encryption, self.hashed)
        else:
            self.chunks = iter(lambda: self.hashed.read(DOWNLOAD_CHUNK), b"")
        self.pending = memoryview(b"")
        self.ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self.pending and not self.ended:
            chunk = next(self.chunks, None)
            if chunk is None:
                self._check_end()
            else:
                self.pending = memoryview(chunk)
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size

    def _check_end(self) -> None:
        self.ended = True
        while self.hashed.read(DOWNLOAD_CHUNK):  # bytes after the last chunk count too
            pass
        if self.hashed.size != self.item.size:
            raise corrupt(
                self.where, f"size {self.hashed.size} bytes, manifest says {self.item.size}"
            )
        if self.hashed.digest.hexdigest() != self.item.sha256:
            raise corrupt(
                self.where, "sha256 mismatch (the stored object changed since the backup)"
            )

    def drain(self) -> None:
        """Read to the end (which checks it), e.g. after a gzip member ended."""
        while self.read(DOWNLOAD_CHUNK):
            pass


@contextlib.contextmanager
def open_checked(
    store: BackupStore, item: StoredFile, key: BackupKey | None
) -> Iterator[CheckedReader]:
    with store.open_read(item.name) as source:
        yield CheckedReader(source, item, key, store.url_of(item.name))


def needed_key(backup: StoredBackup, key: BackupKey | None) -> BackupKey | None:
    """The key, required (exit 2 without it) when the backup is encrypted."""
    if backup.encryption and key is None:
        from dbadmin.backup.crypto import require_key

        return require_key({}, f"backup {backup.name} is encrypted: reading it")
    return key


def plain_opener(
    store: BackupStore, backup: StoredBackup, key: BackupKey | None
) -> Callable[[], contextlib.AbstractContextManager[IO[bytes]]]:
    """For :class:`dbadmin.backup.restore.RestorePlan`'s ``open_data``: the plain script of a
    stored backup as a stream (gunzipped for ``.sql.gz``); leaving the ``with`` normally means
    the whole object was read and matched its manifest."""
    key = needed_key(backup, key)
    [item] = backup.stored_files()
    gz = backup.entry.manifest.data.endswith(".gz")

    @contextlib.contextmanager
    def opened() -> Iterator[IO[bytes]]:
        with open_checked(store, item, key) as raw:
            buffered = io.BufferedReader(raw, DOWNLOAD_CHUNK)
            # GzipFile reads like an IO[bytes]; typeshed declares it a BufferedIOBase only
            yield gzip.GzipFile(fileobj=buffered, mode="rb") if gz else buffered  # type: ignore[misc]
            buffered.detach()
            raw.drain()

    return opened
