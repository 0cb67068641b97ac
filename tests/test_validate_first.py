"""Every value that can be checked without a database is checked before dbadmin connects or
starts the embedded server (issue 18): with no DATABASE_URL and an empty DBADMIN_HOME, a bad flag
exits 2 at once and the home stays empty (no data directory: no server was started)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from conftest import Cli

BAD_INPUT: list[tuple[str, ...]] = [
    ("backup", "--format", "zip"),
    ("backup", "create", "-F", "tar"),
    ("backup", "--compress", "rar:9"),
    ("backup", "--jobs", "4"),  # parallel only into --format directory
    ("backup", "--name", "../escape"),
    ("backup", "--timeout", "soon"),
    ("backup", "verify"),  # neither a name nor --latest
    ("backup", "--format", "plain", "list"),  # a create option before another subcommand
    ("seed", "--profile", "nosuch"),
    ("seed", "--rows", "users=many"),
    ("seed", "--rows", "=5"),
    ("seed", "--rows", "users=-1"),
    ("seed", "--scale", "0"),
    ("seed", "--reset", "--append"),
    ("seed", "--lock-wait", "later"),
    ("seed", "--now", "yesterday"),
    ("restore", "nosuch"),  # no such backup
    ("restore", "nosuch", "--target-url", "postgresql://u@localhost/copy"),
    ("explain", "--timeout", "soon", "SELECT 1"),
    ("explain", "SELECT 1", "--query", "tasks_by_user_status"),  # two inputs
    ("explain", "--query", "nosuch"),
    ("explain", "SELECT 1", "--set", "nonsense"),
    ("explain", "SELECT 1", "--runs", "0"),
    ("slow-queries", "--sort", "slowest"),
    ("slow-queries", "--since", "fortnight"),
    ("slow-queries", "enable", "--threshold", "slow"),
    ("migrate", "up", "--lock-wait", "5x"),
    ("migrate", "up", "--lock-timeout", "0"),
]


def _home() -> Path:
    return Path(os.environ["DBADMIN_HOME"])


def _files_under(home: Path) -> list[str]:
    return sorted(str(p.relative_to(home)) for p in home.rglob("*")) if home.exists() else []


@pytest.mark.parametrize("args", BAD_INPUT, ids=" ".join)
def test_bad_input_exits_2_before_any_server_starts(cli: Cli, args: tuple[str, ...]) -> None:
    assert "DATABASE_URL" not in os.environ and not _home().exists()
    cli("--help")  # imports warmed, so the bound below measures the command
    started = time.monotonic()
    res = cli(*args)
    elapsed = time.monotonic() - started
    assert res.exit_code == 2, (res.stdout, res.stderr)
    assert res.stderr.startswith("dbadmin: error: ") and res.stderr.count("\n") == 1, res.stderr
    assert "embedded PostgreSQL" not in res.stderr and res.stdout == ""
    home = _home()
    assert not (home / "pgdata").exists() and _files_under(home) in ([], ["backups"])
    assert elapsed < 1.0, f"{elapsed:.2f} s"  # generous: starting a server takes seconds


@pytest.mark.parametrize(
    "args",
    [
        ("health", "--timeout", "soon"),
        ("health", "--check", "nosuch"),
        ("health", "pool", "--duration", "forever"),
        ("audit", "--timeout", "0"),
    ],
    ids=" ".join,
)
def test_health_and_audit_refuse_bad_input_as_unknown_before_starting(
    cli: Cli, args: tuple[str, ...]
) -> None:
    res = cli(*args)
    assert res.exit_code == 3, res.stderr  # Nagios UNKNOWN is their usage-error code
    assert "embedded PostgreSQL" not in res.stderr
    assert not (_home() / "pgdata").exists()
