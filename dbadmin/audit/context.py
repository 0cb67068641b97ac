"""What every audit check gets: the session (named queries, bounded), the options, and the facts
about who is auditing, read once.

The application role is the role the application connects with (``DBADMIN_APP_ROLE``, default
``app_user``). Several checks judge differently when it exists: with a separate non-owner role,
row-level security that is enabled but not forced is right (the owner, who migrates and runs
pg_dump, bypasses it; the application does not).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dbadmin.audit.fixsql import ident, qualified
from dbadmin.health.session import CheckUnknown, Session

DEFAULT_APP_ROLE = "app_user"
APP_ROLE_ENV = "DBADMIN_APP_ROLE"
ALLOWED_ROLES_ENV = "DBADMIN_AUDIT_ALLOWED_ROLES"
SAMPLE_LIMIT = 100  # values read per column by --sample

__all__ = ["Audit", "AuditOptions", "AuditSession", "CheckUnknown", "Facts"]


class AuditSession(Session):
    """health's bounded session, reading dbadmin/sql/audit/ and naming the audit's missing rights."""

    sql_group = "audit"
    grant_hint = (
        "this check needs more rights than the role has (run it as the database owner, or "
        "grant pg_read_all_stats)"
    )

    def sample(self, schema: str, table: str, column: str, limit: int) -> list[str]:
        """At most ``limit`` non-null values of one column as text (sensitive_sample.sql)."""
        from dbadmin.sql import load

        template = load(self.sql_group, "sensitive_sample", self.major or 14)
        body = template.split("\n", 1)[1].format(
            column=ident(column), table=qualified(schema, table), limit=int(limit)
        )
        # literal percent signs in quoted names must survive psycopg2's parameter pass
        rows = self.run("sensitive_sample", body.replace("%", "%%"))
        return [str(r["value"]) for r in rows]


@dataclass(frozen=True)
class AuditOptions:
    checks: tuple[str, ...]
    timeout: float = 30.0
    app_role: str = DEFAULT_APP_ROLE
    allowed_roles: tuple[str, ...] = ()
    strict: bool = False
    sample: bool = False


@dataclass(frozen=True)
class Facts:
    """The auditing role and the application role, from facts.sql."""

    version: str
    major: int
    role: str
    database: str
    superuser: bool
    createrole: bool
    database_owner: str
    reads_all_stats: bool
    app_role: str
    app_exists: bool
    app_superuser: bool
    app_bypassrls: bool
    app_is_current: bool

    @classmethod
    def from_row(cls, row: dict[str, Any], app_role: str) -> Facts:
        return cls(
            version=str(row["version"]),
            major=int(row["version_num"]) // 10000,
            role=str(row["role"]),
            database=str(row["database"]),
            superuser=bool(row["superuser"]),
            createrole=bool(row["createrole"]),
            database_owner=str(row["database_owner"]),
            reads_all_stats=bool(row["reads_all_stats"]),
            app_role=app_role,
            app_exists=row["app_role"] is not None,
            app_superuser=bool(row["app_superuser"]),
            app_bypassrls=bool(row["app_bypassrls"]),
            app_is_current=bool(row["app_is_current"]),
        )


@dataclass
class Audit:
    """One run: the session, options, facts, the URL's TLS facts and a cache of shared rows."""

    session: AuditSession
    options: AuditOptions
    facts: Facts
    sslmode: str | None = None
    remote: bool = False
    neon: bool = False
    cache: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def rows(self, name: str, **params: Any) -> list[dict[str, Any]]:
        """Rows of query ``name``; the application role is always a parameter."""
        return self.session.rows(name, {"app_role": self.options.app_role, **params})

    def shared(self, name: str) -> list[dict[str, Any]]:
        """Rows of a query several checks read (rls_tables), fetched once per run."""
        if name not in self.cache:
            self.cache[name] = self.rows(name)
        return self.cache[name]
