"""`dbadmin doctor`: is this machine and this database ready for dbadmin?"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from dbadmin.errors import DbadminError

if TYPE_CHECKING:
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


def _tls_check(conn: Connection, settings: Settings) -> DoctorCheck:
    from sqlalchemy import text

    row = conn.execute(
        text("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    ).first()
    in_use = bool(row and row[0])
    if in_use:
        return DoctorCheck("tls", "ok", f"in use ({row[1]})")  # type: ignore[index]
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
    from sqlalchemy import text

    available = conn.execute(
        text("SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_stat_statements'")
    ).scalar_one()
    installed = conn.execute(
        text("SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'")
    ).scalar()
    preload = conn.execute(text("SHOW shared_preload_libraries")).scalar_one()
    loaded = "pg_stat_statements" in preload or "neon" in preload
    if installed and loaded:
        return DoctorCheck("pg_stat_statements", "ok", f"installed ({installed})")
    if not available:
        return DoctorCheck(
            "pg_stat_statements",
            "warn",
            "not available on this server",
            "slow-queries top needs it",
        )
    if not installed:
        return DoctorCheck(
            "pg_stat_statements",
            "warn",
            "available, not installed",
            "run: dbadmin slow-queries enable",
        )
    return DoctorCheck(
        "pg_stat_statements",
        "warn",
        "installed but not in shared_preload_libraries",
        "add it to shared_preload_libraries and restart the server",
    )


def _revision_check(conn: Connection, settings: Settings) -> DoctorCheck:
    from sqlalchemy import text

    try:
        from dbadmin.migrate.heads import script_heads

        heads = script_heads(settings)
    except DbadminError as exc:
        return DoctorCheck("migrations", "warn", exc.what, exc.hint or "")
    has_table = conn.execute(text("SELECT to_regclass('alembic_version') IS NOT NULL")).scalar_one()
    current = (
        sorted(r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version")))
        if has_table
        else []
    )
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
