"""Read-only views of migrations: status, history, drift (`check`), offline SQL, new revisions."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbadmin.errors import ConfigError, UsageError
from dbadmin.migrate.checksums import ChecksumFinding
from dbadmin.migrate.runner import (
    current_heads,
    load_scripts,
    pending_revisions,
    resolve_revision,
)

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory
    from sqlalchemy.engine import Connection

    from dbadmin.settings import Settings


@dataclass(frozen=True)
class RevisionInfo:
    revision: str
    down_revisions: tuple[str, ...]
    message: str
    filename: str
    is_head: bool
    is_merge: bool
    is_branch_point: bool


@dataclass(frozen=True)
class MigrationStatus:
    current: tuple[str, ...]
    heads: tuple[str, ...]
    pending: tuple[RevisionInfo, ...]
    unknown: tuple[str, ...]  # in the database but not among the revision files
    checksum_findings: tuple[ChecksumFinding, ...]

    @property
    def at_head(self) -> bool:
        return not self.pending and not self.unknown and set(self.current) == set(self.heads)


@dataclass(frozen=True)
class CheckResult:
    heads: tuple[str, ...]
    current: tuple[str, ...]
    pending: tuple[str, ...]
    drift: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return len(self.heads) == 1 and not self.drift


def info(script: Script) -> RevisionInfo:
    down = script.down_revision
    downs = tuple(down) if isinstance(down, (tuple, list)) else ((down,) if down else ())
    doc = (script.doc or "").strip()
    return RevisionInfo(
        revision=script.revision,
        down_revisions=downs,
        message=doc.splitlines()[0] if doc else "",
        filename=Path(script.path).name,
        is_head=script.is_head,
        is_merge=script.is_merge_point,
        is_branch_point=script.is_branch_point,
    )


def history(settings: Settings, config_path: str | None = None) -> tuple[RevisionInfo, ...]:
    """Every revision, newest first. Reads files only."""
    _, scripts = load_scripts(settings, config_path)
    return tuple(info(s) for s in scripts.walk_revisions())


def _split_known(
    scripts: ScriptDirectory, current: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    known, unknown = [], []
    for rev in current:
        try:
            scripts.get_revision(rev)
            known.append(rev)
        except Exception:
            unknown.append(rev)
    return tuple(known), tuple(unknown)


def status(settings: Settings, config_path: str | None = None) -> MigrationStatus:
    from dbadmin.db import connect
    from dbadmin.migrate import checksums

    _, scripts = load_scripts(settings, config_path)
    heads = tuple(sorted(scripts.get_heads()))
    with connect(settings, direct=True) as conn:
        current = current_heads(conn)
        rows = checksums.read(conn)
        conn.commit()
    known, unknown = _split_known(scripts, current)
    pending = () if unknown else tuple(info(s) for s in pending_revisions(scripts, "heads", known))
    findings = () if unknown else tuple(checksums.compare(scripts, known, rows))
    return MigrationStatus(current, heads, pending, unknown, findings)


def _migration_context(conn: Connection, metadata: Any) -> Any:
    from alembic.runtime.migration import MigrationContext

    from dbadmin.migrate.models import include_object

    return MigrationContext.configure(
        conn,
        opts={
            "target_metadata": metadata,
            "compare_type": True,
            "compare_server_default": True,
            "include_object": include_object,
        },
    )


def drift(conn: Connection, metadata: Any) -> tuple[str, ...]:
    """Differences between the models and the database, one readable line each."""
    from alembic.autogenerate import compare_metadata

    diffs = compare_metadata(_migration_context(conn, metadata), metadata)
    lines: list[str] = []
    for diff in diffs:
        if isinstance(diff, list):  # modify_* come grouped per column
            lines.extend(describe_diff(d) for d in diff)
        else:
            lines.append(describe_diff(diff))
    return tuple(lines)


def describe_diff(diff: tuple[Any, ...]) -> str:
    kind = diff[0]
    models, db = "in the models but not in the database", "in the database but not in the models"
    if kind in {"add_table", "remove_table"}:
        return f"table {diff[1].name} is {models if kind == 'add_table' else db}"
    if kind in {"add_column", "remove_column"}:
        column = diff[3]
        where = models if kind == "add_column" else db
        return f"column {diff[2]}.{column.name} ({column.type}) is {where}"
    if kind in {"add_index", "remove_index"}:
        index = diff[1]
        cols = ", ".join(str(getattr(c, "name", c)) for c in index.expressions)
        where = models if kind == "add_index" else db
        return f"index {index.name} on {index.table.name} ({cols}) is {where}"
    if kind in {"add_constraint", "remove_constraint", "add_fk", "remove_fk"}:
        constraint = diff[1]
        where = models if kind.startswith("add") else db
        label = "foreign key" if kind.endswith("fk") else "constraint"
        return f"{label} {constraint.name} on {constraint.table.name} is {where}"
    if kind.startswith("modify_"):
        _, _schema, table, column, _existing, old, new = diff
        what = kind.removeprefix("modify_").replace("_", " ")
        return (
            f"column {table}.{column}: {what} differs (database {_text(old)}, models {_text(new)})"
        )
    return " ".join(str(part) for part in diff)


def _text(value: Any) -> str:
    arg = getattr(value, "arg", None)  # DefaultClause
    if arg is not None:
        return str(getattr(arg, "text", arg))
    return str(value)


def check(settings: Settings, config_path: str | None = None) -> CheckResult:
    """Exactly one head, and no drift between the models and the database."""
    from dbadmin.db import connect
    from dbadmin.migrate.models import load_metadata

    _, scripts = load_scripts(settings, config_path)
    metadata = load_metadata(settings)
    heads = tuple(sorted(scripts.get_heads()))
    with connect(settings, direct=True) as conn:
        current = current_heads(conn)
        found = drift(conn, metadata)
        conn.rollback()
    known, unknown = _split_known(scripts, current)
    pending = unknown or tuple(s.revision for s in pending_revisions(scripts, "heads", known))
    return CheckResult(heads, current, tuple(pending), found)


def offline_sql(
    settings: Settings, revisions: str = "base:heads", *, config_path: str | None = None
) -> str:
    """The SQL a range would run (``FROM:TO``; downgrades when FROM is above TO), no database."""
    from alembic import command
    from alembic.util import CommandError

    config, scripts = load_scripts(settings, config_path)
    start, sep, end = revisions.partition(":")
    if not sep:
        start, end = "base", revisions
    for rev in (start, end):
        resolve_revision(scripts, rev)
    buffer = io.StringIO()
    config.output_buffer = buffer
    config.attributes["dbadmin_settings"] = settings
    try:
        if _is_downgrade(scripts, start, end):
            command.downgrade(config, f"{start}:{end}", sql=True)
        elif start == "base":
            command.upgrade(config, end, sql=True)
        else:
            command.upgrade(config, f"{start}:{end}", sql=True)
    except CommandError as exc:
        raise UsageError(f"cannot render SQL for {revisions!r}: {exc}") from None
    return buffer.getvalue()


def _is_downgrade(scripts: ScriptDirectory, start: str, end: str) -> bool:
    if start in {"base"} or end in {"head", "heads"}:
        return False
    if end == "base":
        return True
    try:
        ancestors = {s.revision for s in scripts.iterate_revisions(start, "base")}
        return end in ancestors and end != start
    except Exception:
        return False


@dataclass(frozen=True)
class NewRevision:
    revision: str
    path: str


def new_revision(
    settings: Settings,
    message: str,
    *,
    autogenerate: bool = False,
    config_path: str | None = None,
) -> NewRevision:
    """Write a new revision file (``--autogenerate`` compares the models with the database)."""
    from alembic import command
    from alembic.util import CommandError

    from dbadmin.migrate.locate import PACKAGE_DIR

    config, scripts = load_scripts(settings, config_path)
    if Path(scripts.dir).resolve() == (PACKAGE_DIR / "_migrations").resolve():
        raise ConfigError(
            "refusing to write a revision into dbadmin's installed package",
            "use your own migrations: `alembic init migrations`, then pass --config alembic.ini",
        )
    config.attributes["dbadmin_settings"] = settings
    try:
        if autogenerate:
            from dbadmin.db import connect

            with connect(settings, direct=True) as conn:
                config.attributes["connection"] = conn
                written = command.revision(config, message=message, autogenerate=True)
                conn.commit()
        else:
            written = command.revision(config, message=message)
    except CommandError as exc:
        raise UsageError(f"alembic: {exc}", "see `dbadmin migrate status`") from None
    script = written[0] if isinstance(written, list) else written
    assert script is not None
    return NewRevision(script.revision, str(script.path))
