"""application role and row-level security on the per-user tables

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 07:15:00

Least privilege and user isolation, as `dbadmin audit` asks (docs/audit.md):

- a separate application role (``DBADMIN_APP_ROLE``, default ``app_user``), created LOGIN without
  a password when missing and the migrating role may (CREATEROLE, as Neon's owner role has), else
  skipped with a notice; it gets SELECT/INSERT/UPDATE/DELETE on the app's tables and nothing else;
- row-level security ENABLED on the per-user tables with one policy each for that role, keyed on
  the transaction's ``current_setting('app.user_id', true)`` (wrapped in a sub-SELECT so it is
  evaluated once per statement, not per row).

RLS is deliberately not FORCEd: the owner, which migrates, seeds and runs pg_dump (which sets
row_security = off and errors on a table whose policies apply to it), bypasses it, while the
application, connecting as the separate role, is bound by it. Every statement is SQL (DO blocks
where it depends on the server), so ``migrate sql`` renders it offline too. The downgrade drops
the policies and grants, and the role when this revision created it and nothing else uses it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("dbadmin.migrate")  # dbadmin prints it on stderr
DEFAULT_APP_ROLE = "app_user"
CREATED_COMMENT = "dbadmin: application role created by migration 0002"
APP_TABLES = (
    "users",
    "tasks",
    "conversations",
    "messages",
    "modules",
    "chapters",
    "chapter_progress",
    "content_metadata",
    "analytics",
)
ME = "(SELECT NULLIF(current_setting('app.user_id', true), '')::uuid)"
# table -> the rows a user may see and write: their own (messages also those of their
# conversations, so the assistant's replies, which carry no user_id, stay visible)
POLICIES = {
    "tasks": f"user_id = {ME}",
    "conversations": f"user_id = {ME}",
    "messages": (
        f"user_id = {ME} OR conversation_id IN "
        f"(SELECT c.id FROM conversations c WHERE c.user_id = {ME})"
    ),
    "chapter_progress": f"user_id = {ME}",
    "analytics": f"user_id = {ME}",
}


def _app_role() -> str:
    settings = context.config.attributes.get("dbadmin_settings")
    env = settings.env if settings is not None else os.environ
    return env.get("DBADMIN_APP_ROLE") or DEFAULT_APP_ROLE


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _when_role_exists(role: str, statements: Sequence[str]) -> str:
    """A DO block running ``statements`` only when ``role`` exists."""
    body = "\n".join(f"    EXECUTE {_literal(s)};" for s in statements)
    return (
        "DO $dbadmin$\nBEGIN\n"
        f"  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {_literal(role)}) THEN\n"
        f"{body}\n  END IF;\nEND\n$dbadmin$"
    )


def _warn_when_not_permitted(role: str) -> None:
    """Say on stderr (online runs) that the role will not be created, and why."""
    if context.is_offline_mode():
        return
    row = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :role), "
                "(SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user)"
            ),
            {"role": role},
        )
        .one()
    )
    if not row[0] and not row[1]:
        log.warning(
            "application role %s not created: the migrating role lacks CREATEROLE; the "
            "row-level security policies apply to PUBLIC until it exists (create it, then see "
            "`dbadmin audit --fix`)",
            role,
        )


def upgrade() -> None:
    role = _app_role()
    r, lit = _ident(role), _literal(role)
    _warn_when_not_permitted(role)
    op.execute(
        "DO $dbadmin$\nBEGIN\n"
        f"  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {lit}) THEN\n"
        "    IF (SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user) THEN\n"
        "      BEGIN\n"
        f"        CREATE ROLE {r} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;\n"
        f"        COMMENT ON ROLE {r} IS {_literal(CREATED_COMMENT)};\n"
        "      EXCEPTION WHEN duplicate_object THEN NULL;  -- created meanwhile by another database\n"
        "      END;\n"
        "    ELSE\n"
        f"      RAISE WARNING 'application role % not created: role % lacks CREATEROLE; create "
        "it, grant it DML on the tables and re-create the policies for it (dbadmin audit --fix)', "
        f"{lit}, current_user;\n"
        "    END IF;\n"
        "  END IF;\n"
        "END\n$dbadmin$"
    )
    tables = ", ".join(_ident(t) for t in APP_TABLES)
    grants = [
        f"GRANT USAGE ON SCHEMA {_ident('public')} TO {r}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {tables} TO {r}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {_ident('public')} TO {r}",
    ]
    op.execute(_when_role_exists(role, grants))
    for table, condition in POLICIES.items():
        op.execute(f"ALTER TABLE {_ident(table)} ENABLE ROW LEVEL SECURITY")
        policy = (
            f"CREATE POLICY {_ident(table + '_user_isolation')} ON {_ident(table)} AS PERMISSIVE "
            f"FOR ALL TO {{role}} USING ({condition}) WITH CHECK ({condition})"
        )
        # to the application role; to PUBLIC when it could not be created (the owner still
        # bypasses, and `dbadmin audit` reports the missing role)
        op.execute(
            "DO $dbadmin$\nBEGIN\n"
            f"  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {lit}) THEN\n"
            f"    EXECUTE {_literal(policy.format(role=r))};\n"
            "  ELSE\n"
            f"    EXECUTE {_literal(policy.format(role='PUBLIC'))};\n"
            "  END IF;\n"
            "END\n$dbadmin$"
        )


def downgrade() -> None:
    role = _app_role()
    r, lit = _ident(role), _literal(role)
    for table in reversed(POLICIES):
        op.execute(f"DROP POLICY IF EXISTS {_ident(table + '_user_isolation')} ON {_ident(table)}")
        op.execute(f"ALTER TABLE {_ident(table)} DISABLE ROW LEVEL SECURITY")
    tables = ", ".join(_ident(t) for t in APP_TABLES)
    revokes = [
        f"REVOKE SELECT, INSERT, UPDATE, DELETE ON {tables} FROM {r}",
        f"REVOKE USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public FROM {r}",
        f"REVOKE USAGE ON SCHEMA public FROM {r}",
    ]
    op.execute(_when_role_exists(role, revokes))
    # the role goes only if this revision made it and no other database still grants it anything
    op.execute(
        "DO $dbadmin$\nBEGIN\n"
        f"  IF (SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = {lit})"
        f" = {_literal(CREATED_COMMENT)} THEN\n"
        "    BEGIN\n"
        f"      DROP ROLE {r};\n"
        "    EXCEPTION WHEN dependent_objects_still_exist OR insufficient_privilege THEN\n"
        f"      RAISE NOTICE 'application role % kept: %', {lit}, SQLERRM;\n"
        "    END;\n"
        "  END IF;\n"
        "END\n$dbadmin$"
    )
