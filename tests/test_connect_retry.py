"""Connect retries only where the failure can pass (issue 18): a permanent failure exits 3 at
once with one line; a server that starts a few seconds late is still connected to, with one
"waiting" line in a log and one live status line (the budget left) on a terminal."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import PASSWORD, Cli, PgServer, free_port
from test_connect import _spawn

from dbadmin.db import is_transient_for
from dbadmin.errors import ExitCode
from dbadmin.local import Cluster, embedded_bin_dir
from dbadmin.urls import DbUrl

SOCKET_MISSING = (
    'connection to server on socket "{}/.s.PGSQL.5432" failed: No such file or directory'
)


def _permanent_urls(pg_server: PgServer, tmp_path: Path) -> dict[str, str]:
    tcp = pg_server.password_url()
    return {
        "wrong socket path": f"postgresql://postgres@/postgres?host={tmp_path / 'no-such-dir'}",
        "socket dir without a server": f"postgresql://postgres@/postgres?host={tmp_path}",
        "wrong password": pg_server.password_url(password="Wr0ng-pw-4410").render(),
        "no such database": tcp.with_database("no_such_db_4410").render(),
        "bad sslmode": tcp.with_query(sslmode="sometimes").render(),
    }


@pytest.mark.parametrize(
    "case",
    [
        "wrong socket path",
        "socket dir without a server",
        "wrong password",
        "no such database",
        "bad sslmode",
    ],
)
def test_a_permanent_connect_failure_exits_3_at_once(
    cli: Cli, pg_server: PgServer, tmp_path: Path, case: str
) -> None:
    url = _permanent_urls(pg_server, tmp_path)[case]
    started = time.monotonic()
    res = cli("doctor", "-d", url, env={"DBADMIN_CONNECT_RETRY": "30"})
    elapsed = time.monotonic() - started
    assert res.exit_code == ExitCode.CONNECT, (res.stdout, res.stderr)
    assert "waiting for" not in res.stderr  # not retried
    error = [line for line in res.stderr.splitlines() if line.startswith("dbadmin: error:")]
    assert len(error) == 1 and PASSWORD not in res.stderr + res.stdout
    assert elapsed < 2.0, f"{elapsed:.1f} s"  # generous: the retry budget is 30 s


def test_which_socket_failures_are_waited_for(tmp_path: Path) -> None:
    """A socket not there yet is waited for only when a server is starting on it (its lock file)
    or in the embedded server's socket directory (HOME/run beside HOME/pgdata)."""
    typo = tmp_path / "typo"
    assert not is_transient_for(SOCKET_MISSING.format(typo), DbUrl(host=str(typo)))
    starting = tmp_path / "starting"
    starting.mkdir()
    (starting / ".s.PGSQL.5432.lock").write_text("4242\n")
    assert is_transient_for(SOCKET_MISSING.format(starting), DbUrl(host=str(starting)))
    home = tmp_path / "home"
    (home / "pgdata").mkdir(parents=True)
    assert is_transient_for(SOCKET_MISSING.format(home / "run"), DbUrl(host=str(home / "run")))
    refused = 'connection to server at "127.0.0.1", port 1 failed: Connection refused'
    assert is_transient_for(refused, DbUrl(host="127.0.0.1", port=1))
    assert is_transient_for("FATAL:  the database system is starting up", DbUrl(host="h"))
    assert is_transient_for("ERROR: compute is starting", DbUrl(host="ep-x.neon.tech"))
    assert not is_transient_for(
        'could not translate host name "nosuch.invalid" to address', DbUrl(host="nosuch.invalid")
    )


def test_a_tcp_server_starting_a_few_seconds_later_is_connected_to(tmp_path: Path) -> None:
    """Connection refused on a TCP port (a local server starting, a compute waking) is waited
    for; in a log (stderr not a terminal) the wait is one line, not one per retry."""
    port = free_port()
    cluster = Cluster(
        bin_dir=embedded_bin_dir(),
        pgdata=tmp_path / "late" / "pgdata",
        socket_dir=Path(tempfile.mkdtemp(prefix="late-sock-")),
        port=port,
        conf={"fsync": "off", "listen_addresses": "'127.0.0.1'"},
        hba="local all all trust\nhost all postgres 127.0.0.1/32 trust\n",
    )
    os.chmod(cluster.socket_dir, 0o777)
    try:
        cluster.ensure_running()  # initialised now, so that starting it later takes little time
        cluster.stop()
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        proc = _spawn("doctor", "--json", "-d", url, DBADMIN_CONNECT_RETRY="60")
        assert proc.stderr is not None
        first = proc.stderr.readline()
        assert "waiting for" in first and "up to" in first, first
        time.sleep(3)  # the server starts a few seconds after the command
        cluster.ensure_running()
        out, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, first + err
        assert '"PostgreSQL 18' in out
        assert "waiting for" not in err and "retrying" not in first + err  # one line in a log
    finally:
        cluster.destroy()


def test_on_a_terminal_the_wait_is_one_live_status_line_with_the_budget_left() -> None:
    """stderr on a pseudo-terminal: the status line is rewritten in place (carriage return and
    erase-line) with the seconds left, and cleared before the error line."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dbadmin",
            "doctor",
            "-d",
            f"postgresql://u@127.0.0.1:{free_port()}/db",
        ],
        stdout=subprocess.PIPE,
        stderr=terminal,
        env={**os.environ, "DBADMIN_CONNECT_RETRY": "3"},
    )
    os.close(terminal)
    proc.communicate(timeout=60)
    chunks = []
    while True:
        try:
            data = os.read(controller, 65536)
        except OSError:  # the terminal side is closed once the process ended
            break
        if not data:
            break
        chunks.append(data)
    os.close(controller)
    seen = b"".join(chunks).decode()
    assert proc.returncode == ExitCode.CONNECT
    assert "waiting for" in seen and " s left" in seen and "\r\x1b[2K" in seen
    assert seen.count("\n") == 1  # the status line never adds lines: only the error line ends one
    assert seen.rstrip().splitlines()[-1].lstrip("\r\x1b[2K").startswith("dbadmin: error:")
