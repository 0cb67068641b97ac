"""Human output reads as words and numbers, not Python values (issue 18's cosmetic list): yes/no
and "off" instead of True/-1, thousands separators everywhere, nothing "seeded" when no row
went in, a lint summary that says what it linted, a prompt without "[]", a missing backup
directory as an error, and a socket directory that does not read like host:port."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import Cli, PgServer
from terminal import run_in_terminal

from dbadmin.errors import ExitCode
from dbadmin.urls import DbUrl

WIDE = {"COLUMNS": "200"}


def test_pool_shows_words_and_separators(cli: Cli, fresh_db: DbUrl) -> None:
    res = cli("health", "pool", "-d", fresh_db.render(), "--duration", "1s", "-k", "2", env=WIDE)
    assert res.exit_code in (0, 1), res.stderr
    assert "pool_recycle off, pre_ping yes" in res.stdout
    assert "True" not in res.stdout and "None" not in res.stdout
    assert not re.search(r"(?<![\w-])-1(?!\d)", res.stdout)
    checkouts = next(line for line in res.stdout.splitlines() if "│ checkouts " in line)
    assert re.search(r"│ [\d,]+ \([\d,]+/s\)", checkouts), checkouts
    assert not re.search(r"\d{4}", checkouts), checkouts  # 1,234 never 1234


def test_backup_summary_counts_rows_with_separators(
    cli: Cli, fresh_db: DbUrl, pg_server: PgServer, tmp_path: Path
) -> None:
    pg_server.execute(
        "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 12345) g; ANALYZE t",
        database=fresh_db.database,
    )
    res = cli("backup", "-d", fresh_db.render(), "--dir", str(tmp_path / "bk"), env=WIDE)
    assert res.exit_code == 0, res.stderr
    assert "1 / 12,345" in res.stdout


def test_seed_says_unchanged_when_no_row_went_in(cli: Cli, app_db: DbUrl) -> None:
    url = app_db.render()
    assert cli("seed", "-d", url, "--profile", "minimal").exit_code == 0
    again = cli("seed", "-d", url, "--profile", "minimal", "--json", env=WIDE)
    tables = again.json()["tables"]  # type: ignore[index]
    assert tables and all(t["rows"] == 0 for t in tables), tables
    assert all(t["status"] == "seeded" for t in tables)  # JSON keeps its values
    res = cli("seed", "-d", url, "--profile", "minimal", env=WIDE)
    rows = [line for line in res.stdout.splitlines() if line.startswith("│")]
    body = [line for line in rows if not line.startswith("│ total")]
    assert body and all("unchanged" in line and "seeded" not in line for line in body), rows
    assert all(not re.search(r"│\s+0\s+│\s*[^│]*│$", line) for line in rows)  # no "rows/s 0"


def test_lint_with_nothing_pending_says_so(cli: Cli, app_db: DbUrl) -> None:
    res = cli("migrate", "lint", "-d", app_db.render())
    assert res.exit_code == 0, res.stderr
    assert "no pending revisions to lint" in res.stdout and "in nothing" not in res.stdout


def test_a_missing_backup_directory_is_an_error(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent"
    for args in (
        ("backup", "--dir", str(missing), "list"),
        ("backup", "list", "--dir", str(missing)),
    ):
        res = cli(*args)
        assert res.exit_code == ExitCode.USAGE, res.stdout + res.stderr
        assert res.stdout == "" and f"backup directory {missing} does not exist" in res.stderr
    res = cli("backup", "list", env={"DBADMIN_BACKUP_DIR": str(missing)})
    assert res.exit_code == ExitCode.USAGE and "does not exist" in res.stderr
    default = cli("backup", "list")  # $DBADMIN_HOME/backups not made yet: no backups, no error
    assert default.exit_code == 0, default.stderr


def test_socket_directory_reads_as_a_socket(cli: Cli, fresh_db: DbUrl) -> None:
    url = DbUrl.parse("postgresql://app@:5432/shop?host=/srv/run")
    assert url.describe() == "database shop on socket /srv/run (port 5432)"
    assert DbUrl.parse("postgresql://app@db.example.com:6543/shop").describe() == (
        "database shop on db.example.com:6543"
    )
    res = cli("health", "-d", fresh_db.render(), "--check", "connections", env=WIDE)
    assert f"on socket {fresh_db.host} (port {fresh_db.port})" in res.stdout, res.stdout


def test_help_names_dbadmin_home(cli: Cli, tmp_path: Path) -> None:
    res = cli("--help", env={"DBADMIN_HOME": str(tmp_path / "home"), **WIDE})
    text = " ".join(res.stdout.split())
    assert res.exit_code == 0 and "in $DBADMIN_HOME (default ./.dbadmin)" in text
    assert "PostgreSQL in ./.dbadmin" not in text


def test_local_status_when_stopped(cli: Cli) -> None:
    res = cli("local", "status")
    assert res.exit_code == 3, res.stdout + res.stderr  # LSB: not running
    assert re.search(r"running\s+no$", res.stdout, re.M) and re.search(
        r"pid\s+-$", res.stdout, re.M
    )
    assert "True" not in res.stdout and "False" not in res.stdout and "None" not in res.stdout


def test_typed_confirmation_prompt_has_no_empty_default(tmp_path: Path) -> None:
    """On a terminal, `local destroy` asks to type a word; the prompt must not end in "[]:"."""
    run = run_in_terminal(
        "local",
        "destroy",
        env={"DBADMIN_HOME": str(tmp_path / "home")},
        everything=True,
        answer=(b"to confirm", b"no\n"),
    )
    assert "Type 'destroy' to confirm:" in run.terminal and "[]" not in run.terminal, run.terminal
    assert run.exit_code == ExitCode.USAGE and "did not match" in run.terminal
