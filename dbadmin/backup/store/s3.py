"""The S3 store (AWS S3 and S3-compatible services) through boto3, imported only when used.

Credentials come from boto3's standard chain (environment, profile, instance/pod role) and are
never read, printed or passed on by dbadmin; the endpoint from ``--endpoint-url`` or boto3's own
``AWS_ENDPOINT_URL``. Objects are written by multipart upload, so an interrupted upload is
aborted and leaves no object; an upload that cannot be aborted (the process was SIGKILLed) is
aborted by the next run that takes the store's lock (:meth:`S3Store.pending_uploads`).

The lock is an object, ``PREFIX.dbadmin-backup.lock``, created with ``If-None-Match: *`` (only
one writer can create it), holding its owner (host, pid, random token) and an expiry that a
background thread renews while the run lasts. A lock whose expiry passed, or whose owner ran on
this host and is gone, is stale: the next run removes it and takes the lock.
"""

from __future__ import annotations

import builtins
import contextlib
import datetime as dt
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any

from dbadmin.backup.manifest import BackupLocked
from dbadmin.backup.store import (
    LOCK_OBJECT,
    PendingUpload,
    StoredObject,
    StoreUrl,
)
from dbadmin.errors import DbadminError, ExitCode, UsageError

PART_SIZE = 8 * 1024 * 1024  # S3's minimum is 5 MiB (except the last part)
MAX_PART_SIZE = 64 * 1024 * 1024
PARTS_PER_STEP = 1000  # part size doubles every 1000 parts: 10,000 parts reach ~500 GB
UPLOAD_THREADS = 2
LOCK_TTL_SECONDS = 300.0
LOCK_RENEW_SECONDS = 60.0
LOCK_POLL_SECONDS = 0.5


class StoreError(DbadminError):
    """The object store refused or failed a request (exit 5, like a backup that cannot be
    written). The message carries the service's error code, never credentials."""

    exit_code = ExitCode.EXTERNAL


def _boto3() -> Any:
    try:
        import boto3
    except ImportError:
        raise UsageError(
            "backups on s3:// need boto3, which is not installed",
            'pip install "dbadmin[s3]"',
        ) from None
    return boto3


def store_error(exc: BaseException, doing: str) -> StoreError:
    response = getattr(exc, "response", None) or {}
    code = (response.get("Error") or {}).get("Code") or type(exc).__name__
    return StoreError(f"object store: {doing} failed ({code})", _hint(code))


def _hint(code: str) -> str:
    if code in ("NoCredentialsError", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
        return "set AWS credentials (environment, AWS_PROFILE or an instance role)"
    if code in ("NoSuchBucket",):
        return "create the bucket first, or check the s3:// URL"
    if code in ("AccessDenied", "403"):
        return "the credentials lack permission on this bucket/prefix"
    return "check the endpoint (--endpoint-url / AWS_ENDPOINT_URL), the bucket and the network"


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str((response.get("Error") or {}).get("Code") or "")


class S3Store:
    def __init__(self, location: StoreUrl) -> None:
        boto3 = _boto3()
        from botocore.config import Config

        self.location = location
        self.client = boto3.client(
            "s3",
            endpoint_url=location.endpoint_url,
            config=Config(
                retries={"max_attempts": 5, "mode": "standard"},
                # botocore >= 1.36 adds CRC headers to every upload by default, which several
                # S3-compatible services reject; TLS guards the transfer, and the object's
                # sha256 is checked on every verify/restore
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )
        self.bucket = location.bucket
        self.where = str(location)

    def url_of(self, name: str) -> str:
        return self.location.url_of(name)

    def key(self, name: str) -> str:
        return self.location.prefix + name

    # --- reading -------------------------------------------------------------------------------
    def list(self) -> list[StoredObject]:
        found: list[StoredObject] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.location.prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    name = item["Key"][len(self.location.prefix) :]
                    if name:  # NAME/FILE: a directory-format backup's files
                        found.append(StoredObject(name, int(item["Size"]), item["LastModified"]))
        except Exception as exc:
            raise store_error(exc, f"listing {self.location}") from None
        return found

    def read_bytes(self, name: str) -> bytes:
        try:
            return bytes(
                self.client.get_object(Bucket=self.bucket, Key=self.key(name))["Body"].read()
            )
        except Exception as exc:
            raise store_error(exc, f"reading {self.location.url_of(name)}") from None

    @contextlib.contextmanager
    def open_read(self, name: str) -> Iterator[IO[bytes]]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.key(name))["Body"]
        except Exception as exc:
            raise store_error(exc, f"reading {self.location.url_of(name)}") from None
        try:
            yield body
        finally:
            body.close()

    # --- writing -------------------------------------------------------------------------------
    def put_bytes(self, name: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.key(name), Body=data)
        except Exception as exc:
            raise store_error(exc, f"writing {self.location.url_of(name)}") from None

    def delete(self, name: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key(name))
        except Exception as exc:
            raise store_error(exc, f"deleting {self.location.url_of(name)}") from None

    def upload(self, name: str) -> MultipartUpload:
        return MultipartUpload(self, name)

    def pending_uploads(self) -> builtins.list[PendingUpload]:  # `list` is a method here
        found: list[PendingUpload] = []
        try:
            pages = self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=self.location.prefix
            )
            for page in pages:
                for item in page.get("Uploads", []):
                    name = item["Key"][len(self.location.prefix) :]
                    if "/" not in name:  # s3://b/p/sub/ is another location, with its own lock
                        found.append(PendingUpload(name, item["UploadId"], item["Initiated"]))
        except Exception as exc:
            raise store_error(exc, f"listing unfinished uploads in {self.location}") from None
        return found

    def abort_pending(self, upload: PendingUpload) -> None:
        try:
            self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=self.key(upload.name), UploadId=upload.upload_id
            )
        except Exception as exc:
            if _code(exc) != "NoSuchUpload":
                raise store_error(exc, f"aborting an upload of {upload.name}") from None

    # --- the lock ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, purpose: str, *, wait: float = 0.0) -> Iterator[dt.datetime]:
        """Hold the store's lock object; yields when it was taken (uploads started before that
        belong to runs that no longer hold the lock)."""
        token = uuid.uuid4().hex
        deadline = time.monotonic() + wait
        while True:
            acquired = dt.datetime.now(dt.UTC)
            if self._try_lock(purpose, token):
                break
            holder = self._lock_holder()
            if holder is not None and _stale(holder):
                self._remove_lock_if(holder.get("token"))
                continue
            if time.monotonic() >= deadline:
                who = (holder or {}).get("owner", "unknown")
                raise BackupLocked(
                    f"another dbadmin run holds the lock on {self.location} ({who}); nothing was "
                    "done",
                    "wait for it to finish (a lock whose holder died expires after "
                    f"{LOCK_TTL_SECONDS:.0f} s)",
                )
            time.sleep(LOCK_POLL_SECONDS)
        stop = threading.Event()
        renewer = threading.Thread(
            target=self._renew, args=(purpose, token, stop), daemon=True, name="dbadmin-lock"
        )
        renewer.start()
        try:
            yield acquired
        finally:
            stop.set()
            renewer.join(timeout=5)
            self._remove_lock_if(token)

    def _lock_body(self, purpose: str, token: str) -> bytes:
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=LOCK_TTL_SECONDS)
        host = socket.gethostname()
        return json.dumps(
            {
                "owner": f"{purpose} pid {os.getpid()} on {host}",
                "host": host,
                "pid": os.getpid(),
                "token": token,
                "expires_at": expires.isoformat(),
            }
        ).encode()

    def _try_lock(self, purpose: str, token: str) -> bool:
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.key(LOCK_OBJECT),
                Body=self._lock_body(purpose, token),
                IfNoneMatch="*",
            )
        except Exception as exc:
            if _code(exc) in ("PreconditionFailed", "ConditionalRequestConflict", "412"):
                return False
            raise store_error(exc, f"taking the lock on {self.location}") from None
        return True

    def _lock_holder(self) -> dict[str, Any] | None:
        try:
            raw = self.client.get_object(Bucket=self.bucket, Key=self.key(LOCK_OBJECT))["Body"]
            doc = json.loads(raw.read())
        except Exception as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                return None
            if isinstance(exc, ValueError):
                return {"owner": "unreadable lock object", "expires_at": ""}
            raise store_error(exc, f"reading the lock on {self.location}") from None
        return doc if isinstance(doc, dict) else {"owner": "unreadable lock object"}

    def _remove_lock_if(self, token: str | None) -> None:
        holder = self._lock_holder()
        if holder is not None and holder.get("token") == token:
            with contextlib.suppress(StoreError):
                self.delete(LOCK_OBJECT)

    def _renew(self, purpose: str, token: str, stop: threading.Event) -> None:
        while not stop.wait(LOCK_RENEW_SECONDS):
            with contextlib.suppress(Exception):
                holder = self._lock_holder()
                if holder is None or holder.get("token") != token:
                    return  # taken over (we were presumed dead): do not fight over it
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=self.key(LOCK_OBJECT),
                    Body=self._lock_body(purpose, token),
                )


def _stale(holder: dict[str, Any]) -> bool:
    """Expired, or held by a process of this host that no longer exists."""
    try:
        expires = dt.datetime.fromisoformat(str(holder.get("expires_at")))
    except ValueError:
        return True
    if expires <= dt.datetime.now(dt.UTC):
        return True
    if holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int):
        try:
            os.kill(holder["pid"], 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
    return False


class MultipartUpload:
    """One object written as a multipart upload, started at once (so an interrupted run always
    has an upload to abort, and a SIGKILLed one leaves one the next run finds). Parts go up on
    two threads while the next part fills: memory holds at most three parts."""

    def __init__(self, store: S3Store, name: str) -> None:
        self.store = store
        self.name = name
        self.key = store.key(name)
        try:
            created = store.client.create_multipart_upload(Bucket=store.bucket, Key=self.key)
        except Exception as exc:
            raise store_error(
                exc, f"starting the upload of {store.location.url_of(name)}"
            ) from None
        self.upload_id: str = created["UploadId"]
        self.buffer = bytearray()
        self.parts: list[Future[dict[str, Any]]] = []
        self.pool = ThreadPoolExecutor(max_workers=UPLOAD_THREADS, thread_name_prefix="dbadmin-up")
        self.slots = threading.Semaphore(UPLOAD_THREADS)
        self.part_size = PART_SIZE
        self.done = False

    def write(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= self.part_size:
            part = bytes(self.buffer[: self.part_size])
            del self.buffer[: self.part_size]
            self._send(part)

    def _send(self, part: bytes) -> None:
        self._raise_failed()
        self.slots.acquire()
        number = len(self.parts) + 1
        if number % PARTS_PER_STEP == 0:
            self.part_size = min(self.part_size * 2, MAX_PART_SIZE)

        def put() -> dict[str, Any]:
            try:
                res = self.store.client.upload_part(
                    Bucket=self.store.bucket,
                    Key=self.key,
                    UploadId=self.upload_id,
                    PartNumber=number,
                    Body=part,
                )
                return {"PartNumber": number, "ETag": res["ETag"]}
            finally:
                self.slots.release()

        self.parts.append(self.pool.submit(put))

    def _raise_failed(self) -> None:
        for future in self.parts:
            if future.done() and future.exception() is not None:
                exc = future.exception()
                assert exc is not None
                raise store_error(exc, f"uploading {self.store.location.url_of(self.name)}")

    def complete(self) -> None:
        if self.buffer or not self.parts:
            self._send(bytes(self.buffer))
            self.buffer = bytearray()
        try:
            parts = [future.result() for future in self.parts]
        except Exception as exc:
            raise store_error(exc, f"uploading {self.store.location.url_of(self.name)}") from None
        finally:
            self.pool.shutdown(wait=True)
        try:
            self.store.client.complete_multipart_upload(
                Bucket=self.store.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                MultipartUpload={"Parts": parts},
            )
        except Exception as exc:
            raise store_error(exc, f"completing {self.store.location.url_of(self.name)}") from None
        self.done = True

    def abort(self) -> None:
        """Stop and remove the parts (idempotent; quiet: it runs while another error unwinds)."""
        if self.done:
            return
        self.done = True
        self.pool.shutdown(wait=True, cancel_futures=True)
        with contextlib.suppress(Exception):
            self.store.client.abort_multipart_upload(
                Bucket=self.store.bucket, Key=self.key, UploadId=self.upload_id
            )
