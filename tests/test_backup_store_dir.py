"""Directory-format backups in object storage (issue 20): pg_dump's files each uploaded as an
object ``NAME/FILE`` (encrypted one by one with ``--encrypt``), fetched back, checked, restored.
Against moto's S3 server (see test_backup_store)."""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest
import test_backup
from conftest import PASSWORD, Cli, PgServer
from test_backup import EXPECTED_ROWS, fingerprint
from test_backup_store import KEY_HEX, Bucket, bucket, restore_refused, s3_endpoint

from dbadmin.backup.store.s3 import StoreError
from dbadmin.errors import ExitCode

source = test_backup.source
__all__ = ["bucket", "s3_endpoint"]  # fixtures shared with test_backup_store


def _backup_dir(cli: Cli, url: str, bucket: Bucket, env: dict[str, str]) -> Any:
    extra = ["--encrypt"] if env else []
    return cli(
        "backup", "-F", "directory", *extra, "-d", url, "--dir", bucket.url, "--name", "d1",
        "--json", env=env or None,
    )  # fmt: skip


@pytest.mark.parametrize("encrypt", [False, True])
def test_directory_format_round_trip_on_s3(
    encrypt: bool, cli: Cli, pg_server: PgServer, source: str, bucket: Bucket
) -> None:
    url = pg_server.password_url(source).render()
    env = {"DBADMIN_BACKUP_KEY": KEY_HEX} if encrypt else {}
    res = _backup_dir(cli, url, bucket, env)
    assert res.exit_code == 0, res.stderr
    assert res.json()["manifest"]["row_counts"] == EXPECTED_ROWS  # type: ignore[index]
    stored = json.loads(bucket.read("d1.manifest.json"))
    files = [f["path"] for f in stored["files"]]
    assert "toc.dat" in files and len(files) > 1
    expected = sorted([f"nightly/d1/{f}" for f in files] + ["nightly/d1.manifest.json"])
    assert bucket.objects() == expected and bucket.uploads() == []
    toc = bucket.read("d1/toc.dat")
    if encrypt:
        per_file = stored["encryption"]["files"]
        assert sorted(per_file) == sorted(files)
        prefixes = {info["nonce_prefix"] for info in per_file.values()}
        assert len(prefixes) == len(files)  # a fresh nonce prefix per file
        assert not toc.startswith(b"PGDMP") and KEY_HEX not in json.dumps(stored)
    else:
        assert toc.startswith(b"PGDMP") and "encryption" not in stored

    listed = cli("backup", "list", "--dir", bucket.url, "--json")
    assert listed.exit_code == 0, listed.stderr
    [entry] = listed.json()["backups"]  # type: ignore[index]
    assert entry["name"] == "d1"
    assert listed.json().get("leftovers") in (None, [])  # type: ignore[union-attr]

    verified = cli("backup", "verify", "d1", "--dir", bucket.url, "--json", env=env or None)
    assert verified.exit_code == 0, verified.stderr
    assert verified.json()["ok"] is True  # type: ignore[index]

    target = f"from_store_{uuid.uuid4().hex[:8]}"
    restored = cli(
        "restore", "d1", "--dir", bucket.url, "-d", url,
        "--target-url", pg_server.password_url(target).render(), "--create", "--yes", "--json",
        env=env or None,
    )  # fmt: skip
    try:
        assert restored.exit_code == 0, restored.stderr
        assert restored.json()["row_counts"] == EXPECTED_ROWS  # type: ignore[index]
        assert fingerprint(pg_server, target) == fingerprint(pg_server, source)
    finally:
        pg_server.drop_database(target)
    for text in (res.stdout, res.stderr, restored.stdout, restored.stderr, verified.stdout):
        assert PASSWORD not in text and "dbadmin-test-secret" not in text and KEY_HEX not in text

    # prune removes every object of a directory backup (the newest backup always survives)
    newer = cli("backup", "-d", url, "--dir", bucket.url, "--name", "d2", env=env or None)
    assert newer.exit_code == 0, newer.stderr
    pruned = cli("backup", "prune", "--keep", "1", "--dir", bucket.url, "--yes")
    assert pruned.exit_code == 0, pruned.stderr
    assert bucket.objects() == ["nightly/d2.dump", "nightly/d2.manifest.json"]


@pytest.mark.parametrize("encrypt", [False, True])
def test_directory_format_flipped_byte_in_one_file_fails_verify_and_restore(
    encrypt: bool, cli: Cli, pg_server: PgServer, source: str, bucket: Bucket
) -> None:
    url = pg_server.password_url(source).render()
    env = {"DBADMIN_BACKUP_KEY": KEY_HEX} if encrypt else {}
    assert _backup_dir(cli, url, bucket, env).exit_code == 0
    stored = json.loads(bucket.read("d1.manifest.json"))
    victim = max(stored["files"], key=lambda f: f["size"])["path"]
    raw = bytearray(bucket.read(f"d1/{victim}"))
    raw[len(raw) // 2] ^= 0x01
    bucket.write(f"d1/{victim}", bytes(raw))
    bad = cli("backup", "verify", "d1", "--dir", bucket.url, "--json", env=env or None)
    assert bad.exit_code == ExitCode.PROBLEM, bad.stderr
    if encrypt:
        assert "decryption failed" in bad.stderr
    else:
        assert "sha256 mismatch" in bad.stderr and f"{bucket.url}/d1/{victim}" in bad.stderr
    restore_refused(cli, pg_server, url, bucket, "d1", env or None)


def test_directory_upload_failure_removes_uploaded_objects_and_the_local_dump(
    cli: Cli,
    pg_server: PgServer,
    source: str,
    bucket: Bucket,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The store fails on the third file's upload: the objects already uploaded are deleted,
    the local temporary directory is gone, nothing is listed; a killed run's objects NAME/FILE
    are shown as leftovers and block that name."""
    from dbadmin.backup.store.s3 import MultipartUpload

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    real = MultipartUpload.complete
    calls: list[str] = []

    def failing(self: MultipartUpload) -> None:
        calls.append(self.name)
        if len(calls) == 3:
            raise StoreError(f"object store: completing {self.name} failed (InternalError)")
        real(self)

    monkeypatch.setattr(MultipartUpload, "complete", failing)
    url = pg_server.password_url(source).render()
    res = _backup_dir(cli, url, bucket, {})
    assert res.exit_code == ExitCode.EXTERNAL and "InternalError" in res.stderr
    assert len(calls) == 3 and bucket.objects() == [] and bucket.uploads() == []
    assert list(tmp_path.iterdir()) == []  # the dump's local copy is gone
    monkeypatch.setattr(MultipartUpload, "complete", real)

    bucket.write("k1/toc.dat", b"PGDMP")  # as a SIGKILLed run leaves them
    listed = cli("backup", "list", "--dir", bucket.url, "--json")
    assert [x["path"] for x in listed.json()["leftovers"]] == [f"{bucket.url}/k1/toc.dat"]  # type: ignore[index]
    again = cli("backup", "-F", "directory", "-d", url, "--dir", bucket.url, "--name", "k1")
    assert again.exit_code == ExitCode.USAGE and "already exists" in again.stderr
