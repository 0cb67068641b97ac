"""`slow-queries log` on logs a real server wrote through syslog (log_destination = 'syslog').

The server runs in a private mount namespace (``unshare -m``) whose ``/dev/log`` is this test's
datagram socket: what PostgreSQL's ``syslog()`` calls send arrives here and is written as
rsyslog's traditional file format (``Mon DD HH:MM:SS host ident[pid]: message``, a tab as
``#011``). The machine's own ``/dev/log`` (if any) is never touched. Needs root (CI runs as root).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Cli
from slowlog_servers import (
    TCP_HBA,
    TCP_LOGGING,
    logging_cluster,
    pgbadger_queries,
    reconfigure,
)
from test_slowlog_prefixes import PrefixLog, _workload

from dbadmin.local import PG_SYSTEM_USER, Cluster
from dbadmin.slowlog.logparse import parse_logs

PREFIXES = (
    "user=%u,db=%d,app=%a,client=%h ",  # pgBadger's syslog example: the daemon adds time and pid
    "%m [%p] %q%u@%d ",
)
LONG_SQL = "SELECT count(*) FROM items WHERE id IN (" + ", ".join(map(str, range(400))) + ")"
_PRI = re.compile(rb"^<\d+>")


class SyslogDaemon:
    """A datagram socket read by a thread; each message written as rsyslog would store it."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "log.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.settimeout(0.2)
        os.chmod(self.path, 0o666)
        self.lines: list[bytes] = []
        self.last = time.monotonic()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.running:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            body = _PRI.sub(b"", data).replace(b"\t", b"#011").rstrip(b"\n")
            # "Dec  6 07:30:45 postgres[6841]: msg" -> with the host after the timestamp
            self.lines.append(body[:15] + b" testhost " + body[16:] + b"\n")
            self.last = time.monotonic()

    def take(self) -> bytes:
        deadline = time.monotonic() + 5
        while time.monotonic() - self.last < 0.3 and time.monotonic() < deadline:
            time.sleep(0.05)
        out, self.lines = b"".join(self.lines), []
        return out

    def close(self) -> None:
        self.running = False
        self.thread.join(timeout=5)
        self.sock.close()


def _start_in_namespace(cluster: Cluster, daemon: SyslogDaemon, dev: Path) -> None:
    """pg_ctl start in a mount namespace where /dev/log is the daemon's socket."""
    user = pwd.getpwnam(PG_SYSTEM_USER)
    nodes = ("null", "zero", "random", "urandom")
    script = "\n".join(
        [
            "set -e",
            "mount --make-rprivate /",
            *(f"touch {dev}/{n} && mount --bind /dev/{n} {dev}/{n}" for n in nodes),
            f"mkdir -p {dev}/shm && mount --bind /dev/shm {dev}/shm",
            f"touch {dev}/log && mount --bind {daemon.path} {dev}/log",
            f"mount --rbind {dev} /dev",
            f"exec setpriv --reuid={user.pw_uid} --regid={user.pw_gid} --clear-groups -- "
            f"{cluster.bin_dir / 'pg_ctl'} start -w -t 60 -D {cluster.pgdata} "
            f"-l {cluster.pgdata / 'startup.log'}",
        ]
    )
    subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        check=True, capture_output=True, timeout=90, cwd="/",
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"},
    )  # fmt: skip


@pytest.fixture(scope="module")
def syslog_logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, PrefixLog]]:
    if os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("setpriv")):
        pytest.skip("needs root, unshare and setpriv (a mount namespace for /dev/log)")
    root = tmp_path_factory.mktemp("slowlog-syslog")
    sock = Path(tempfile.mkdtemp(prefix="dbadmin-syslog-"))
    os.chmod(sock, 0o777)
    dev = root / "dev"
    dev.mkdir()
    daemon = SyslogDaemon(sock)
    cluster = logging_cluster(
        root,
        sock,
        {**TCP_LOGGING, "logging_collector": "off"},
        hba=TCP_HBA,
    )
    logs: dict[str, PrefixLog] = {}
    try:
        cluster.ensure_running()  # initdb, with the default stderr logging
        for k, prefix in enumerate(PREFIXES):
            reconfigure(cluster, {"log_destination": "'syslog'", "log_line_prefix": f"'{prefix}'"})
            daemon.take()
            _start_in_namespace(cluster, daemon, dev)
            statements = _workload(cluster)
            with _connect(cluster) as conn:
                conn.cursor().execute(LONG_SQL)  # cut into several syslog messages
            statements += 1
            cluster.stop()
            path = root / f"syslog-{k}.log"
            path.write_bytes(daemon.take())
            logs[prefix] = PrefixLog(prefix, path, statements)
    finally:
        cluster.stop()
        daemon.close()
    yield logs
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(sock, ignore_errors=True)


def _connect(cluster: Cluster):  # type: ignore[no-untyped-def]
    import contextlib

    import psycopg2

    conn = psycopg2.connect(**cluster.url().connect_kwargs())
    conn.autocommit = True
    return contextlib.closing(conn)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_syslog_lines_parse_with_the_prefix_inferred(
    syslog_logs: dict[str, PrefixLog], prefix: str, cli: Cli
) -> None:
    log = syslog_logs[prefix]
    text = log.path.read_text()
    assert " testhost postgres[" in text and "#011" in text  # the daemon's format, tabs escaped
    assert re.search(r"\[\d+-2\] ", text)  # a line cut into chunks
    res = cli("slow-queries", "log", str(log.path), "--json", "--top", "50")
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert doc["formats"] == ["syslog"] and doc["prefixes"] == [prefix]  # type: ignore[index]
    assert doc["unparsed_lines"] == 0 and doc["errors"] == 1  # type: ignore[index]
    assert doc["total_queries"] == log.statements  # type: ignore[index]
    groups = doc["groups"]  # type: ignore[index]
    long = next(g for g in groups if "IN (" in g["query"])
    assert long["example"] == LONG_SQL  # put back together from its chunks
    multi = next(g for g in groups if g["query"] == "SELECT count(*) FROM items")
    assert "\n" in multi["example"]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_syslog_query_counts_equal_pgbadgers(
    syslog_logs: dict[str, PrefixLog], prefix: str, tmp_path: Path
) -> None:
    log = syslog_logs[prefix]
    theirs = pgbadger_queries(log.path, "syslog", prefix, tmp_path)
    assert parse_logs([log.path]).total_queries == theirs == log.statements
