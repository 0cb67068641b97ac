"""`dbadmin migrate`: the safety properties of issue 3, against a real server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import psycopg2
import pytest
from conftest import Cli, PgServer

from dbadmin.errors import ExitCode
from dbadmin.migrate.runtime import LOCK_CLASSID, LOCK_OBJID
from dbadmin.urls import DbUrl

REPO = Path(__file__).resolve().parent.parent
HEAD = "0003"
REVISIONS = ["0001", "0002", "0003"]  # every revision of the reference migrations, in order


def make_project(root: Path, *revisions: tuple[str, str]) -> Path:
    """A copy of the reference migrations plus extra revisions; returns its alembic.ini.

    Each extra revision is (revision id, body of upgrade()); each revises the previous one.
    """
    project = root / "proj"
    shutil.copytree(
        REPO / "migrations", project / "migrations", ignore=shutil.ignore_patterns("__pycache__")
    )
    ini = project / "alembic.ini"
    ini.write_text("[alembic]\nscript_location = %(here)s/migrations\n")
    down = HEAD
    for rev, body in revisions:
        upgrade = textwrap.indent(textwrap.dedent(body).strip(), "    ")
        (project / "migrations" / "versions" / f"{rev}_test.py").write_text(
            f'"""test revision {rev}"""\n'
            "import sqlalchemy as sa\n"
            "from alembic import op\n\n"
            f"revision = {rev!r}\n"
            f"down_revision = {down!r}\n"
            "branch_labels = None\n"
            "depends_on = None\n\n\n"
            f"def upgrade():\n{upgrade}\n\n\n"
            "def downgrade():\n    pass\n"
        )
        down = rev
    return ini


def version(pg: PgServer, url: DbUrl) -> list[str]:
    return [r[0] for r in pg.execute("SELECT version_num FROM alembic_version", url.database or "")]


def structure(doc: object) -> dict:
    """`schema show --json` without the volatile parts (sizes, estimates)."""
    assert isinstance(doc, dict)
    return {
        t["name"]: {
            "columns": t["columns"],
            "indexes": [{k: v for k, v in i.items() if k != "size_bytes"} for i in t["indexes"]],
            "constraints": t["constraints"],
            "foreign_keys": t["foreign_keys"],
        }
        for t in doc["tables"]
    }


# --- Must show: up, down, up -------------------------------------------------------------------
def test_up_down_up_gives_an_identical_schema(
    cli: Cli, fresh_db: DbUrl, pg_server: PgServer
) -> None:
    url = fresh_db.render()
    res = cli("migrate", "up", "-d", url, "--json")
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert doc["before"] == [] and doc["after"] == [HEAD]  # type: ignore[index]
    assert [r["revision"] for r in doc["revisions"]] == REVISIONS  # type: ignore[index]
    first = structure(cli("schema", "show", "-d", url, "--json").json())
    assert {"users", "tasks", "messages", "analytics"} <= set(first)

    res = cli("migrate", "down", "base", "-d", url, "--yes")
    assert res.exit_code == 0, res.stderr
    emptied = structure(cli("schema", "show", "-d", url, "--json").json())
    assert set(emptied) == {"alembic_version", "dbadmin_migrations"}
    assert version(pg_server, fresh_db) == []

    res = cli("migrate", "up", "-d", url)
    assert res.exit_code == 0, res.stderr
    assert f"upgraded base -> {HEAD} on " in res.stdout
    assert structure(cli("schema", "show", "-d", url, "--json").json()) == first
    # the checksum rows of the re-applied revisions: each file's sha256, who, how long
    from dbadmin.migrate.checksums import file_sha256

    rows = pg_server.execute(
        "SELECT revision, sha256, filename, applied_by, duration_ms, applied_at <= now() "
        "FROM dbadmin_migrations ORDER BY revision",
        fresh_db.database or "",
    )
    files = sorted((REPO / "migrations" / "versions").glob("000*.py"))
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (rev, file_sha256(path), path.name) for rev, path in zip(REVISIONS, files, strict=True)
    ]
    for _, _, _, applied_by, duration_ms, in_past in rows:
        assert "(dbadmin " in applied_by and duration_ms > 0 and in_past
    # and nothing to do the second time
    res = cli("migrate", "up", "-d", url, "--json")
    assert res.exit_code == 0 and res.json()["revisions"] == []  # type: ignore[index]
    res = cli("migrate", "up", "-d", url)
    assert res.exit_code == 0 and res.stdout == f"nothing to do: the database is at {HEAD}\n"


def run_with_terminal_input(
    *args: str, answer: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``dbadmin`` with a real terminal (a pty) as stdin and type ``answer`` into it."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dbadmin", *args],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.close(slave)
        slave = -1
        os.write(master, answer.encode())
        out, err = proc.communicate(timeout=timeout)
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_down_asks_on_a_terminal(app_db: DbUrl, pg_server: PgServer) -> None:
    url = app_db.render()
    proc = run_with_terminal_input("migrate", "down", "-1", "-d", url, answer="n\n")
    assert proc.returncode == ExitCode.USAGE, proc.stderr
    assert "Continue?" in proc.stdout and "cancelled; nothing was changed" in proc.stderr
    assert version(pg_server, app_db) == [HEAD]
    proc = run_with_terminal_input("migrate", "down", "-1", "-d", url, answer="y\n")
    assert proc.returncode == 0, proc.stderr
    assert f"downgraded {HEAD} -> {REVISIONS[-2]}" in proc.stdout
    assert version(pg_server, app_db) == [REVISIONS[-2]]


def test_ctrl_d_at_the_prompt_cancels(app_db: DbUrl, pg_server: PgServer) -> None:
    """EOF (Ctrl-D typed on the terminal) at the confirmation is a 'no', not a crash."""
    proc = run_with_terminal_input("migrate", "down", "-1", "-d", app_db.render(), answer="\x04")
    assert proc.returncode == ExitCode.USAGE, proc.stderr
    assert proc.stderr.strip().splitlines() == ["dbadmin: error: cancelled; nothing was changed"]
    assert version(pg_server, app_db) == [HEAD]


def test_ctrl_c_at_the_prompt_exits_130(app_db: DbUrl, pg_server: PgServer) -> None:
    import signal

    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dbadmin", "migrate", "down", "-1", "-d", app_db.render()],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        os.close(slave)
        slave = -1
        assert proc.stdout is not None
        seen = b""
        deadline = time.monotonic() + 60
        while b"Continue?" not in seen and time.monotonic() < deadline:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
        assert b"Continue?" in seen, seen
        proc.send_signal(signal.SIGINT)  # what Ctrl-C on the terminal delivers
        _out, err = proc.communicate(timeout=60)
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert err.decode().strip().splitlines() == [
        "dbadmin: error: interrupted; nothing half-written was left behind"
    ]
    assert version(pg_server, app_db) == [HEAD]


def test_down_needs_yes_without_a_terminal(cli: Cli, app_db: DbUrl, pg_server: PgServer) -> None:
    res = cli("migrate", "down", "-1", "-d", app_db.render())
    assert res.exit_code == ExitCode.USAGE and "--yes" in res.stderr
    assert version(pg_server, app_db) == [HEAD]
    res = cli("migrate", "down", "-1", "-d", app_db.render(), "--yes")
    assert res.exit_code == 0, res.stderr
    assert version(pg_server, app_db) == [REVISIONS[-2]]


# --- Must show: five migrators at once ---------------------------------------------------------
def test_five_concurrent_migrate_up_apply_each_revision_once(
    fresh_db: DbUrl, pg_server: PgServer
) -> None:
    env = {**os.environ, "DBADMIN_CONNECT_RETRY": "10"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "dbadmin", "migrate", "up", "-d", fresh_db.render(), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(5)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    codes = [p.returncode for p in procs]
    assert codes == [0] * 5, outputs
    docs = [json.loads(out) for out, _ in outputs]
    applied = [r["revision"] for d in docs for r in d["revisions"]]
    assert applied == REVISIONS  # one process applied them, the others found nothing to do
    for _, err in outputs:
        assert "error" not in err.lower() and "Traceback" not in err, err
    for rev in REVISIONS:
        assert sum(err.count(f"applying {rev}") for _, err in outputs) == 1
    assert version(pg_server, fresh_db) == [HEAD]
    rows = pg_server.execute(
        "SELECT revision FROM dbadmin_migrations ORDER BY revision", fresh_db.database or ""
    )
    assert rows == [(rev,) for rev in REVISIONS]


def test_waits_for_the_lock_then_times_out_naming_the_holder(
    cli: Cli, fresh_db: DbUrl, pg_server: PgServer
) -> None:
    holder = psycopg2.connect(**fresh_db.connect_kwargs(), application_name="other-deploy")
    holder.autocommit = True
    try:
        with holder.cursor() as cur:
            cur.execute(
                "SELECT pg_advisory_lock(%s, %s), pg_backend_pid()", (LOCK_CLASSID, LOCK_OBJID)
            )
            pid = cur.fetchone()[1]
        res = cli("migrate", "up", "-d", fresh_db.render(), "--lock-wait", "1")
        assert res.exit_code == ExitCode.TIMEOUT, res.stderr
        assert (
            f"waiting up to 1 s for the migration lock held by pid {pid} (other-deploy"
            in res.stderr
        )
        assert "since" in res.stderr
        assert f"pid {pid}" in res.stderr.strip().splitlines()[-1]
        assert (
            version(pg_server, fresh_db) == [] if _has_version_table(pg_server, fresh_db) else True
        )

        # released while a second migrator waits: it proceeds
        def release() -> None:
            time.sleep(1.0)
            with holder.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASSID, LOCK_OBJID))

        thread = threading.Thread(target=release)
        thread.start()
        res = cli("migrate", "up", "-d", fresh_db.render(), "--lock-wait", "30")
        thread.join()
        assert res.exit_code == 0, res.stderr
        assert "waiting up to 30 s" in res.stderr
        assert version(pg_server, fresh_db) == [HEAD]
    finally:
        holder.close()


def _has_version_table(pg: PgServer, url: DbUrl) -> bool:
    rows = pg.execute("SELECT to_regclass('alembic_version') IS NOT NULL", url.database or "")
    return bool(rows[0][0])


# --- Must show: lock_timeout, retries, exit 4 naming the blocker --------------------------------
def test_blocked_revision_fails_with_exit_4_naming_the_blocker(
    cli: Cli, app_db: DbUrl, pg_server: PgServer, tmp_path: Path
) -> None:
    ini = make_project(tmp_path, ("0004", 'op.add_column("tasks", sa.Column("note", sa.Text()))'))
    blocker = psycopg2.connect(**app_db.connect_kwargs(), application_name="long-report")
    try:
        with blocker.cursor() as cur:  # an open transaction that read tasks: ACCESS SHARE held
            cur.execute("SELECT pg_backend_pid()")
            pid = cur.fetchone()[0]
            cur.execute("SELECT count(*) /* nightly-report */ FROM tasks")
        started = time.monotonic()
        res = cli(
            "migrate", "up", "-d", app_db.render(), "--config", str(ini),
            "--lock-timeout", "0.5", "--attempts", "2",
        )  # fmt: skip
        elapsed = time.monotonic() - started
        assert res.exit_code == ExitCode.TIMEOUT, res.stdout + res.stderr
        last = res.stderr.strip().splitlines()[-1]
        assert last.startswith("dbadmin: error: revision 0004 could not get a lock"), last
        assert f"pid {pid}" in last and "nightly-report" in last and "long-report" in last
        assert "attempt 1/2 failed" in res.stderr  # one retry happened
        # attempts x lock_timeout + backoff (1 s, up to 25 % jitter): 2.0 .. 2.25 s of waiting,
        # plus slack for a loaded machine; never a hang
        assert 2 * 0.5 + 1.0 <= elapsed < 2 * 0.5 + 1.25 + 10, elapsed
        assert version(pg_server, app_db) == [HEAD]
    finally:
        blocker.close()
    # once the blocker is gone the same command succeeds
    res = cli("migrate", "up", "-d", app_db.render(), "--config", str(ini))
    assert res.exit_code == 0, res.stderr
    assert version(pg_server, app_db) == ["0004"]


def test_failing_revision_leaves_the_previous_one_and_shows_the_statement(
    cli: Cli, app_db: DbUrl, pg_server: PgServer, tmp_path: Path
) -> None:
    ini = make_project(
        tmp_path,
        (
            "0004",
            """
            op.create_table("half_done", sa.Column("id", sa.BigInteger(), primary_key=True))
            op.execute("ALTER TABLE no_such_table ADD COLUMN x int")
            """,
        ),
    )
    res = cli("migrate", "up", "-d", app_db.render(), "--config", str(ini))
    assert res.exit_code == ExitCode.PROBLEM, res.stderr
    line = res.stderr.strip().splitlines()[-1]
    assert "revision 0004 failed and was rolled back" in line
    assert "no_such_table" in line and "failing statement: ALTER TABLE no_such_table" in line
    assert version(pg_server, app_db) == [HEAD]
    rows = pg_server.execute("SELECT to_regclass('half_done')", app_db.database or "")
    assert rows == [(None,)]


# --- Must show: check -----------------------------------------------------------------------------
def test_check_reports_an_unmigrated_model_column(cli: Cli, app_db: DbUrl, tmp_path: Path) -> None:
    res = cli("migrate", "check", "-d", app_db.render())
    assert res.exit_code == 0, res.stdout + res.stderr
    assert f"OK: one head ({HEAD})" in res.stdout

    module = f"models_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(
        textwrap.dedent(
            """
            import sqlalchemy as sa
            from dbadmin.models import metadata as reference

            metadata = sa.MetaData(naming_convention=reference.naming_convention)
            for table in reference.sorted_tables:
                table.to_metadata(metadata)
            metadata.tables["users"].append_column(sa.Column("nickname", sa.String(50)))
            """
        )
    )
    env = {"DBADMIN_MODELS": f"{module}:metadata"}
    res = cli("migrate", "check", "-d", app_db.render(), env=env)
    assert res.exit_code == ExitCode.PROBLEM
    assert (
        "column users.nickname (VARCHAR(50)) is in the models but not in the database" in res.stdout
    )
    res = cli("migrate", "check", "-d", app_db.render(), "--json", env=env)
    assert res.json()["drift"] == [  # type: ignore[index]
        "column users.nickname (VARCHAR(50)) is in the models but not in the database"
    ]
    res = cli("schema", "diff", "-d", app_db.render(), env=env)
    assert res.exit_code == ExitCode.PROBLEM and "users.nickname" in res.stdout


def test_check_fails_on_two_heads(cli: Cli, app_db: DbUrl, tmp_path: Path) -> None:
    ini = make_project(tmp_path, ("0004", "pass"))
    versions = ini.parent / "migrations" / "versions"
    (versions / "0005_test.py").write_text(  # a second branch off the head
        (versions / "0004_test.py").read_text().replace("'0004'", "'0005'")
    )
    res = cli("migrate", "check", "-d", app_db.render(), "--config", str(ini))
    assert res.exit_code == ExitCode.PROBLEM, res.stdout + res.stderr
    assert "FAIL: 2 heads (0004, 0005)" in res.stdout
    res = cli("migrate", "check", "-d", app_db.render(), "--config", str(ini), "--json")
    assert res.exit_code == ExitCode.PROBLEM
    doc = res.json()
    assert doc["ok"] is False and doc["heads"] == ["0004", "0005"] and doc["drift"] == []  # type: ignore[index]


# --- Must show: lint ------------------------------------------------------------------------------
def test_lint_flags_blocking_index_and_required_column(cli: Cli, tmp_path: Path) -> None:
    ini = make_project(
        tmp_path,
        (
            "0004",
            """
            op.create_index("ix_tasks_title", "tasks", ["title"])
            op.add_column("users", sa.Column("age", sa.BigInteger(), nullable=False))
            """,
        ),
    )
    res = cli("migrate", "lint", "0004", "--config", str(ini), "--json")
    assert res.exit_code == ExitCode.PROBLEM, res.stderr
    doc = res.json()
    errors = {(f["rule"], f["revision"]) for f in doc["findings"] if f["level"] == "error"}  # type: ignore[index]
    assert ("require-concurrent-index-creation", "0004") in errors
    assert ("adding-required-field", "0004") in errors
    statements = " ".join(f["statement"] for f in doc["findings"])  # type: ignore[index]
    assert "CREATE INDEX ix_tasks_title" in statements and "ADD COLUMN age" in statements
    # the table for people says the same
    res = cli("migrate", "lint", "0004", "--config", str(ini))
    assert res.exit_code == ExitCode.PROBLEM
    assert "require-concurrent-index-creation" in res.stdout
    assert "adding-required-field" in res.stdout
    assert f"{doc['errors']} errors" in res.stdout.splitlines()[-1]  # type: ignore[index]

    # the initial revision creates new tables only: warnings at most
    res = cli("migrate", "lint", "base:0001", "--config", str(ini))
    assert res.exit_code == 0, res.stdout + res.stderr
    assert "0 errors" in res.stdout
    # rules are configurable
    res = cli(
        "migrate", "lint", "0004", "--config", str(ini), "--json",
        "--warning", "require-concurrent-index-creation", "--exclude", "adding-required-field",
    )  # fmt: skip
    assert res.exit_code == 0, res.stdout
    # squawk itself failing is exit 5
    res = cli("migrate", "lint", "0004", "--config", str(ini), env={"DBADMIN_SQUAWK": "/bin/false"})
    assert res.exit_code == ExitCode.EXTERNAL and "squawk" in res.stderr


def test_lint_defaults_to_pending_revisions(cli: Cli, app_db: DbUrl, tmp_path: Path) -> None:
    ini = make_project(tmp_path, ("0004", 'op.create_index("ix_users_name", "users", ["name"])'))
    res = cli("migrate", "lint", "-d", app_db.render(), "--config", str(ini), "--json")
    assert res.exit_code == ExitCode.PROBLEM
    assert res.json()["revisions"] == ["0004"]  # type: ignore[index]


# --- Must show: checksums --------------------------------------------------------------------------
def test_status_reports_a_changed_applied_revision(
    cli: Cli, fresh_db: DbUrl, tmp_path: Path
) -> None:
    ini = make_project(tmp_path, ("0004", 'op.add_column("tasks", sa.Column("note", sa.Text()))'))
    url = fresh_db.render()
    res = cli("migrate", "status", "-d", url, "--config", str(ini), "--check")
    assert res.exit_code == ExitCode.PROBLEM  # not at head
    assert cli("migrate", "up", "-d", url, "--config", str(ini)).exit_code == 0
    res = cli("migrate", "status", "-d", url, "--config", str(ini), "--check", "--json")
    assert res.exit_code == 0, res.stderr
    assert res.json()["at_head"] is True and res.json()["checksums"] == []  # type: ignore[index]

    revision = ini.parent / "migrations" / "versions" / "0004_test.py"
    revision.write_text(revision.read_text().replace('"note"', '"remark"'))
    res = cli("migrate", "status", "-d", url, "--config", str(ini), "--json")
    assert res.exit_code == 0
    assert res.json()["checksums"][0]["revision"] == "0004"  # type: ignore[index]
    assert res.json()["checksums"][0]["status"] == "changed"  # type: ignore[index]
    assert "warning: revision 0004: 0004_test.py changed since it was applied" in res.stderr
    res = cli("migrate", "status", "-d", url, "--config", str(ini), "--check")
    assert res.exit_code == ExitCode.PROBLEM


# --- Must show: usage errors are exit 2 ---------------------------------------------------------
def test_unknown_revision_missing_config_and_bad_models_exit_2(
    cli: Cli, app_db: DbUrl, tmp_path: Path
) -> None:
    url = app_db.render()
    res = cli("migrate", "up", "nosuchrev", "-d", url)
    assert res.exit_code == ExitCode.USAGE
    assert "unknown revision 'nosuchrev'" in res.stderr
    res = cli("migrate", "down", "nosuchrev", "-d", url, "--yes")
    assert res.exit_code == ExitCode.USAGE
    res = cli("migrate", "status", "-d", url, "--config", str(tmp_path / "nope" / "alembic.ini"))
    assert res.exit_code == ExitCode.USAGE
    assert "alembic config" in res.stderr and "not found" in res.stderr
    (tmp_path / "broken_models.py").write_text("import no_such_dependency_xyz\n")
    res = cli("migrate", "check", "-d", url, env={"DBADMIN_MODELS": "broken_models:Base"})
    assert res.exit_code == ExitCode.USAGE
    assert "cannot import models 'broken_models:Base'" in res.stderr
    assert "no_such_dependency_xyz" in res.stderr
    for stderr in (res.stderr,):
        assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr


def test_direct_url_through_a_pooler_is_refused(cli: Cli) -> None:
    pooled = "postgresql://app:pw-1@ep-cool-1234-pooler.eu-central-1.aws.neon.tech/app"
    res = cli("migrate", "up", "-d", pooled, "--json", env={"DATABASE_DIRECT_URL": ""})
    # the direct URL is derived (host without -pooler) and the run says so before connecting
    assert "using the direct endpoint" in res.stderr and "ep-cool-1234.eu-central-1" in res.stderr
    assert res.exit_code in (ExitCode.CONNECT, ExitCode.TIMEOUT)  # no network here
    res = cli("--direct-url", pooled, "migrate", "up", "-d", pooled)
    assert res.exit_code == ExitCode.USAGE
    assert "-pooler endpoint" in res.stderr and "pw-1" not in res.stderr


# --- history, sql, new, stamp ----------------------------------------------------------------------
def test_history_and_offline_sql(cli: Cli) -> None:
    res = cli("migrate", "history", "--json")
    assert res.exit_code == 0
    assert res.json()[0]["revision"] == HEAD and res.json()[0]["head"] is True  # type: ignore[index]
    res = cli("migrate", "sql", "base:head")
    assert res.exit_code == 0
    assert (
        "CREATE TABLE users" in res.stdout
        and "CREATE INDEX ix_tasks_user_id_completed" in res.stdout
    )
    res = cli("migrate", "sql", "head:base")
    assert res.exit_code == 0 and "DROP TABLE users" in res.stdout


def test_new_revision_with_autogenerate(cli: Cli, app_db: DbUrl, tmp_path: Path) -> None:
    ini = make_project(tmp_path)
    res = cli("migrate", "new", "empty step", "--config", str(ini), "--json")
    assert res.exit_code == 0, res.stderr
    assert Path(res.json()["path"]).is_file()  # type: ignore[index]
    module = f"models_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(
        "import sqlalchemy as sa\n"
        "from dbadmin.models import metadata as reference\n"
        "metadata = sa.MetaData(naming_convention=reference.naming_convention)\n"
        "for t in reference.sorted_tables:\n"
        "    t.to_metadata(metadata)\n"
        "metadata.tables['tasks'].append_column(sa.Column('tags', sa.Text()))\n"
    )
    # the database must be at head first: apply the empty step
    assert cli("migrate", "up", "-d", app_db.render(), "--config", str(ini)).exit_code == 0
    res = cli(
        "migrate", "new", "add tasks.tags", "--autogenerate", "-d", app_db.render(),
        "--config", str(ini), "--json", env={"DBADMIN_MODELS": f"{module}:metadata"},
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    text = Path(res.json()["path"]).read_text()  # type: ignore[index]
    assert "op.add_column('tasks', sa.Column('tags'" in text


def test_stamp_records_checksums(cli: Cli, fresh_db: DbUrl, pg_server: PgServer) -> None:
    res = cli("migrate", "stamp", "head", "-d", fresh_db.render())
    assert res.exit_code == 0, res.stderr
    assert version(pg_server, fresh_db) == [HEAD]
    rows = pg_server.execute(
        "SELECT revision, applied_by LIKE 'stamp by %' FROM dbadmin_migrations ORDER BY revision",
        fresh_db.database or "",
    )
    assert rows == [(rev, True) for rev in REVISIONS]


def test_plain_alembic_upgrade_uses_dbadmin_settings(fresh_db: DbUrl, pg_server: PgServer) -> None:
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "alembic"),
            "-c",
            str(REPO / "alembic.ini"),
            "upgrade",
            "head",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DATABASE_URL": fresh_db.render()},
    )
    assert proc.returncode == 0, proc.stderr
    assert "Running upgrade  -> 0001" in proc.stderr
    assert version(pg_server, fresh_db) == [HEAD]


def test_plain_alembic_refuses_a_pooler_direct_url(fresh_db: DbUrl, pg_server: PgServer) -> None:
    """Plain `alembic` takes dbadmin's MigrationLock: a session lock through PgBouncer is refused
    before anything connects, as one Alembic error message (no traceback)."""
    pooler = "postgresql://u:pw-9931@ep-cool-1234-pooler.us-east-2.aws.neon.tech/neondb"
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "alembic"),
            "-c",
            str(REPO / "alembic.ini"),
            "upgrade",
            "head",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DATABASE_URL": fresh_db.render(), "DATABASE_DIRECT_URL": pooler},
    )
    assert proc.returncode != 0, proc.stderr
    assert "-pooler endpoint (PgBouncer, transaction mode)" in proc.stderr
    assert "Traceback" not in proc.stderr and "pw-9931" not in proc.stderr
    assert pg_server.execute("SELECT to_regclass('alembic_version')", fresh_db.database or "") == [
        (None,)
    ]


# --- the second lane: PostgreSQL 15 -------------------------------------------------------------
def test_up_down_up_on_postgres_15(pg15_server: PgServer, tmp_path: Path) -> None:
    from dbadmin import migrate
    from dbadmin.schema.show import show
    from dbadmin.settings import resolve

    name = pg15_server.create_database()
    try:
        settings = resolve(database_url=pg15_server.url(name).render(), environ={}, cwd=tmp_path)
        assert migrate.upgrade(settings).after == (HEAD,)
        first = show(settings)
        assert first.server_version.startswith("15")
        assert migrate.downgrade(settings, "base").after == ()
        assert {t.name for t in show(settings).tables} == {"alembic_version", "dbadmin_migrations"}
        assert migrate.upgrade(settings).after == (HEAD,)
        again = show(settings)
        assert _shape(again) == _shape(first)
    finally:
        pg15_server.drop_database(name)


def _shape(report: object) -> list[tuple]:
    return [
        (t.name, t.columns, t.constraints, [i.definition for i in t.indexes])
        for t in report.tables  # type: ignore[attr-defined]
    ]


@pytest.mark.parametrize("missing", ["alembic.ini"])
def test_missing_alembic_ini_from_environment(cli: Cli, missing: str, tmp_path: Path) -> None:
    res = cli("migrate", "history", env={"DBADMIN_ALEMBIC_CONFIG": str(tmp_path / missing)})
    assert res.exit_code == ExitCode.USAGE and "not found" in res.stderr


def test_multi_step_down_reverts_one_revision_per_transaction(
    cli: Cli, app_db: DbUrl, pg_server: PgServer, tmp_path: Path
) -> None:
    ini = make_project(
        tmp_path,
        ("0004", 'op.create_table("t4", sa.Column("id", sa.BigInteger(), primary_key=True))'),
        ("0005", 'op.create_table("t5", sa.Column("id", sa.BigInteger(), primary_key=True))'),
    )
    for rev in ("0004", "0005"):  # give the test revisions real downgrades
        path = ini.parent / "migrations" / "versions" / f"{rev}_test.py"
        path.write_text(
            path.read_text().replace(
                "def downgrade():\n    pass", f'def downgrade():\n    op.drop_table("t{rev[-1]}")'
            )
        )
    url = app_db.render()
    assert cli("migrate", "up", "-d", url, "--config", str(ini)).exit_code == 0
    res = cli("migrate", "down", "-2", "-d", url, "--config", str(ini), "--yes", "--json")
    assert res.exit_code == 0, res.stderr
    assert [r["revision"] for r in res.json()["revisions"]] == ["0005", "0004"]  # type: ignore[index]
    assert version(pg_server, app_db) == [HEAD]
    rows = pg_server.execute(
        "SELECT revision FROM dbadmin_migrations ORDER BY revision", app_db.database or ""
    )
    assert rows == [(rev,) for rev in REVISIONS]  # checksums of reverted revisions are forgotten
    res = cli("migrate", "down", "-5", "-d", url, "--config", str(ini), "--yes")
    assert res.exit_code == ExitCode.USAGE
    assert f"only {len(REVISIONS)} revisions are applied" in res.stderr


def test_statement_timeout_is_exit_4_without_retry(
    cli: Cli, app_db: DbUrl, pg_server: PgServer, tmp_path: Path
) -> None:
    ini = make_project(tmp_path, ("0004", 'op.execute("SELECT pg_sleep(30)")'))
    res = cli(
        "migrate", "up", "-d", app_db.render(), "--config", str(ini), "--statement-timeout", "0.3"
    )
    assert res.exit_code == ExitCode.TIMEOUT, res.stderr
    assert "revision 0004 exceeded statement_timeout 0.3s" in res.stderr
    assert "attempt" not in res.stderr
    assert version(pg_server, app_db) == [HEAD]


def test_broken_revision_file_is_a_config_error(cli: Cli, tmp_path: Path) -> None:
    ini = make_project(tmp_path, ("0004", "def broken(:"))
    res = cli("migrate", "history", "--config", str(ini))
    assert res.exit_code == ExitCode.USAGE
    assert "cannot load the revision files" in res.stderr and "SyntaxError" in res.stderr


def test_broken_revision_file_in_seed_and_doctor(cli: Cli, app_db: DbUrl, tmp_path: Path) -> None:
    """`seed` and `doctor` read the heads too: same config error, never 'unexpected'."""
    ini = make_project(tmp_path, ("0004", "def broken(:"))
    env = {"DBADMIN_ALEMBIC_CONFIG": str(ini)}
    res = cli("seed", "-d", app_db.render(), "--profile", "minimal", env=env)
    assert res.exit_code == ExitCode.USAGE, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dbadmin: error: cannot load the revision")
    assert "SyntaxError" in lines[0] and "unexpected" not in lines[0]
    res = cli("doctor", "-d", app_db.render(), "--json", env=env)
    checks = {c["name"]: c for c in res.json()["checks"]}  # type: ignore[index]
    assert checks["migrations"]["status"] == "warn"
    assert "cannot load the revision files" in checks["migrations"]["value"]
    assert "error" not in res.stderr


def test_the_wheel_ships_the_migrations(tmp_path: Path) -> None:
    """`pip install .` (not editable) must carry migrations/ as dbadmin/_migrations."""
    import zipfile

    source = tmp_path / "src"
    source.mkdir()
    assert not (REPO / "setup.py").exists()  # pyproject.toml alone builds it (hatchling)
    for name in ("pyproject.toml", "README.md", "alembic.ini"):
        shutil.copy(REPO / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "dbadmin", source / "dbadmin", ignore=ignore)
    shutil.copytree(REPO / "migrations", source / "migrations", ignore=ignore)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",  # hatchling is a test dependency: no network needed
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = (tmp_path / "dist").glob("dbadmin-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "dbadmin/_migrations/env.py" in names
    assert "dbadmin/_migrations/script.py.mako" in names
    assert "dbadmin/_migrations/versions/0001_initial_schema.py" in names
    assert "dbadmin/sql/schema/tables.sql" in names
    sql = {str(p.relative_to(REPO)) for p in (REPO / "dbadmin").rglob("*.sql")}
    assert sql <= names and "dbadmin/py.typed" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_each_revision_runs_with_set_local_timeouts(
    cli: Cli, app_db: DbUrl, pg_server: PgServer, tmp_path: Path
) -> None:
    ini = make_project(
        tmp_path,
        (
            "0004",
            """op.execute("CREATE TABLE seen AS SELECT current_setting('lock_timeout') AS lt, "
                       "current_setting('statement_timeout') AS st, "
                       "current_setting('application_name') AS app")""",
        ),
    )
    res = cli(
        "migrate", "up", "-d", app_db.render(), "--config", str(ini),
        "--lock-timeout", "0.75", "--statement-timeout", "20",
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    rows = pg_server.execute("SELECT lt, st, app FROM seen", app_db.database or "")
    assert rows == [("750ms", "20s", "dbadmin-migrate (migrating)")]


def test_database_at_an_unknown_revision(cli: Cli, app_db: DbUrl, pg_server: PgServer) -> None:
    pg_server.execute("UPDATE alembic_version SET version_num = 'feedbeef'", app_db.database or "")
    res = cli("migrate", "status", "-d", app_db.render(), "--check", "--json")
    assert res.exit_code == ExitCode.PROBLEM
    assert res.json()["unknown"] == ["feedbeef"]  # type: ignore[index]
    assert "which no revision file defines" in res.stderr
    res = cli("migrate", "up", "-d", app_db.render())
    assert res.exit_code == ExitCode.USAGE and "feedbeef" in res.stderr
