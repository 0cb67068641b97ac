"""Checksums of applied revision files, in the dbadmin-owned table ``dbadmin_migrations``.

A revision file edited after it was applied means production and a fresh database differ; `migrate
status` warns about it. The table is created on first use, next to ``alembic_version``.
"""

from __future__ import annotations

import getpass
import hashlib
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory
    from sqlalchemy.engine import Connection

TABLE = "dbadmin_migrations"
CREATE_SQL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    revision text PRIMARY KEY,
    sha256 char(64) NOT NULL,
    filename text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    applied_by text NOT NULL,
    duration_ms double precision
)
"""


@dataclass(frozen=True)
class ChecksumRow:
    revision: str
    sha256: str
    filename: str
    applied_at: datetime
    applied_by: str
    duration_ms: float | None


@dataclass(frozen=True)
class ChecksumFinding:
    revision: str
    kind: str  # "changed" | "unrecorded"
    detail: str


def file_sha256(path: str | Path) -> str:
    """sha256 of the file with line endings normalised (a CRLF checkout is not a change)."""
    data = Path(path).read_bytes().replace(b"\r\n", b"\n")
    return hashlib.sha256(data).hexdigest()


def applied_by() -> str:
    from dbadmin import __version__

    try:
        user = getpass.getuser()
    except Exception:
        user = "?"
    return f"{user}@{socket.gethostname()} (dbadmin {__version__})"


def ensure_table(conn: Connection) -> None:
    from sqlalchemy import text

    exists = conn.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": TABLE}).scalar_one()
    if not exists:
        conn.execute(text(CREATE_SQL))
    conn.commit()


def read(conn: Connection) -> dict[str, ChecksumRow]:
    from sqlalchemy import text

    if not conn.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": TABLE}).scalar_one():
        return {}
    rows = conn.execute(
        text(f"SELECT revision, sha256, filename, applied_at, applied_by, duration_ms FROM {TABLE}")
    )
    return {r[0]: ChecksumRow(*r) for r in rows}


def record(
    conn: Connection, script: Script, *, duration_ms: float | None, by: str | None = None
) -> None:
    from sqlalchemy import text

    conn.execute(
        text(
            f"INSERT INTO {TABLE} (revision, sha256, filename, applied_by, duration_ms) "
            "VALUES (:r, :s, :f, :b, :d) ON CONFLICT (revision) DO UPDATE SET "
            "sha256 = EXCLUDED.sha256, filename = EXCLUDED.filename, applied_at = now(), "
            "applied_by = EXCLUDED.applied_by, duration_ms = EXCLUDED.duration_ms"
        ),
        {
            "r": script.revision,
            "s": file_sha256(script.path),
            "f": Path(script.path).name,
            "b": by or applied_by(),
            "d": duration_ms,
        },
    )


def applied_revisions(scripts: ScriptDirectory, heads: tuple[str, ...]) -> dict[str, Script]:
    """Every revision that is applied when the database is at ``heads``."""
    if not heads:
        return {}
    return {s.revision: s for s in scripts.iterate_revisions(heads, "base")}


def sync(
    conn: Connection,
    scripts: ScriptDirectory,
    heads: tuple[str, ...],
    *,
    by: str | None = None,
) -> None:
    """Forget rows of revisions no longer applied; record applied revisions without a row."""
    from sqlalchemy import text

    applied = applied_revisions(scripts, heads)
    known = read(conn)
    for revision in set(known) - set(applied):
        conn.execute(text(f"DELETE FROM {TABLE} WHERE revision = :r"), {"r": revision})
    for revision, script in applied.items():
        if revision not in known:
            record(conn, script, duration_ms=None, by=by)
    conn.commit()


def compare(
    scripts: ScriptDirectory, heads: tuple[str, ...], rows: dict[str, ChecksumRow]
) -> list[ChecksumFinding]:
    findings = []
    for revision, script in applied_revisions(scripts, heads).items():
        row = rows.get(revision)
        if row is None:
            findings.append(
                ChecksumFinding(
                    revision, "unrecorded", "applied without dbadmin; no checksum recorded"
                )
            )
            continue
        now = file_sha256(script.path)
        if now != row.sha256.strip():
            findings.append(
                ChecksumFinding(
                    revision,
                    "changed",
                    f"{Path(script.path).name} changed since it was applied "
                    f"{row.applied_at:%Y-%m-%d %H:%M} by {row.applied_by} "
                    f"(sha256 {row.sha256[:12]} -> {now[:12]})",
                )
            )
    return findings
