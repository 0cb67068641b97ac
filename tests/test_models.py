"""The reference schema: models, the initial revision and the `app_db` fixture agree."""

from __future__ import annotations

from conftest import PgServer

from dbadmin.urls import DbUrl

TABLES = {
    "users",
    "tasks",
    "conversations",
    "messages",
    "modules",
    "chapters",
    "chapter_progress",
    "content_metadata",
    "embeddings",
    "analytics",
}


def test_app_db_is_at_head_with_every_table(app_db: DbUrl, pg_server: PgServer) -> None:
    db = app_db.database or ""
    rows = pg_server.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", db)
    assert TABLES | {"alembic_version", "dbadmin_migrations"} == {r[0] for r in rows}
    assert pg_server.execute("SELECT version_num FROM alembic_version", db) == [("0003",)]


def test_constraints_and_defaults_work(app_db: DbUrl, pg_server: PgServer) -> None:
    db = app_db.database or ""
    user_id = pg_server.execute(
        "INSERT INTO users (email, password_hash) VALUES ('a@example.org', 'x') RETURNING id", db
    )[0][0]
    row = pg_server.execute(
        "SELECT language_preference, theme_preference, created_at IS NOT NULL FROM users", db
    )
    assert row == [("EN", "light", True)]
    pg_server.execute(f"INSERT INTO tasks (user_id, title) VALUES ('{user_id}', 't1')", db)
    assert pg_server.execute("SELECT priority, completed FROM tasks", db) == [("medium", False)]
    import psycopg2
    import pytest

    with pytest.raises(psycopg2.errors.CheckViolation):
        pg_server.execute(
            f"INSERT INTO tasks (user_id, title, priority) VALUES ('{user_id}', 't', 'urgent')", db
        )
    pg_server.execute(f"DELETE FROM users WHERE id = '{user_id}'", db)
    assert pg_server.execute("SELECT count(*) FROM tasks", db) == [(0,)]  # ON DELETE CASCADE


def test_models_metadata_names_everything() -> None:
    from dbadmin.models import metadata

    assert set(metadata.tables) == TABLES
    for table in metadata.tables.values():
        for index in table.indexes:
            assert index.name and str(index.name).startswith("ix_")
        for constraint in table.constraints:
            assert constraint.name, (table.name, constraint)
