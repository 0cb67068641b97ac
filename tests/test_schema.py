"""`dbadmin schema`: create, drop, show, diff against a real server."""

from __future__ import annotations

from conftest import Cli, PgServer
from test_migrate import HEAD, structure, version

from dbadmin.errors import ExitCode
from dbadmin.urls import DbUrl


def test_create_matches_the_migrations_exactly(
    cli: Cli, fresh_db: DbUrl, app_db: DbUrl, pg_server: PgServer
) -> None:
    """create_all from the models and the hand-reviewed initial revision build the same schema."""
    res = cli("schema", "create", "-d", fresh_db.render(), "--json")
    assert res.exit_code == 0, res.stderr
    assert res.json()["stamped"] == [HEAD]  # type: ignore[index]
    assert version(pg_server, fresh_db) == [HEAD]
    created = structure(cli("schema", "show", "-d", fresh_db.render(), "--json").json())
    migrated = structure(cli("schema", "show", "-d", app_db.render(), "--json").json())
    assert created == migrated
    res = cli("migrate", "check", "-d", fresh_db.render())
    assert res.exit_code == 0, res.stdout
    res = cli("migrate", "status", "-d", fresh_db.render(), "--json", "--check")
    assert res.exit_code == 0 and res.json()["checksums"] == []  # type: ignore[index]


def test_create_refuses_when_tables_exist(
    cli: Cli, app_db: DbUrl, fresh_db: DbUrl, pg_server: PgServer
) -> None:
    res = cli("schema", "create", "-d", app_db.render())
    assert res.exit_code == ExitCode.PROBLEM
    assert "refusing to create the schema: tables exist (analytics" in res.stderr
    pg_server.execute("CREATE TABLE mine (id int)", fresh_db.database or "")
    res = cli("schema", "create", "-d", fresh_db.render())
    assert res.exit_code == ExitCode.PROBLEM and "(mine)" in res.stderr


def test_drop_needs_confirmation_and_leaves_other_tables(
    cli: Cli, app_db: DbUrl, pg_server: PgServer
) -> None:
    db = app_db.database or ""
    pg_server.execute("CREATE TABLE keep_me (id int)", db)
    res = cli("schema", "drop", "-d", app_db.render())
    assert res.exit_code == ExitCode.USAGE and "--yes" in res.stderr
    res = cli("schema", "drop", "-d", app_db.render(), input="wrong-name\n")
    assert res.exit_code == ExitCode.USAGE  # no terminal: never asks, never drops
    res = cli("schema", "drop", "-d", app_db.render(), "--yes", "--json")
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert "users" in doc["dropped"] and "alembic_version" in doc["dropped"]  # type: ignore[index]
    assert doc["remaining"] == ["keep_me"]  # type: ignore[index]
    # and the database can be migrated again from scratch
    assert cli("migrate", "up", "-d", app_db.render()).exit_code == 0


def test_show_one_table_and_unknown_table(cli: Cli, app_db: DbUrl, pg_server: PgServer) -> None:
    pg_server.execute(
        "INSERT INTO users (email, password_hash) VALUES ('a@b.c', 'x'); ANALYZE users",
        app_db.database or "",
    )
    res = cli("schema", "show", "tasks", "-d", app_db.render(), "--json")
    assert res.exit_code == 0, res.stderr
    (tasks,) = res.json()["tables"]  # type: ignore[index]
    assert [c["name"] for c in tasks["columns"]][:3] == ["id", "user_id", "title"]
    assert {
        "name": "fk_tasks_user_id_users",
        "columns": ["user_id"],
        "references": "users",
    }.items() <= tasks["foreign_keys"][0].items()
    assert "ON DELETE CASCADE" in tasks["foreign_keys"][0]["definition"]
    assert {i["name"] for i in tasks["indexes"]} == {
        "pk_tasks",
        "ix_tasks_user_id_completed",
        "ix_tasks_completed",
        "ix_tasks_due_date",
    }
    assert {c["name"] for c in tasks["constraints"]} == {"pk_tasks", "ck_tasks_priority"}
    users = cli("schema", "show", "users", "-d", app_db.render(), "--json").json()["tables"][0]  # type: ignore[index]
    assert users["row_estimate"] == 1 and users["total_bytes"] > 0
    res = cli("schema", "show", "-d", app_db.render())
    assert res.exit_code == 0 and "chapter_progress" in res.stdout
    res = cli("schema", "show", "tasks", "-d", app_db.render())
    assert "ix_tasks_user_id_completed" in res.stdout and "ON DELETE CASCADE" in res.stdout
    res = cli("schema", "show", "no_such_table", "-d", app_db.render())
    assert res.exit_code == ExitCode.USAGE and "unknown table 'no_such_table'" in res.stderr


def test_diff_is_clean_at_head_and_lists_missing_tables(
    cli: Cli, app_db: DbUrl, fresh_db: DbUrl
) -> None:
    res = cli("schema", "diff", "-d", app_db.render(), "--json")
    assert res.exit_code == 0 and res.json()["identical"] is True  # type: ignore[index]
    res = cli("schema", "diff", "-d", fresh_db.render())
    assert res.exit_code == ExitCode.PROBLEM
    assert "table users is in the models but not in the database" in res.stdout


def test_drop_on_a_terminal_needs_the_typed_database_name(
    app_db: DbUrl, pg_server: PgServer
) -> None:
    from test_migrate import run_with_terminal_input

    db = app_db.database or ""
    tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
    proc = run_with_terminal_input("schema", "drop", "-d", app_db.render(), answer="yes\n")
    assert proc.returncode == ExitCode.USAGE, proc.stderr
    assert f"Type '{db}' to confirm" in proc.stdout
    assert "confirmation did not match; nothing was changed" in proc.stderr
    assert pg_server.execute(tables, db) == [(12,)]  # 10 tables + alembic_version + checksums
    proc = run_with_terminal_input("schema", "drop", "-d", app_db.render(), answer=f"{db}\n")
    assert proc.returncode == 0, proc.stderr
    assert "dropped 12 tables" in proc.stdout
    assert pg_server.execute(tables, db) == [(0,)]
