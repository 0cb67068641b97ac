"""Backup encryption: AES-256-GCM in independent chunks, so it streams in constant memory.

Format (``dbadmin-aes256gcm-v1``): the ciphertext of plaintext chunk ``i`` (``CHUNK_SIZE``
bytes, the last one shorter, possibly empty) followed by its 16-byte tag, chunks back to back,
nothing else. Chunk ``i``'s 96-bit nonce is the backup's random 64-bit prefix followed by ``i``
(32 bits, big-endian): no nonce repeats within a backup, and across backups only with the
chance of two equal random prefixes. Its associated data is ``FORMAT | prefix | i | final``
(``final`` one byte, 1 on the last chunk), so a reordered, dropped, truncated or appended chunk
fails authentication. The key is 32 bytes given as 64 hex characters in ``DBADMIN_BACKUP_KEY``
or in a file named by ``DBADMIN_BACKUP_KEY_FILE`` that only its owner may read; the manifest
records the prefix and the key's id (first 16 hex digits of sha256 over a label and the key),
never the key.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from dbadmin.errors import ProblemFound, UsageError


class ByteReader(Protocol):
    """What decryption reads from: a file, a store's download, a hashing wrapper around one."""

    def read(self, size: int = -1, /) -> bytes: ...


FORMAT = "dbadmin-aes256gcm-v1"
ALGORITHM = "AES-256-GCM"
CHUNK_SIZE = 1024 * 1024
TAG_SIZE = 16
KEY_ENV = "DBADMIN_BACKUP_KEY"
KEY_FILE_ENV = "DBADMIN_BACKUP_KEY_FILE"


class DecryptionFailed(ProblemFound):
    """Wrong key, or the ciphertext was changed (exit 1)."""


@dataclass(frozen=True)
class BackupKey:
    secret: bytes = b""

    def __repr__(self) -> str:  # never print the key
        return f"BackupKey(id={self.key_id})"

    @property
    def key_id(self) -> str:
        return hashlib.sha256(b"dbadmin backup key id\0" + self.secret).hexdigest()[:16]


def _parse_hex(text: str, where: str) -> BackupKey:
    value = text.strip()
    if len(value) != 64 or any(ch not in "0123456789abcdefABCDEF" for ch in value):
        raise UsageError(
            f"the backup key in {where} is not 64 hex characters (256 bits)",
            "generate one with: openssl rand -hex 32",
        )
    return BackupKey(bytes.fromhex(value))


def load_key(env: Mapping[str, str]) -> BackupKey | None:
    """The key from the environment or its file; None when neither is set."""
    if env.get(KEY_ENV):
        return _parse_hex(env[KEY_ENV], KEY_ENV)
    if not env.get(KEY_FILE_ENV):
        return None
    path = Path(env[KEY_FILE_ENV]).expanduser()
    try:
        # a link is fine (Kubernetes mounts secrets as links): the mode checked is the file's
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise UsageError(
            f"cannot read the backup key file {path} ({KEY_FILE_ENV}): {exc.strerror or exc}"
        ) from None
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if stat.S_IMODE(mode) & 0o077:
            raise UsageError(
                f"the backup key file {path} is readable by group or others "
                f"(mode {stat.S_IMODE(mode):04o}); refusing to use it",
                f"chmod 600 {path}",
            )
        text = handle.read(200).decode("ascii", "replace")
    return _parse_hex(text, f"{KEY_FILE_ENV} ({path})")


def require_key(env: Mapping[str, str], doing: str) -> BackupKey:
    key = load_key(env)
    if key is None:
        raise UsageError(
            f"{doing} needs the backup key",
            f"set {KEY_ENV} (64 hex characters) or {KEY_FILE_ENV} (a 0600 file holding them)",
        )
    return key


def _aead(key: BackupKey) -> Any:
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:
        raise UsageError(
            "encrypted backups need the cryptography package", 'pip install "dbadmin[s3]"'
        ) from None
    return AESGCM(key.secret)


def _nonce_and_aad(prefix: bytes, index: int, final: bool) -> tuple[bytes, bytes]:
    counter = index.to_bytes(4, "big")
    return prefix + counter, FORMAT.encode() + prefix + counter + (b"\1" if final else b"\0")


class Encryptor:
    """Feed plaintext with :meth:`update`, end with :meth:`finish`; each returns ciphertext.
    One chunk is held back until more data shows it was not the last."""

    def __init__(self, key: BackupKey) -> None:
        self.key = key
        self.aead = _aead(key)
        self.prefix = os.urandom(8)
        self.index = 0
        self.pending = bytearray()

    def _seal(self, chunk: bytes, final: bool) -> bytes:
        if self.index >= 2**32:
            raise UsageError("backup too large for one encryption stream (4 PiB)")
        nonce, aad = _nonce_and_aad(self.prefix, self.index, final)
        self.index += 1
        return bytes(self.aead.encrypt(nonce, chunk, aad))

    def update(self, data: bytes) -> bytes:
        self.pending += data
        out = bytearray()
        while len(self.pending) > CHUNK_SIZE:
            out += self._seal(bytes(self.pending[:CHUNK_SIZE]), False)
            del self.pending[:CHUNK_SIZE]
        return bytes(out)

    def finish(self) -> bytes:
        last, self.pending = bytes(self.pending), bytearray()
        return self._seal(last, True)

    def describe(self) -> dict[str, Any]:
        """What the manifest says (no secret: the prefix is public, the key id a hash)."""
        return {
            "format": FORMAT,
            "algorithm": ALGORITHM,
            "chunk_size": CHUNK_SIZE,
            "nonce_prefix": self.prefix.hex(),
            "key_id": self.key.key_id,
        }


def decrypt_stream(key: BackupKey, info: dict[str, Any], source: ByteReader) -> Iterator[bytes]:
    """Plaintext chunks of an encrypted stream described by ``info`` (the manifest's
    ``encryption``); raises :class:`DecryptionFailed` on a wrong key or changed byte."""
    from cryptography.exceptions import InvalidTag

    if info.get("format") != FORMAT:
        raise DecryptionFailed(f"unknown encryption format {info.get('format')!r}")
    if info.get("key_id") != key.key_id:
        raise DecryptionFailed(
            f"wrong backup key: the backup was encrypted with key id {info.get('key_id')}, "
            f"this key's id is {key.key_id}",
            f"set {KEY_ENV}/{KEY_FILE_ENV} to the key the backup was taken with",
        )
    aead = _aead(key)
    prefix = bytes.fromhex(str(info.get("nonce_prefix", "")))
    size = int(info.get("chunk_size", CHUNK_SIZE)) + TAG_SIZE
    index = 0
    current = _read_full(source, size)
    while True:
        following = _read_full(source, size) if len(current) == size else b""
        final = not following
        nonce, aad = _nonce_and_aad(prefix, index, final)
        try:
            yield bytes(aead.decrypt(nonce, current, aad))
        except InvalidTag:
            raise DecryptionFailed(
                f"decryption failed at chunk {index}: the backup was changed, truncated or "
                "reordered",
                "nothing was restored; use another backup (`dbadmin backup list`)",
            ) from None
        if final:
            return
        current, index = following, index + 1


def _read_full(source: ByteReader, size: int) -> bytes:
    buf = bytearray()
    while len(buf) < size:
        chunk = source.read(size - len(buf))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)
