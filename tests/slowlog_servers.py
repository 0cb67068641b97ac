"""Helpers of the slow-queries log tests: a server of this test lane that logs every statement,
and pgBadger's query count for a log (the baseline the parser agrees with)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pytest
from conftest import free_port

from dbadmin.local import Cluster, embedded_bin_dir

LOGGING = {
    "fsync": "off",
    "logging_collector": "on",
    "log_directory": "'collected'",
    "log_rotation_age": "0",
    "log_rotation_size": "0",
    "log_min_duration_statement": "0",
}
TCP_HBA = "local all all trust\nhost all all 127.0.0.1/32 trust\n"
# sessions over TCP too (%h, %r), and the background lines of connections and checkpoints
TCP_LOGGING = {
    "listen_addresses": "'127.0.0.1'",
    "log_connections": "on",
    "log_checkpoints": "on",
}


def lane_bin_dir() -> Path:
    """The binaries of this test lane: Debian's PostgreSQL 15 with DBADMIN_TEST_SERVER=pg15."""
    if os.environ.get("DBADMIN_TEST_SERVER", "embedded") == "pg15":
        return Path("/usr/lib/postgresql/15/bin")
    return embedded_bin_dir()


def logging_cluster(
    root: Path, sock: Path, conf: Mapping[str, str], hba: str | None = None
) -> Cluster:
    """A cluster under ``root`` logging every statement into ``root/pgdata/collected``."""
    return Cluster(
        bin_dir=lane_bin_dir(),
        pgdata=root / "pgdata",
        socket_dir=sock,
        port=free_port(),
        conf={**LOGGING, **conf},
        hba=hba,
    )


def three_formats_cluster(
    root: Path, prefix: str, conf: Mapping[str, str] | None = None
) -> tuple[Cluster, Path]:
    """A cluster under ``root`` (Unix socket only) writing ``pg.log``, ``pg.csv`` and ``pg.json``
    at once with ``prefix``; returns it and its socket directory (the caller removes both)."""
    sock = Path(tempfile.mkdtemp(prefix="dbadmin-slowlog-"))
    os.chmod(sock, 0o777)
    settings = {
        "listen_addresses": "''",
        "log_filename": "'pg.log'",
        "log_destination": "'stderr,csvlog,jsonlog'",
        "log_line_prefix": f"'{prefix}'",
        **(conf or {}),
    }
    return logging_cluster(root, sock, settings), sock


def reconfigure(cluster: Cluster, settings: Mapping[str, str]) -> None:
    """Stop the server and set ``settings`` for its next start (a new log file, a new prefix)."""
    cluster.stop()
    with open(cluster.pgdata / "postgresql.conf", "a") as conf:
        conf.writelines(f"{key} = {value}\n" for key, value in settings.items())


def pgbadger_queries(log: Path, log_format: str, prefix: str, out: Path) -> int:
    """pgBadger's own total (overall_stat.queries_number) for one log, given its prefix."""
    if shutil.which("pgbadger") is None:
        pytest.skip("pgbadger is not installed (apt-get install -y pgbadger; .ci/run does)")
    report = out / "pgbadger.json"
    proc = subprocess.run(
        ["pgbadger", "-f", log_format, "-p", prefix, "-o", str(report), "--quiet",
         "--pid-dir", str(out), str(log)],  # its own pid file: other lanes run pgBadger too
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return int(json.loads(report.read_text())["overall_stat"]["queries_number"])
