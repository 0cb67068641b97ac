"""``slow-queries enable``: create pg_stat_statements and set log_min_duration_statement where
the role is permitted, and say exactly what it could not do and why (the library needs
shared_preload_libraries and a restart, which dbadmin never does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dbadmin.errors import UsageError
from dbadmin.slowlog.pgss import probe
from dbadmin.urls import error_line

if TYPE_CHECKING:
    import psycopg2.extensions

    from dbadmin.settings import Settings

_THRESHOLD = re.compile(r"^\s*(\d+)\s*(ms|s|min)?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class EnableStep:
    name: str
    status: str  # "done", "already", "failed", "manual"
    detail: str


@dataclass(frozen=True)
class EnableReport:
    database: str
    steps: tuple[EnableStep, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return all(s.status in ("done", "already") for s in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "ok": self.ok,
            "steps": [{"name": s.name, "status": s.status, "detail": s.detail} for s in self.steps],
        }


def parse_threshold(text: str) -> str:
    """'250ms', '1s', '500' (ms) -> a value for log_min_duration_statement."""
    m = _THRESHOLD.match(text)
    if not m:
        raise UsageError(f"--threshold {text!r} is not a duration", "use e.g. 250ms, 1s, 500")
    return f"{int(m.group(1))}{(m.group(2) or 'ms').lower()}"


def enable(settings: Settings, *, threshold: str = "250ms") -> EnableReport:
    """Create the extension and set log_min_duration_statement where permitted; report the rest."""
    import psycopg2
    from psycopg2 import sql as pgsql

    from dbadmin.db import raw_connection

    value = parse_threshold(threshold)
    steps: list[EnableStep] = []
    with raw_connection(settings, autocommit=True) as conn:
        p = probe(conn)
        neon = settings.url.is_neon
        # 1. the library
        if p.preloaded is True:
            steps.append(
                EnableStep(
                    "shared_preload_libraries",
                    "already",
                    f"pg_stat_statements is loaded ({p.preload})",
                )
            )
        elif p.preloaded is False:
            steps.append(
                EnableStep(
                    "shared_preload_libraries",
                    "manual",
                    "pg_stat_statements is not in shared_preload_libraries "
                    f"({p.preload or 'empty'}); that needs a server restart, which dbadmin does "
                    "not do: ALTER SYSTEM SET shared_preload_libraries = "
                    f"'{_with_pgss(p.preload)}' (or edit postgresql.conf), then restart. "
                    "Managed services set it in their console/parameter group; Neon preloads it",
                )
            )
        else:
            steps.append(
                EnableStep(
                    "shared_preload_libraries",
                    "already" if neon else "manual",
                    "not visible to role "
                    f"{p.username}; "
                    + (
                        "Neon preloads pg_stat_statements"
                        if neon
                        else "ask the administrator to make sure pg_stat_statements is in it"
                    ),
                )
            )
        # 2. the extension
        if p.ext_version is not None:
            steps.append(
                EnableStep(
                    "CREATE EXTENSION pg_stat_statements",
                    "already",
                    f"version {p.ext_version} in schema {p.ext_schema}",
                )
            )
        elif p.ext_available is None:
            steps.append(
                EnableStep(
                    "CREATE EXTENSION pg_stat_statements",
                    "failed",
                    "the extension is not available on this server: install PostgreSQL's "
                    "contrib package",
                )
            )
        else:
            try:
                with conn.cursor() as cur:
                    cur.execute("CREATE /* dbadmin */ EXTENSION IF NOT EXISTS pg_stat_statements")
                steps.append(
                    EnableStep(
                        "CREATE EXTENSION pg_stat_statements", "done", f"in database {p.database}"
                    )
                )
            except psycopg2.Error as exc:
                steps.append(
                    EnableStep(
                        "CREATE EXTENSION pg_stat_statements",
                        "failed",
                        f"{error_line(exc, settings.url.password)}: needs a superuser (Neon: the project owner role, "
                        "a member of neon_superuser)",
                    )
                )
        # 3. the log threshold for this database
        name = f"log_min_duration_statement for database {p.database}"
        current = _database_setting(conn, "log_min_duration_statement")
        if current is not None and _same_ms(current, value):
            steps.append(EnableStep(name, "already", f"{current} (ALTER DATABASE ... SET)"))
        else:
            try:
                with conn.cursor() as cur:
                    cur.execute(
                        pgsql.SQL(
                            "ALTER DATABASE /* dbadmin */ {} SET log_min_duration_statement = {}"
                        ).format(pgsql.Identifier(p.database), pgsql.Literal(value))
                    )
                steps.append(
                    EnableStep(
                        name,
                        "done",
                        f"{value}, for new sessions (existing connections keep their setting)",
                    )
                )
            except psycopg2.Error as exc:
                steps.append(
                    EnableStep(
                        name,
                        "failed",
                        f"{error_line(exc, settings.url.password)}: log_min_duration_statement can only be set by a "
                        "superuser (PostgreSQL 15+: or a role granted SET on it); on Neon server "
                        "logs are not accessible anyway, use pg_stat_statements",
                    )
                )
    return EnableReport(database=p.database, steps=tuple(steps))


def _with_pgss(preload: str | None) -> str:
    items = [x.strip() for x in (preload or "").split(",") if x.strip()]
    return ",".join([*items, "pg_stat_statements"])


def _database_setting(conn: psycopg2.extensions.connection, name: str) -> str | None:
    """The value set with ALTER DATABASE ... SET for the current database (any role)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT /* dbadmin */ unnest(setconfig) FROM pg_db_role_setting "
            "WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND setrole = 0"
        )
        for (item,) in cur.fetchall():
            key, _, val = str(item).partition("=")
            if key == name:
                return val
    return None


def _same_ms(current: str, wanted: str) -> bool:
    def ms(text: str) -> float | None:
        m = re.match(r"^\s*(-?\d+)\s*(ms|s|min)?\s*$", text)
        if not m:
            return None
        return int(m.group(1)) * {"ms": 1, "s": 1000, "min": 60000}[(m.group(2) or "ms")]

    return ms(current) is not None and ms(current) == ms(wanted)
