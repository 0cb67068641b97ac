"""The CLI's contract: help, version, exit codes, one-line errors, no secrets, layering."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from conftest import PASSWORD, Cli, PgServer, run_dbadmin

from dbadmin.errors import ExitCode
from dbadmin.urls import DbUrl

REPO = Path(__file__).resolve().parent.parent


def test_version_and_help(cli: Cli) -> None:
    res = cli("--version")
    assert res.exit_code == 0 and res.stdout.startswith("dbadmin ")
    res = cli("--help")
    assert res.exit_code == 0
    for group in ("doctor", "local"):
        assert group in res.stdout


def test_help_does_not_import_sqlalchemy_or_alembic() -> None:
    code = (
        "import sys\n"
        "from dbadmin.cli import app\n"
        "from typer.testing import CliRunner\n"
        "CliRunner().invoke(app, ['--help'])\n"
        "heavy = [m for m in ('sqlalchemy', 'alembic', 'psycopg2') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_core_never_imports_typer() -> None:
    offenders = []
    for path in (REPO / "dbadmin").rglob("*.py"):
        if "cli" in path.relative_to(REPO / "dbadmin").parts[:1]:
            continue
        text = path.read_text()
        if "import typer" in text or "from typer" in text or "sys.exit(" in text:
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


def test_malformed_url_exits_2(cli: Cli) -> None:
    res = cli("doctor", "-d", "postgresql://u:pw@host:notaport/db")
    assert res.exit_code == ExitCode.USAGE
    assert res.stderr.startswith("dbadmin: error: malformed database URL")
    assert len(res.stderr.strip().splitlines()) == 1
    assert "Traceback" not in res.stderr and "pw@" not in res.stderr


def test_neon_sslmode_disable_exits_2(cli: Cli) -> None:
    url = "postgresql://a:b1234@ep-x-1.eu-central-1.aws.neon.tech/db?sslmode=disable"
    res = cli("doctor", "-d", url)
    assert res.exit_code == ExitCode.USAGE
    assert "not allowed for Neon" in res.stderr
    assert "b1234" not in res.stderr + res.stdout


def test_unreachable_host_exits_3_within_retry_budget(cli: Cli) -> None:
    started = time.monotonic()
    res = cli(
        "doctor", "-d", "postgresql://u:pw123@127.0.0.1:1/db", env={"DBADMIN_CONNECT_RETRY": "2"}
    )
    elapsed = time.monotonic() - started
    assert res.exit_code == ExitCode.CONNECT, res.stderr
    assert "cannot connect" in res.stderr
    assert "waiting for" in res.stderr  # the retry notice
    assert elapsed < 15
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("dbadmin: error:") and "Traceback" not in res.stderr


def test_wrong_password_exits_3_and_never_shows_it(cli: Cli, pg_server: PgServer) -> None:
    wrong = "Wr0ng-Passw0rd-9911"
    url = pg_server.password_url(password=wrong).render()
    started = time.monotonic()
    res = cli("doctor", "-d", url, "--json")
    assert res.exit_code == ExitCode.CONNECT
    assert time.monotonic() - started < 10, "authentication failures must not be retried"
    assert "authentication failed" in res.stderr
    assert wrong not in res.stdout + res.stderr


def test_password_never_in_output_of_a_failing_command(pg_server: PgServer) -> None:
    """End to end: the real password on a URL whose database does not exist."""
    url = pg_server.password_url(database="no_such_db_here").render()
    proc = run_dbadmin("doctor", "-d", url, "--json")
    assert proc.returncode == ExitCode.CONNECT
    assert PASSWORD not in proc.stdout + proc.stderr
    assert "does not exist" in proc.stderr
    proc = run_dbadmin("--debug", "doctor", "-d", url)
    assert PASSWORD not in proc.stdout + proc.stderr


def test_doctor_reports_on_a_real_server(cli: Cli, pg_server: PgServer) -> None:
    res = cli("doctor", "-d", pg_server.password_url().render(), "--json")
    doc = res.json()
    assert isinstance(doc, dict)
    checks = {c["name"]: c for c in doc["checks"]}
    assert PASSWORD not in res.stdout + res.stderr
    assert checks["server"]["status"] == "ok"
    assert checks["server"]["value"].startswith(f"PostgreSQL {pg_server.major}")
    assert checks["pg_dump"]["status"] == "ok"
    assert {
        "url",
        "endpoint",
        "tls",
        "connect_latency",
        "pg_restore",
        "pg_stat_statements",
        "migrations",
    } <= set(checks)
    assert res.exit_code == (1 if any(c["status"] == "fail" for c in checks.values()) else 0)


def test_doctor_as_a_plain_role_shows_the_table(
    cli: Cli, pg_server: PgServer, app_db: DbUrl
) -> None:
    """A LOGIN role without superuser, pg_read_all_settings or grants: shared_preload_libraries
    and alembic_version are not readable; doctor still reports every check (as warnings)."""
    import dataclasses
    import uuid

    role = f"plain_{uuid.uuid4().hex[:8]}"
    db = app_db.database or ""
    pg_server.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", db)
    pg_server.execute(f"CREATE ROLE {role} LOGIN")
    try:
        url = dataclasses.replace(app_db, user=role, password=None).render()
        res = cli("doctor", "-d", url)
        assert "error" not in res.stderr, res.stderr
        assert "dbadmin doctor" in res.stdout
        line = next(ln for ln in res.stdout.splitlines() if "pg_stat_statements" in ln)
        assert "WARN" in line.upper() and "shared_preload_libraries" in line, line
        res = cli("doctor", "-d", url, "--json")
        checks = {c["name"]: c for c in res.json()["checks"]}  # type: ignore[index]
        assert checks["pg_stat_statements"]["status"] == "warn"
        assert role in checks["pg_stat_statements"]["value"]
        assert checks["migrations"]["status"] == "warn"
        assert "permission denied" in checks["migrations"]["value"]
        assert res.exit_code == (1 if any(c["status"] == "fail" for c in checks.values()) else 0)
        assert res.stderr.count("dbadmin: error") == 0
    finally:
        pg_server.execute(f"DROP ROLE IF EXISTS {role}")


def test_destructive_local_destroy_needs_yes_without_tty(cli: Cli) -> None:
    res = cli("local", "destroy")
    assert res.exit_code == ExitCode.USAGE
    assert "--yes" in res.stderr


def test_doctor_over_tls_on_postgres_15(cli: Cli, tls_server: PgServer) -> None:
    """A real TLS server (Debian PostgreSQL 15, ssl=on): sslmode=require works, TLS is reported,
    and plain connections are refused by the server."""
    url = tls_server.password_url().with_query(sslmode="require")
    res = cli("doctor", "-d", url.render(), "--json")
    checks = {c["name"]: c for c in res.json()["checks"]}  # type: ignore[index]
    assert checks["server"]["value"].startswith("PostgreSQL 15")
    assert checks["tls"]["status"] == "ok", checks["tls"]
    assert checks["pg_dump"]["status"] == "ok"
    assert "TLS" in checks["pg_dump"]["value"] and "no TLS" not in checks["pg_dump"]["value"]
    res = cli("doctor", "-d", url.with_query(sslmode="disable").render())
    assert res.exit_code == ExitCode.CONNECT
    assert PASSWORD not in res.stdout + res.stderr


def test_group_options_before_a_subcommand_reach_it_or_are_refused(
    cli: Cli, tmp_path: Path
) -> None:
    """One mechanism for every group (cli.common.carry_group_options): nothing is dropped."""
    empty = tmp_path / "empty.log"
    empty.write_text("")
    res = cli("slow-queries", "--json", "log", str(empty))  # --json reaches `log`
    assert res.exit_code == 0 and res.json()["total_queries"] == 0  # type: ignore[index]
    res = cli("slow-queries", "--sort", "mean", "log", str(empty))
    assert res.exit_code == ExitCode.USAGE
    assert "--sort given before `log` does not apply" in res.stderr
    res = cli("health", "--check", "connections", "pool")  # Nagios: usage errors are UNKNOWN
    assert res.exit_code == 3 and "does not apply to `dbadmin health pool`" in res.stderr
