"""Chaos suite, configuration (issue 13, item 5): a configuration that is set but broken is an
error naming its source (exit 2; health's UNKNOWN, 3), never a fall-back to another database.

A cron line ``DATABASE_URL=$PROD_URL dbadmin backup`` with ``$PROD_URL`` unset used to back up
the embedded server's empty database and report success. Each case checks that nothing was
started: no embedded server under ``$DBADMIN_HOME``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import PASSWORD, Cli, run_dbadmin

from dbadmin.errors import ConfigError, ExitCode
from dbadmin.settings import resolve

SECRET_URL = f"postgresql://app:{PASSWORD}@db.example.com/app"
# commands a cron job runs, with the exit code a configuration error gives each
COMMANDS: list[tuple[tuple[str, ...], int]] = [
    (("backup",), ExitCode.USAGE),
    (("doctor",), ExitCode.USAGE),
    (("migrate", "status"), ExitCode.USAGE),
    (("explain", "SELECT 1"), ExitCode.USAGE),
    (("health",), 3),  # Nagios UNKNOWN
]


def assert_refused(res_code: int, stderr: str, code: int, *names: str) -> None:
    assert res_code == code, stderr
    assert stderr.startswith("dbadmin: error: "), stderr
    for name in names:
        assert name in stderr, stderr
    assert "embedded" not in stderr.split(" — ")[0]  # nothing started, no "using the embedded"
    assert PASSWORD not in stderr
    assert not (Path.cwd() / ".dbadmin-home").exists(), "the embedded server was set up"


@pytest.mark.parametrize("value", ["", "   ", "\t"])
@pytest.mark.parametrize(
    ("command", "code"), COMMANDS, ids=lambda c: " ".join(c) if isinstance(c, tuple) else str(c)
)
def test_an_empty_database_url_in_the_environment_is_exit_2(
    value: str, command: tuple[str, ...], code: int, cli: Cli
) -> None:
    res = cli(*command, env={"DATABASE_URL": value})
    assert_refused(res.exit_code, res.stderr, code, "DATABASE_URL is set but empty", "environment")


def test_an_empty_database_url_wins_over_a_good_dotenv(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"DATABASE_URL={SECRET_URL}\n")
    res = cli("backup", env={"DATABASE_URL": ""})
    assert_refused(res.exit_code, res.stderr, ExitCode.USAGE, "DATABASE_URL is set but empty")


@pytest.mark.parametrize(
    "line", ["DATABASE_URL=", "DATABASE_URL=''", "DATABASE_URL", "DATABASE_URL=  # none"]
)
def test_an_empty_database_url_in_dotenv_names_file_and_line(
    line: str, cli: Cli, tmp_path: Path
) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"# settings\nDBADMIN_CONNECT_RETRY=0\n{line}\n")
    res = cli("backup")
    assert_refused(res.exit_code, res.stderr, ExitCode.USAGE, str(dotenv), "line 3", "empty")


@pytest.mark.parametrize(
    "line",
    [
        f"DATABASE_URL {SECRET_URL}",  # no "="
        f'DATABASE_URL="{SECRET_URL}',  # unterminated quote
        f"DATABASE_URL='{SECRET_URL}' trailing",
        f"={SECRET_URL}",
    ],
)
def test_an_unparsable_dotenv_line_names_file_and_line_and_hides_it(
    line: str, cli: Cli, tmp_path: Path
) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"A=1\n\n{line}\nB=2\n")
    for command, code in COMMANDS:
        res = cli(*command)
        assert_refused(res.exit_code, res.stderr, code, f"{dotenv}, line 3", "cannot parse")


def test_a_dotenv_that_is_not_utf8_names_the_file(cli: Cli, tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_bytes(b"A=1\nDATABASE_URL=postgresql://app:caf\xe9@db.example.com/app\n")
    res = cli("backup")
    assert_refused(res.exit_code, res.stderr, ExitCode.USAGE, str(dotenv), "not UTF-8", "line 2")


def test_a_dotenv_in_a_parent_directory_is_checked_too(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("DATABASE_URL=\n")
    child = tmp_path / "jobs" / "nightly"
    child.mkdir(parents=True)
    monkeypatch.chdir(child)
    with pytest.raises(ConfigError, match="set but empty"):
        resolve(environ={})


def test_an_empty_flag_is_not_no_flag(cli: Cli) -> None:
    """``-d "$PROD_URL"`` with the variable unset."""
    res = cli("backup", "-d", "")
    assert_refused(res.exit_code, res.stderr, ExitCode.USAGE, "--database-url is set but empty")
    res = cli("backup", "-d", " ", env={"DATABASE_URL": SECRET_URL})
    assert_refused(res.exit_code, res.stderr, ExitCode.USAGE, "--database-url is set but empty")


def test_a_direct_url_alone_is_not_nothing(cli: Cli) -> None:
    res = cli("backup", env={"DATABASE_DIRECT_URL": SECRET_URL})
    assert_refused(
        res.exit_code,
        res.stderr,
        ExitCode.USAGE,
        "DATABASE_DIRECT_URL is set",
        "DATABASE_URL is not",
    )


def test_an_empty_direct_url_is_derived_from_the_url_the_same_database() -> None:
    """Not a fall-back to another database: the direct URL is the URL's own direct endpoint."""
    pooled = f"postgresql://app:{PASSWORD}@ep-cool-1234-pooler.eu-central-1.aws.neon.tech/app"
    for environ in ({"DATABASE_DIRECT_URL": ""}, {"DATABASE_DIRECT_URL": " "}, {}):
        settings = resolve(database_url=pooled, direct_url=" ", environ=environ)
        assert settings.direct_url.host == "ep-cool-1234.eu-central-1.aws.neon.tech"
        assert settings.direct_url.database == "app"


def test_end_to_end_cron_line_with_an_unset_variable(tmp_path: Path) -> None:
    """The installed CLI in a subprocess: exit 2, one line, no server started, no backup."""
    home = tmp_path / "cron-home"
    proc = run_dbadmin(
        "backup", "--dir", str(tmp_path / "bk"), env={"DATABASE_URL": "", "DBADMIN_HOME": str(home)}
    )
    assert proc.returncode == ExitCode.USAGE, proc.stderr
    assert proc.stderr.count("\n") == 1 and "DATABASE_URL is set but empty" in proc.stderr
    assert not home.exists() and not (tmp_path / "bk").exists()


def test_nothing_configured_anywhere_is_still_the_embedded_server(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("# only comments\nDBADMIN_CONNECT_RETRY=5\n")
    settings = resolve(environ={"DBADMIN_HOME": str(tmp_path / "h")}, cwd=tmp_path)
    assert settings.embedded and settings.url_source == "embedded"
    assert settings.connect_retry_seconds == 5


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app:Kq7@:/%#?zV@db.example.com:notaport/app",  # raw password, bad port
        "postgresql://app:pa/ss@db.example.com:54x/app",  # "/" in the password, bad port
    ],
)
def test_a_url_that_cannot_be_read_is_exit_2_not_another_server(url: str, cli: Cli) -> None:
    """Guessing here once meant 'database % on the local socket'."""
    res = cli("backup", "-d", url)
    assert_refused(res.exit_code, res.stderr, ExitCode.USAGE, "malformed database URL")
    assert "Kq7@" not in res.stderr and "pa/ss" not in res.stderr
