"""`dbadmin doctor`: is this machine and this database ready for dbadmin?"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from dbadmin.errors import DbadminError

if TYPE_CHECKING:
    import psycopg2.extensions
    from sqlalchemy.engine import Connection

    from dbadmin.settings import Settings

Status = Literal["ok", "warn", "fail", "info"]


@dataclass(frozen=True)
class DoctorCheck:
    name: str
    status: Status
    value: str
    advice: str = ""


@dataclass(frozen=True)
class DoctorReport:
    checks: tuple[DoctorCheck, ...]
    connect_error: DbadminError | None = None  # the CLI reports it and exits with its code

    @property
    def failed(self) -> bool:
        return any(c.status == "fail" for c in self.checks)

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": not self.failed,
            "checks": [
                {"name": c.name, "status": c.status, "value": c.value, "advice": c.advice}
                for c in self.checks
            ],
        }


def run_doctor(settings: Settings) -> DoctorReport:
    from sqlalchemy import text

    from dbadmin.db import make_engine

    checks: list[DoctorCheck] = [
        DoctorCheck("url", "info", f"{settings.url.masked()} (from {settings.url_source})"),
    ]
    url = settings.url
    if url.is_pooler:
        checks.append(
            DoctorCheck(
                "endpoint",
                "info",
                "Neon pooled (PgBouncer, transaction mode)",
                f"session work (migrations, backups) uses the direct host {settings.direct_url.host}",
            )
        )
    else:
        kind = "Neon direct" if url.is_neon else ("local" if url.is_local else "remote")
        checks.append(DoctorCheck("endpoint", "info", f"{kind} endpoint"))

    engine = make_engine(settings)
    started = time.perf_counter()
    try:
        conn_cm = engine.connect()
        conn = conn_cm.__enter__()
    except DbadminError as exc:
        checks.append(DoctorCheck("server", "fail", exc.what, exc.hint or ""))
        engine.dispose()
        return DoctorReport(tuple(checks), connect_error=exc)
    latency_ms = (time.perf_counter() - started) * 1000
    try:
        version = conn.execute(text("SHOW server_version")).scalar_one()
        major = int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000
        checks.append(DoctorCheck("server", "ok", f"PostgreSQL {version}"))
        checks.append(
            DoctorCheck(
                "connect_latency",
                "ok" if latency_ms < 1000 else "warn",
                f"{latency_ms:.0f} ms",
                ""
                if latency_ms < 1000
                else "slow connect: a Neon compute waking up, or a far region",
            )
        )
        checks.append(_tls_check(conn, settings))
        checks.extend(_binary_checks(major, settings.direct_url.needs_tls))
        checks.append(_stat_statements_check(conn))
        checks.append(_revision_check(conn, settings))
    finally:
        conn_cm.__exit__(None, None, None)
        engine.dispose()
    return DoctorReport(tuple(checks))


def _psycopg2(conn: Connection) -> psycopg2.extensions.connection:
    """The psycopg2 connection under SQLAlchemy's (typed there as any DB-API connection)."""
    import psycopg2.extensions

    raw = conn.connection.dbapi_connection
    assert isinstance(raw, psycopg2.extensions.connection)  # dbadmin's engines use psycopg2
    return raw


def _tls_check(conn: Connection, settings: Settings) -> DoctorCheck:
    from sqlalchemy import text

    row = conn.execute(
        text("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    ).first()
    if row is not None and row[0]:
        return DoctorCheck("tls", "ok", f"in use ({row[1]})")
    if settings.url.needs_tls or settings.url.is_neon:
        return DoctorCheck("tls", "fail", "not in use", "the URL asks for TLS; check sslmode")
    if settings.url.is_local:
        return DoctorCheck("tls", "info", "not in use (local connection)")
    return DoctorCheck("tls", "warn", "not in use", "add sslmode=require to the URL")


def _binary_checks(server_major: int, needs_tls: bool) -> list[DoctorCheck]:
    from dbadmin.backup.binaries import choose, find_candidates

    checks = []
    for tool in ("pg_dump", "pg_restore"):
        found = find_candidates(tool)
        listing = "; ".join(b.describe() for b in found) or "none found"
        choice = choose(server_major, needs_tls, tool)
        if choice.binary is None:
            checks.append(DoctorCheck(tool, "fail", listing, choice.reason))
        elif choice.needs_relay:
            checks.append(
                DoctorCheck(
                    tool,
                    "warn",
                    f"would use {choice.binary.describe()} through dbadmin's TLS relay",
                    f"install a TLS-capable {tool} {server_major}+ (candidates: {listing})",
                )
            )
        else:
            checks.append(DoctorCheck(tool, "ok", f"would use {choice.binary.describe()}"))
    return checks


def _stat_statements_check(conn: Connection) -> DoctorCheck:
    from dbadmin.slowlog.pgss import probe

    p = probe(_psycopg2(conn))
    conn.rollback()
    preload = p.preload or ""
    loaded = p.preloaded or "neon" in preload  # Neon's own library loads it
    if p.ext_version and loaded:
        return DoctorCheck("pg_stat_statements", "ok", f"installed ({p.ext_version})")
    if p.ext_available is None:
        return DoctorCheck(
            "pg_stat_statements",
            "warn",
            "not available on this server",
            "slow-queries top needs it",
        )
    if not p.ext_version:
        return DoctorCheck(
            "pg_stat_statements",
            "warn",
            "available, not installed",
            "run: dbadmin slow-queries enable",
        )
    if p.preload is None:
        return DoctorCheck(
            "pg_stat_statements",
            "warn",
            f"installed ({p.ext_version}); role {p.username} cannot see shared_preload_libraries",
            f"GRANT pg_read_all_settings TO {p.username} to check that the library is loaded",
        )
    return DoctorCheck(
        "pg_stat_statements",
        "warn",
        "installed but not in shared_preload_libraries",
        "add it to shared_preload_libraries and restart the server",
    )


def _revision_check(conn: Connection, settings: Settings) -> DoctorCheck:
    import psycopg2

    from dbadmin.migrate.heads import script_heads
    from dbadmin.migrate.runner import database_heads

    try:
        heads = script_heads(settings)
    except DbadminError as exc:
        return DoctorCheck("migrations", "warn", exc.what, exc.hint or "")
    try:
        with _psycopg2(conn).cursor() as cur:
            current = database_heads(cur)
    except psycopg2.errors.InsufficientPrivilege as exc:
        return DoctorCheck(
            "migrations",
            "warn",
            f"cannot read alembic_version: {' '.join(str(exc).split())}",
            "run doctor as the role that migrates, or GRANT SELECT ON alembic_version",
        )
    finally:
        conn.rollback()
    head_text = ", ".join(heads) or "(no revisions)"
    if not current:
        return DoctorCheck(
            "migrations",
            "warn",
            f"database not migrated; head is {head_text}",
            "run: dbadmin migrate up",
        )
    if sorted(current) == sorted(heads):
        return DoctorCheck("migrations", "ok", f"at head {head_text}")
    return DoctorCheck(
        "migrations",
        "warn",
        f"database at {', '.join(current)}; head is {head_text}",
        "run: dbadmin migrate up",
    )
