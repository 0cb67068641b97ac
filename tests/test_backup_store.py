"""Backups in object storage (issue 20): `--dir s3://...` against a real S3-compatible server
(moto's server mode on a loopback port, started here), streaming, aborts, locks, encryption.

Every fault is real: a `python -m dbadmin backup` process is SIGKILLed while its multipart
upload is open, a `--timeout` stops a pg_dump stuck on a lock, a byte of a stored object is
flipped, and backups are read with the wrong key.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import test_backup
from conftest import PASSWORD, Cli, PgServer
from moto.server import ThreadedMotoServer
from test_backup import EXPECTED_ROWS, fingerprint

from dbadmin.backup.trust import seal
from dbadmin.errors import ExitCode

source = test_backup.source  # the same fixture: a database with SCHEMA_SQL
KEY_HEX = "00112233445566778899aabbccddeeff" * 2
OTHER_KEY_HEX = "ffeeddccbbaa99887766554433221100" * 2


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@dataclass
class Bucket:
    client: Any
    name: str
    url: str  # s3://bucket/prefix
    prefix: str

    def objects(self) -> list[str]:
        res = self.client.list_objects_v2(Bucket=self.name)
        return sorted(item["Key"] for item in res.get("Contents", []))

    def uploads(self) -> list[dict[str, Any]]:
        return list(self.client.list_multipart_uploads(Bucket=self.name).get("Uploads", []))

    def read(self, name: str) -> bytes:
        key = self.prefix + name
        return bytes(self.client.get_object(Bucket=self.name, Key=key)["Body"].read())

    def write(self, name: str, body: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=self.prefix + name, Body=body)


@pytest.fixture
def bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Bucket:
    env = {
        "AWS_ACCESS_KEY_ID": "dbadmin-test-id",
        "AWS_SECRET_ACCESS_KEY": "dbadmin-test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3_endpoint,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    name = f"bk-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return Bucket(client, name, f"s3://{name}/nightly", "nightly/")


def _restore_into_new(
    cli: Cli, pg_server: PgServer, url: str, name: str, where: str, **env: str
) -> tuple[Any, str]:
    target = f"from_store_{uuid.uuid4().hex[:8]}"
    res = cli(
        "restore", name, "--dir", where, "-d", url,
        "--target-url", pg_server.password_url(target).render(), "--create", "--yes", "--json",
        env=env or None,
    )  # fmt: skip
    return res, target


# --- round trips -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fmt", "encrypt"), [("custom", False), ("plain", False), ("custom", True), ("plain", True)]
)
def test_s3_round_trip_matches_source(
    fmt: str, encrypt: bool, cli: Cli, pg_server: PgServer, source: str, bucket: Bucket
) -> None:
    url = pg_server.password_url(source).render()
    env = {"DBADMIN_BACKUP_KEY": KEY_HEX} if encrypt else {}
    extra = ["--encrypt"] if encrypt else []
    res = cli(
        "backup", "-F", fmt, *extra, "-d", url, "--dir", bucket.url, "--name", "b1", "--json",
        env=env or None,
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert doc["path"].startswith(bucket.url) and doc["manifest"]["row_counts"] == EXPECTED_ROWS  # type: ignore[index]
    data = "b1.dump" if fmt == "custom" else "b1.sql"
    assert bucket.objects() == sorted([f"nightly/{data}", "nightly/b1.manifest.json"])
    assert bucket.uploads() == []
    stored = json.loads(bucket.read("b1.manifest.json"))
    raw = bucket.read(data)
    if encrypt:
        assert stored["encryption"]["algorithm"] == "AES-256-GCM"
        assert stored["encryption"]["chunk_size"] == 1024 * 1024
        assert KEY_HEX not in json.dumps(stored) and b"PGDMP" not in raw[:64]
        assert b"customers" not in raw
    else:
        assert "encryption" not in stored
        assert raw.startswith(b"PGDMP" if fmt == "custom" else b"--")

    listed = cli("backup", "list", "--dir", bucket.url, "--json")
    assert listed.exit_code == 0, listed.stderr
    [entry] = listed.json()["backups"]  # type: ignore[index]
    assert entry["name"] == "b1" and entry["path"] == f"{bucket.url}/{data}"

    verified = cli("backup", "verify", "b1", "--dir", bucket.url, "--json", env=env or None)
    assert verified.exit_code == 0, verified.stderr
    assert verified.json()["ok"] is True  # type: ignore[index]
    again = cli("backup", "list", "--dir", bucket.url, "--json").json()
    assert again["backups"][0]["verified"] == "ok"  # type: ignore[index]

    res2, target = _restore_into_new(cli, pg_server, url, "b1", bucket.url, **env)
    try:
        assert res2.exit_code == 0, res2.stderr
        assert res2.json()["row_counts"] == EXPECTED_ROWS  # type: ignore[index]
        assert res2.json()["path"] == f"{bucket.url}/{data}"  # type: ignore[index]
        assert fingerprint(pg_server, target) == fingerprint(pg_server, source)
    finally:
        pg_server.drop_database(target)
    for text in (res.stdout, res.stderr, res2.stdout, res2.stderr, verified.stdout):
        assert PASSWORD not in text and "dbadmin-test-secret" not in text and KEY_HEX not in text


def test_encrypted_backup_in_a_local_directory_round_trips(
    cli: Cli, pg_server: PgServer, source: str, tmp_path: Path
) -> None:
    url = pg_server.password_url(source).render()
    where = str(tmp_path / "bk")
    env = {"DBADMIN_BACKUP_KEY": KEY_HEX}
    res = cli("backup", "--encrypt", "-d", url, "--dir", where, "--name", "e1", "--json", env=env)
    assert res.exit_code == 0, res.stderr
    data = tmp_path / "bk" / "e1.dump"
    assert (data.stat().st_mode & 0o777) == 0o600 and b"PGDMP" not in data.read_bytes()[:64]
    assert not [p for p in (tmp_path / "bk").iterdir() if ".partial" in p.name]
    ok = cli("backup", "verify", "e1", "--dir", where, "--json", env=env)
    assert ok.exit_code == 0 and ok.json()["ok"] is True, ok.stderr  # type: ignore[index]
    wrong = cli("backup", "verify", "e1", "--dir", where, env={"DBADMIN_BACKUP_KEY": OTHER_KEY_HEX})
    assert wrong.exit_code == ExitCode.PROBLEM and "wrong backup key" in wrong.stderr
    res2, target = _restore_into_new(cli, pg_server, url, "e1", where, **env)
    try:
        assert res2.exit_code == 0, res2.stderr
        assert fingerprint(pg_server, target) == fingerprint(pg_server, source)
    finally:
        pg_server.drop_database(target)


# --- faults --------------------------------------------------------------------------------------
def _hold_lock(pg_server: PgServer, db: str) -> Any:
    import psycopg2

    conn = psycopg2.connect(**pg_server.url(db).connect_kwargs())
    conn.cursor().execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
    return conn


def _backup_stuck_in_upload(pg_server: PgServer, source: str, bucket: Bucket) -> Any:
    """A `python -m dbadmin backup` to the bucket whose upload is open while pg_dump waits on a
    lock: returns (process, lock-holding connection)."""
    url = pg_server.password_url(source).render()
    holder = _hold_lock(pg_server, source)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dbadmin", "backup", "-d", url, "--dir", bucket.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ},
    )
    deadline = time.monotonic() + 60
    while not bucket.uploads() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    if not bucket.uploads():
        holder.close()
        proc.kill()
        raise AssertionError(f"no upload started: {proc.communicate(timeout=30)[1]!r}")
    # stuck for good: pg_dump waits on the held lock (not a signal racing the upload's creation)
    while time.monotonic() < deadline and proc.poll() is None:
        waiting = pg_server.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
            source,
        )
        if waiting[0][0]:
            break
        time.sleep(0.1)
    return proc, holder


def test_sigkilled_backup_leaves_nothing_listed_and_its_upload_is_aborted_next_run(
    pg_server: PgServer, source: str, bucket: Bucket, cli: Cli
) -> None:
    proc, holder = _backup_stuck_in_upload(pg_server, source, bucket)
    try:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        holder.close()
    listed = cli("backup", "list", "--dir", bucket.url, "--json")
    assert listed.exit_code == 0, listed.stderr
    doc = listed.json()
    assert doc["backups"] == [] and len(doc["unfinished_uploads"]) == 1  # type: ignore[index]
    assert "nightly/.dbadmin-backup.lock" in bucket.objects()  # the dead run's lock object
    # the next run takes over the dead owner's lock and aborts the upload it left
    url = pg_server.password_url(source).render()
    again = cli("backup", "-d", url, "--dir", bucket.url, "--name", "after", "--json")
    assert again.exit_code == 0, again.stderr
    assert bucket.uploads() == []
    assert bucket.objects() == ["nightly/after.dump", "nightly/after.manifest.json"]


def test_sigterm_aborts_the_upload_and_releases_the_lock(
    pg_server: PgServer, source: str, bucket: Bucket
) -> None:
    proc, holder = _backup_stuck_in_upload(pg_server, source, bucket)
    try:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        holder.close()
    assert proc.returncode != 0, err
    assert bucket.uploads() == [] and bucket.objects() == []


def test_timeout_aborts_the_upload(
    pg_server: PgServer, source: str, bucket: Bucket, cli: Cli
) -> None:
    url = pg_server.password_url(source).render()
    holder = _hold_lock(pg_server, source)
    try:
        res = cli("backup", "-d", url, "--dir", bucket.url, "--timeout", "2s")
    finally:
        holder.close()
    assert res.exit_code == ExitCode.TIMEOUT, res.stderr
    assert "nothing was kept" in res.stderr
    assert bucket.uploads() == [] and bucket.objects() == []


def test_flipped_byte_in_the_store_fails_verify_and_restore(
    pg_server: PgServer, source: str, bucket: Bucket, cli: Cli
) -> None:
    url = pg_server.password_url(source).render()
    assert cli("backup", "-d", url, "--dir", bucket.url, "--name", "b1").exit_code == 0
    raw = bytearray(bucket.read("b1.dump"))
    raw[len(raw) // 2] ^= 0x01
    bucket.write("b1.dump", bytes(raw))
    bad = cli("backup", "verify", "b1", "--dir", bucket.url, "--json")
    assert bad.exit_code == ExitCode.PROBLEM
    assert "sha256 mismatch" in bad.stderr and f"{bucket.url}/b1.dump" in bad.stderr
    res = restore_refused(cli, pg_server, url, bucket, "b1")
    assert "sha256 mismatch" in res.stderr


def restore_refused(
    cli: Cli, pg_server: PgServer, url: str, bucket: Bucket, name: str, env: Any = None
) -> Any:
    """Restore NAME into an existing empty database: exit 1, and the database is unchanged."""
    target = pg_server.create_database()
    try:
        before = pg_server.execute("SELECT count(*) FROM pg_class", target)
        res = cli(
            "restore", name, "--dir", bucket.url, "-d", url,
            "--target-url", pg_server.password_url(target).render(), "--yes", env=env,
        )  # fmt: skip
        assert res.exit_code == ExitCode.PROBLEM, res.stderr
        assert pg_server.execute("SELECT count(*) FROM pg_class", target) == before
    finally:
        pg_server.drop_database(target)
    return res


def test_encrypted_backup_refuses_wrong_key_tampering_and_loose_key_files(
    pg_server: PgServer, source: str, bucket: Bucket, cli: Cli, tmp_path: Path
) -> None:
    url = pg_server.password_url(source).render()
    key_file = tmp_path / "backup.key"
    key_file.write_text(KEY_HEX + "\n")
    key_file.chmod(0o644)
    loose = cli(
        "backup", "--encrypt", "-d", url, "--dir", bucket.url,
        env={"DBADMIN_BACKUP_KEY_FILE": str(key_file)},
    )  # fmt: skip
    assert loose.exit_code == ExitCode.USAGE and "chmod 600" in loose.stderr
    none = cli("backup", "--encrypt", "-d", url, "--dir", bucket.url)
    assert none.exit_code == ExitCode.USAGE and "DBADMIN_BACKUP_KEY" in none.stderr
    key_file.chmod(0o600)
    env = {"DBADMIN_BACKUP_KEY_FILE": str(key_file)}
    res = cli("backup", "--encrypt", "-d", url, "--dir", bucket.url, "--name", "e1", env=env)
    assert res.exit_code == 0, res.stderr
    assert bucket.uploads() == [] and bucket.objects()[-1] == "nightly/e1.manifest.json"

    wrong = cli(
        "backup", "verify", "e1", "--dir", bucket.url, env={"DBADMIN_BACKUP_KEY": OTHER_KEY_HEX}
    )
    assert wrong.exit_code == ExitCode.PROBLEM and "wrong backup key" in wrong.stderr
    assert OTHER_KEY_HEX not in wrong.stderr + wrong.stdout
    target = pg_server.create_database()
    try:
        res = cli(
            "restore", "e1", "--dir", bucket.url, "-d", url,
            "--target-url", pg_server.password_url(target).render(), "--yes",
            env={"DBADMIN_BACKUP_KEY": OTHER_KEY_HEX},
        )  # fmt: skip
        assert res.exit_code == ExitCode.PROBLEM and "wrong backup key" in res.stderr
    finally:
        pg_server.drop_database(target)

    raw = bytearray(bucket.read("e1.dump"))
    raw[len(raw) // 2] ^= 0x01
    bucket.write("e1.dump", bytes(raw))
    tampered = cli("backup", "verify", "e1", "--dir", bucket.url, env=env)
    assert tampered.exit_code == ExitCode.PROBLEM and "decryption failed" in tampered.stderr
    raw[len(raw) // 2] ^= 0x01
    bucket.write("e1.dump", bytes(raw[:-1]))  # truncated by one byte
    cut = cli("backup", "verify", "e1", "--dir", bucket.url, env=env)
    assert cut.exit_code == ExitCode.PROBLEM


def _age(bucket: Bucket, name: str, days: float) -> None:
    """Make backup ``name`` look ``days`` old (its manifest re-sealed, as dbadmin writes it)."""
    doc = json.loads(bucket.read(f"{name}.manifest.json"))
    when = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    doc["finished_at"] = when.isoformat()
    bucket.write(f"{name}.manifest.json", json.dumps(seal(doc)).encode())


def test_prune_on_the_store_keeps_the_newest_and_what_the_flags_say(
    pg_server: PgServer, source: str, bucket: Bucket, cli: Cli
) -> None:
    url = pg_server.password_url(source).render()
    for name in ("b1", "b2", "b3", "b4"):
        res = cli("backup", "--schema-only", "-d", url, "--dir", bucket.url, "--name", name)
        assert res.exit_code == 0, res.stderr
    _age(bucket, "b1", 30)
    _age(bucket, "b2", 20)
    _age(bucket, "b3", 2)
    res = cli(
        "backup", "prune", "--keep", "1", "--keep-days", "5", "--dir", bucket.url, "--yes", "--json"
    )
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert doc["kept"] == ["b4", "b3"]  # type: ignore[index]
    assert sorted(d["name"] for d in doc["deleted"]) == ["b1", "b2"]  # type: ignore[index]
    assert [k.split("/")[-1] for k in bucket.objects()] == [
        "b3.dump", "b3.manifest.json", "b4.dump", "b4.manifest.json"
    ]  # fmt: skip
    res = cli("backup", "prune", "--keep", "0", "--dir", bucket.url, "--yes", "--json")
    assert res.exit_code == 0 and res.json()["kept"] == ["b4"], res.stderr  # type: ignore[index]

    # another host's live lock: prune waits --wait seconds, then exit 1 with nothing deleted
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).isoformat()
    lock = {"owner": "backup pid 1 on elsewhere", "host": "elsewhere", "pid": 1,
            "token": "t", "expires_at": expires}  # fmt: skip
    bucket.write(".dbadmin-backup.lock", json.dumps(lock).encode())
    held = cli("backup", "prune", "--keep", "0", "--dir", bucket.url, "--yes", "--wait", "0")
    assert held.exit_code == ExitCode.PROBLEM and "elsewhere" in held.stderr
    assert "nightly/b4.manifest.json" in bucket.objects()
    taken = cli("backup", "-d", url, "--dir", bucket.url)
    assert taken.exit_code == ExitCode.PROBLEM and "holds the lock" in taken.stderr
    # an expired lock is stale: taken over
    lock["expires_at"] = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).isoformat()
    bucket.write(".dbadmin-backup.lock", json.dumps(lock).encode())
    ok = cli("backup", "prune", "--keep", "1", "--dir", bucket.url, "--yes")
    assert ok.exit_code == 0, ok.stderr
    assert ".dbadmin-backup.lock" not in " ".join(bucket.objects())


def test_store_usage_errors(
    pg_server: PgServer,
    source: str,
    bucket: Bucket,
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    url = pg_server.password_url(source).render()
    local = tmp_path / "bk"
    res = cli(
        "backup", "-F", "directory", "--encrypt", "-d", url, "--dir", str(local),
        env={"DBADMIN_BACKUP_KEY": KEY_HEX},
    )  # fmt: skip
    assert res.exit_code == ExitCode.USAGE and "--format custom" in res.stderr
    assert not local.exists() or list(local.iterdir()) == []
    assert bucket.objects() == [] and bucket.uploads() == []
    missing = cli("backup", "-d", url, "--dir", "s3://no-such-bucket-dbadmin/p")
    assert missing.exit_code == ExitCode.EXTERNAL and "(NoSuchBucket)" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) <= 2  # one line (+ hint), no traceback
    assert "dbadmin-test-secret" not in missing.stderr
    monkeypatch.setitem(sys.modules, "boto3", None)  # as if boto3 were not installed
    res = cli("backup", "list", "--dir", bucket.url)
    assert (
        res.exit_code == ExitCode.USAGE
        and "pip install" in res.stderr
        and "dbadmin[s3]" in res.stderr
    )


def test_backup_dir_from_the_environment_and_migrate_backup(
    pg_server: PgServer, fresh_db: Any, bucket: Bucket, cli: Cli
) -> None:
    env = {"DBADMIN_BACKUP_DIR": bucket.url}
    res = cli("migrate", "up", "--backup", "-d", fresh_db.render(), "--json", env=env)
    assert res.exit_code == 0, res.stderr
    assert "taken before migrating" in res.stderr and bucket.url in res.stderr
    res = cli("backup", "-d", fresh_db.render(), "--name", "viaenv", "--json", env=env)
    assert res.exit_code == 0, res.stderr
    listed = cli("backup", "list", "--json", env=env).json()
    backups = listed["backups"]  # type: ignore[index]
    assert len(backups) == 2 and backups[0]["name"] == "viaenv"
    assert backups[1]["alembic_revision"] is None  # taken before the migration
    assert backups[0]["alembic_revision"]
    # another location nested under this prefix keeps its own unfinished uploads
    bucket.client.create_multipart_upload(Bucket=bucket.name, Key="nightly/sub/x.dump")
    assert cli("backup", "prune", "--keep", "1", "--yes", env=env).exit_code == 0
    assert [u["Key"] for u in bucket.uploads()] == ["nightly/sub/x.dump"]


def test_children_do_not_inherit_the_backup_key_or_aws_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dbadmin.backup.runner import tool_env
    from dbadmin.urls import DbUrl

    monkeypatch.setenv("DBADMIN_BACKUP_KEY", KEY_HEX)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "dbadmin-test-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "dbadmin-test-token")
    env = tool_env(DbUrl.parse("postgresql://u:pw@localhost/db"))
    assert not {"DBADMIN_BACKUP_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} & set(env)
    assert env["PGPASSWORD"] == "pw"


# --- the pieces: chunked encryption, multipart upload ---------------------------------------------
@pytest.mark.parametrize("size", [0, 1, 2 * 1024 * 1024, 2 * 1024 * 1024 + 12345])
def test_chunked_encryption_round_trips_and_detects_reordering_and_truncation(size: int) -> None:
    import io

    from dbadmin.backup.crypto import (
        CHUNK_SIZE,
        TAG_SIZE,
        BackupKey,
        DecryptionFailed,
        Encryptor,
        decrypt_stream,
    )

    key = BackupKey(bytes.fromhex(KEY_HEX))
    plain = os.urandom(size)
    enc = Encryptor(key)
    pieces = [enc.update(plain[i : i + 300_000]) for i in range(0, size, 300_000)]
    cipher = b"".join(pieces) + enc.finish()
    info = enc.describe()
    assert KEY_HEX not in json.dumps(info) and "BackupKey(id=" in repr(key)

    def decrypt(data: bytes, with_key: BackupKey = key) -> bytes:
        return b"".join(decrypt_stream(with_key, info, io.BytesIO(data)))

    assert decrypt(cipher) == plain
    whole = CHUNK_SIZE + TAG_SIZE
    with pytest.raises(DecryptionFailed, match="wrong backup key"):
        decrypt(cipher, BackupKey(bytes.fromhex(OTHER_KEY_HEX)))
    broken = [cipher[:-1], cipher + b"\0"]  # truncated, extended
    if size >= 2 * CHUNK_SIZE:
        first, second = cipher[:whole], cipher[whole : 2 * whole]
        broken.append(second + first + cipher[2 * whole :])  # reordered
        broken.append(cipher[:whole])  # cut at a chunk boundary
    for data in broken:
        with pytest.raises(DecryptionFailed):
            decrypt(data)


def test_multipart_upload_of_several_parts_and_abort(bucket: Bucket) -> None:
    from dbadmin.backup.store import parse_store_url
    from dbadmin.backup.store.s3 import PART_SIZE, S3Store

    store = S3Store(parse_store_url(bucket.url))
    data = os.urandom(2 * PART_SIZE + 4321)
    upload = store.upload("big.dump")
    for i in range(0, len(data), 1_000_000):
        upload.write(data[i : i + 1_000_000])
    upload.complete()
    assert bucket.read("big.dump") == data and bucket.uploads() == []
    with store.open_read("big.dump") as handle:
        assert handle.read() == data
    dropped = store.upload("dropped.dump")
    dropped.write(data[: PART_SIZE + 1])  # one part sent
    dropped.abort()
    assert bucket.uploads() == [] and "nightly/dropped.dump" not in bucket.objects()


def test_restore_test_of_an_encrypted_backup_in_the_store(
    pg_server: PgServer, source: str, bucket: Bucket, cli: Cli
) -> None:
    url = pg_server.url(source).render()
    env = {"DBADMIN_BACKUP_KEY": KEY_HEX}
    res = cli("backup", "--encrypt", "-d", url, "--dir", bucket.url, "--name", "b", env=env)
    assert res.exit_code == 0, res.stderr
    res = cli(
        "backup", "verify", "--latest", "--restore-test", "--scratch-url",
        pg_server.url("postgres").render(), "--dir", bucket.url, "--json", env=env,
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert doc["row_counts"] == EXPECTED_ROWS  # type: ignore[index]
    assert doc["checks"][-1]["name"] == "restore-test"  # type: ignore[index]
    assert not pg_server.execute("SELECT 1 FROM pg_database WHERE datname LIKE 'dbadmin_verify_%'")
    listed = cli("backup", "list", "--dir", bucket.url, "--json").json()
    assert listed["backups"][0]["verified"] == "ok (restore-tested)"  # type: ignore[index]
    stored = json.loads(bucket.read("b.manifest.json"))
    assert stored["encryption"]["key_id"] and stored["verification"]["restore_test"] is True
    no_key = cli("backup", "verify", "b", "--dir", bucket.url)
    assert no_key.exit_code == ExitCode.USAGE and "DBADMIN_BACKUP_KEY" in no_key.stderr
