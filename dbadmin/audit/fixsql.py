"""Building blocks of fix SQL: quoted identifiers and literals, the per-user policy template and
the least-privilege role pair. Every identifier is quoted, whatever it looks like."""

from __future__ import annotations

from collections.abc import Sequence

APP_SETTING = "app.user_id"  # the session setting the policies read
RELKIND_WORD = {
    "r": "TABLE",
    "p": "TABLE",
    "v": "VIEW",
    "m": "MATERIALIZED VIEW",
    "S": "SEQUENCE",
    "f": "FOREIGN TABLE",
}
MAX_IDENT = 63


def ident(name: str) -> str:
    """A double-quoted identifier (embedded quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str | None, name: str) -> str:
    return f"{ident(schema)}.{ident(name)}" if schema else ident(name)


def literal(value: str) -> str:
    """A standard-conforming string literal."""
    return "'" + value.replace("'", "''") + "'"


def setting_value(column_type: str) -> str:
    """``app.user_id`` as the column's type, evaluated once per statement (an initPlan): NULL when
    the setting is missing or empty, so an unset session sees no rows instead of an error."""
    return f"(SELECT NULLIF(current_setting({literal(APP_SETTING)}, true), '')::{column_type})"


def policy_name(table: str) -> str:
    return f"{table}_user_isolation"[:MAX_IDENT]


def user_policy(schema: str, table: str, column: str, column_type: str, role: str | None) -> str:
    """The per-user policy: the application role (PUBLIC when None) sees and writes only rows
    whose ``column`` is the session's ``app.user_id``."""
    match = f"{ident(column)} = {setting_value(column_type)}"
    return (
        f"CREATE POLICY {ident(policy_name(table))} ON {qualified(schema, table)} AS PERMISSIVE "
        f"FOR ALL TO {ident(role) if role else 'PUBLIC'} USING ({match}) WITH CHECK ({match})"
    )


def role_pair(app_role: str, owner: str, database: str, schemas: Sequence[str]) -> list[str]:
    """The least-privilege pair: ``owner`` migrates (owns everything), ``app_role`` logs in and
    reads and writes rows, now and in tables the owner creates later."""
    out = [
        f"CREATE ROLE {ident(app_role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS",
        f"GRANT CONNECT ON DATABASE {ident(database)} TO {ident(app_role)}",
    ]
    for schema in schemas:
        s, r = ident(schema), ident(app_role)
        out += [
            f"GRANT USAGE ON SCHEMA {s} TO {r}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {r}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {ident(owner)} IN SCHEMA {s} "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {r}",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {ident(owner)} IN SCHEMA {s} "
            f"GRANT USAGE, SELECT ON SEQUENCES TO {r}",
        ]
    return out


def routine(kind: str, schema: str, name: str, args: str) -> str:
    """``FUNCTION s.f(args)`` or ``PROCEDURE s.p(args)`` for ALTER/REVOKE."""
    word = "PROCEDURE" if kind == "p" else "FUNCTION"
    return f"{word} {qualified(schema, name)}({args})"
