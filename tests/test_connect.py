"""Connect behaviour against real stand-ins: a server that starts late (a Neon compute waking up)
and Ctrl-C while waiting."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from conftest import free_port

from dbadmin.errors import ExitCode
from dbadmin.local import Cluster, embedded_bin_dir


def _spawn(*args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dbadmin", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def _wait_for_stderr_line(proc: subprocess.Popen[str], needle: str, timeout: float = 30) -> str:
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen += line
        if needle in line:
            return seen
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"{needle!r} not seen on stderr: {seen!r}")


def test_a_server_that_starts_late_is_waited_for(tmp_path: Path) -> None:
    socket_dir = Path(tempfile.mkdtemp(prefix="dbadmin-late-"))
    os.chmod(socket_dir, 0o777)
    cluster = Cluster(
        bin_dir=embedded_bin_dir(),
        pgdata=tmp_path / "late" / "pgdata",
        socket_dir=socket_dir,
        port=free_port(),
        conf={"fsync": "off"},
    )
    try:
        url = cluster.url().render()
        proc = _spawn("doctor", "--json", "-d", url, DBADMIN_CONNECT_RETRY="60")
        _wait_for_stderr_line(proc, "waiting for")
        cluster.ensure_running()  # the "compute" wakes up while dbadmin retries
        out, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err
        assert '"PostgreSQL 18' in out
    finally:
        cluster.destroy()


def test_ctrl_c_while_waiting_exits_130_without_traceback() -> None:
    proc = _spawn(
        "doctor", "-d", "postgresql://u:pw-77x@127.0.0.1:1/db", DBADMIN_CONNECT_RETRY="60"
    )
    _wait_for_stderr_line(proc, "waiting for")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == ExitCode.INTERRUPTED
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("dbadmin: error: interrupted")
    assert "pw-77x" not in out + err
