"""Plain-format backups restored from a store as a stream (issue 20): no temporary copy; the
object is hashed (and decrypted, chunk by chunk authenticated) on its way into psql, and the
restore's COMMIT is written only after the whole object was read and matched its manifest.
Against moto's S3 server (see test_backup_store)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import test_backup
from conftest import Cli, PgServer
from test_backup import EXPECTED_ROWS, fingerprint
from test_backup_store import KEY_HEX, Bucket, bucket, s3_endpoint

from dbadmin.errors import ExitCode

source = test_backup.source
__all__ = ["bucket", "s3_endpoint"]  # fixtures shared with test_backup_store
TABLES_SQL = (
    "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
)


@pytest.fixture
def no_fetch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the backup were copied to a temporary file instead of streamed."""
    import dbadmin.backup.remote as remote

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a plain backup was fetched into a temporary file")

    monkeypatch.setattr(remote, "fetched", refuse)


def _plain_backup(cli: Cli, url: str, bucket: Bucket, *extra: str, env: Any = None) -> str:
    res = cli("backup", "-F", "plain", *extra, "-d", url, "--dir", bucket.url, "--name", "p1",
              "--json", env=env)  # fmt: skip
    assert res.exit_code == 0, res.stderr
    return str(res.json()["manifest"]["data"])  # type: ignore[index]


@pytest.mark.parametrize(("compress", "encrypt"), [(None, False), ("gzip", True)])
def test_plain_restore_from_the_store_streams(
    compress: str | None,
    encrypt: bool,
    cli: Cli,
    pg_server: PgServer,
    source: str,
    bucket: Bucket,
    no_fetch: None,
) -> None:
    url = pg_server.password_url(source).render()
    env = {"DBADMIN_BACKUP_KEY": KEY_HEX} if encrypt else None
    extra = (["--compress", compress] if compress else []) + (["--encrypt"] if encrypt else [])
    data = _plain_backup(cli, url, bucket, *extra, env=env)
    assert data.endswith(".sql.gz" if compress else ".sql")
    verified = cli("backup", "verify", "p1", "--dir", bucket.url, "--json", env=env)
    assert verified.exit_code == 0, verified.stderr
    checks = {c["name"]: c for c in verified.json()["checks"]}  # type: ignore[index]
    assert "checked while streaming" in checks["sha256"]["detail"]
    assert checks["sql header/trailer"]["ok"] and checks["row counts cover the archive"]["ok"]
    listed = cli("backup", "list", "--dir", bucket.url, "--json").json()
    assert listed["backups"][0]["verified"] == "ok"  # type: ignore[index]
    target = f"streamed_{uuid.uuid4().hex[:8]}"
    res = cli(
        "restore", "p1", "--dir", bucket.url, "-d", url,
        "--target-url", pg_server.password_url(target).render(), "--create", "--yes", "--json",
        env=env,
    )  # fmt: skip
    try:
        assert res.exit_code == 0, res.stderr
        assert res.json()["row_counts"] == EXPECTED_ROWS  # type: ignore[index]
        assert "sha256 checked while streaming" in res.json()["steps"][0]  # type: ignore[index]
        assert fingerprint(pg_server, target) == fingerprint(pg_server, source)
    finally:
        pg_server.drop_database(target)


@pytest.mark.parametrize("encrypt", [False, True])
def test_changed_plain_object_rolls_the_streamed_restore_back(
    encrypt: bool, cli: Cli, pg_server: PgServer, source: str, bucket: Bucket, no_fetch: None
) -> None:
    """The byte changed is in the script's last comment: psql runs every statement (all the
    data is loaded in the transaction), and only the sha256 at the end can refuse the COMMIT."""
    url = pg_server.password_url(source).render()
    env = {"DBADMIN_BACKUP_KEY": KEY_HEX} if encrypt else None
    data = _plain_backup(cli, url, bucket, *(["--encrypt"] if encrypt else []), env=env)
    raw = bytearray(bucket.read(data))
    if encrypt:
        raw[len(raw) - 40] ^= 0x01  # inside the last chunk's ciphertext
    else:
        at = raw.rindex(b"dump complete")
        raw[at] = ord("D")
    bucket.write(data, bytes(raw))
    bad = cli("backup", "verify", "p1", "--dir", bucket.url, "--json", env=env)
    assert bad.exit_code == ExitCode.PROBLEM
    assert ("decryption failed" if encrypt else "sha256 mismatch") in bad.stderr
    assert bad.json()["checks"][0]["ok"] is False  # type: ignore[index]
    target = pg_server.create_database()
    try:
        res = cli(
            "restore", "p1", "--dir", bucket.url, "-d", url,
            "--target-url", pg_server.password_url(target).render(), "--yes", env=env,
        )  # fmt: skip
        assert res.exit_code == ExitCode.PROBLEM, res.stderr
        expected = "decryption failed" if encrypt else "sha256 mismatch"
        assert expected in res.stderr, res.stderr
        assert encrypt or f"{bucket.url}/{data}" in res.stderr
        assert pg_server.execute(TABLES_SQL, target)[0][0] == 0  # rolled back: no table
    finally:
        pg_server.drop_database(target)
