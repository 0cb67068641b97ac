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
from conftest import PASSWORD, Cli, PgServer
from moto.server import ThreadedMotoServer
from test_backup import EXPECTED_ROWS, SCHEMA_SQL, fingerprint

from dbadmin.backup.trust import seal
from dbadmin.errors import ExitCode

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

    def keys(self) -> list[str]:
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


@pytest.fixture
def source(pg_server: PgServer) -> Iterator[str]:
    name = pg_server.create_database()
    pg_server.execute(SCHEMA_SQL, name)
    try:
        yield name
    finally:
        pg_server.drop_database(name)


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
    assert bucket.keys() == sorted([f"nightly/{data}", "nightly/b1.manifest.json"])
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
        assert fingerprint(pg_server, target) == fingerprint(pg_server, source)
    finally:
        pg_server.drop_database(target)
    for text in (res.stdout, res.stderr, res2.stdout, res2.stderr, verified.stdout):
        assert PASSWORD not in text and "dbadmin-test-secret" not in text and KEY_HEX not in text
