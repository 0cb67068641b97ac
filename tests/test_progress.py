"""Progress on stderr (issue 18): drawn when stderr is a terminal (a real pseudo-terminal here),
nothing at all when it is not (cron logs, pipes, CliRunner)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Cli

from dbadmin.urls import DbUrl

LOG_LINE = "2026-01-01 10:00:00.000 UTC [42] LOG:  duration: 1.500 ms  statement: SELECT {i}\n"


def on_a_terminal(
    *args: str, stdin: Path | None = None, timeout: float = 60
) -> tuple[int, str, str]:
    """Run ``dbadmin ARGS`` with stderr on a pseudo-terminal; (exit code, stdout, terminal)."""
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    with open(stdin or os.devnull, "rb") as source:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dbadmin", *args],
            stdin=source,
            stdout=subprocess.PIPE,
            stderr=slave,
            env=env,
        )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            elif proc.poll() is not None:
                break
        assert proc.stdout is not None
        out = proc.stdout.read().decode()
        code = proc.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return code, out, seen.decode(errors="replace")


def test_health_pool_progress_only_on_a_terminal(cli: Cli, fresh_db: DbUrl) -> None:
    args = ("health", "pool", "-d", fresh_db.render(), "--duration", "1s", "-k", "2")
    quiet = cli(*args)
    assert quiet.exit_code in (0, 1) and quiet.stderr == "", quiet.stderr  # nothing extra
    code, out, terminal = on_a_terminal(*args)
    assert code in (0, 1), terminal
    assert "driving the pool: 2 threads, 1s" in terminal
    assert "dbadmin health pool" in out and "driving the pool" not in out  # stdout: the result


def test_slow_log_progress_on_big_input_only_on_a_terminal(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "pg.log"
    log.write_text("".join(LOG_LINE.format(i=i) for i in range(200)))
    args = ("slow-queries", "log", "--prefix", "%m [%p] ")
    monkeypatch.setattr("dbadmin.cli.slow.BIG_LOG_BYTES", 0)  # this small log counts as big
    quiet = cli(*args, str(log))
    assert quiet.exit_code == 0 and quiet.stderr == "", quiet.stderr
    # standard input always counts as big (its size is unknown)
    code, out, terminal = on_a_terminal(*args, "-", stdin=log)
    assert code == 0 and "parsing standard input" in terminal, terminal
    assert "200 queries" in out
    # a small file on a terminal: no progress line
    code, _, terminal = on_a_terminal(*args, str(log))
    assert code == 0 and "parsing" not in terminal, terminal
