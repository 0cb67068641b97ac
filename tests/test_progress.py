"""Progress on stderr (issue 18): drawn when stderr is a terminal (a real pseudo-terminal here),
nothing at all when it is not (cron logs, pipes, CliRunner)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Cli
from terminal import run_in_terminal

from dbadmin.urls import DbUrl

LOG_LINE = "2026-01-01 10:00:00.000 UTC [42] LOG:  duration: 1.500 ms  statement: SELECT {i}\n"


def test_health_pool_progress_only_on_a_terminal(cli: Cli, fresh_db: DbUrl) -> None:
    args = ("health", "pool", "-d", fresh_db.render(), "--duration", "1s", "-k", "2")
    quiet = cli(*args)
    assert quiet.exit_code in (0, 1) and quiet.stderr == "", quiet.stderr  # nothing extra
    run = run_in_terminal(*args)
    assert run.exit_code in (0, 1), run.terminal
    assert "driving the pool: 2 threads, 1s" in run.terminal
    assert "dbadmin health pool" in run.stdout and "driving" not in run.stdout  # the result


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
    run = run_in_terminal(*args, "-", stdin=log)
    assert run.exit_code == 0 and "parsing standard input" in run.terminal, run.terminal
    assert "200 queries" in run.stdout
    # a small file on a terminal: no progress line
    run = run_in_terminal(*args, str(log))
    assert run.exit_code == 0 and "parsing" not in run.terminal, run.terminal


def test_seed_bars_only_on_a_terminal(cli: Cli, app_db: DbUrl) -> None:
    args = ("seed", "-d", app_db.render(), "--profile", "dev", "--scale", "0.01", "--seed", "3")
    quiet = cli(*args)
    assert quiet.exit_code == 0 and "rows/s" not in quiet.stderr, quiet.stderr
    run = run_in_terminal(*args, "--reset", "--yes")
    assert run.exit_code == 0, run.terminal
    assert "rows/s" in run.terminal and "━" in run.terminal  # a bar per table
    assert "rows/s" in run.stdout  # the summary table's header, on stdout
