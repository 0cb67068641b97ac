"""Migrations from Python: ``migrate_up`` ... ``migrate_lint`` (Alembic's ``command.py``, made safe:
advisory lock, timeouts and retries per revision, checksums, squawk lint)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dbadmin.api.target import Confirm, Notice, ask, say, settings_for

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from dbadmin.migrate.inspect import CheckResult, MigrationStatus, NewRevision, RevisionInfo
    from dbadmin.migrate.lint import LintResult
    from dbadmin.migrate.lock import LockHolder
    from dbadmin.migrate.runner import MigrateOptions, MigrateResult
    from dbadmin.settings import Settings


@dataclass(frozen=True)
class MigrationRun:
    """What ``migrate_up``/``migrate_down``/``migrate_stamp`` did."""

    result: MigrateResult

    def as_dict(self) -> dict[str, Any]:
        r = self.result
        return {
            "direction": r.direction,
            "target": r.target,
            "before": list(r.before),
            "after": list(r.after),
            "revisions": [
                {
                    "revision": a.revision,
                    "message": a.message,
                    "duration_ms": round(a.duration_ms, 1),
                    "attempts": a.attempts,
                }
                for a in r.applied
            ],
            "lock_waited_s": round(r.lock_waited_s, 3),
            "endpoint": r.endpoint,
        }


@dataclass(frozen=True)
class MigrationStatusReport:
    """Current revision, heads, pending revisions and checksum findings."""

    status: MigrationStatus

    @property
    def changed_files(self) -> bool:
        """An applied revision's file changed since it was applied."""
        return any(f.kind == "changed" for f in self.status.checksum_findings)

    def as_dict(self) -> dict[str, Any]:
        s = self.status
        return {
            "current": list(s.current),
            "heads": list(s.heads),
            "at_head": s.at_head,
            "pending": [
                {"revision": p.revision, "message": p.message, "file": p.filename}
                for p in s.pending
            ],
            "unknown": list(s.unknown),
            "checksums": [
                {"revision": f.revision, "status": f.kind, "detail": f.detail}
                for f in s.checksum_findings
            ],
        }


@dataclass(frozen=True)
class MigrationHistory:
    revisions: tuple[RevisionInfo, ...]

    def as_dict(self) -> list[dict[str, Any]]:
        """The document is a list, newest revision first (as ``migrate history --json``)."""
        return [
            {
                "revision": r.revision,
                "down_revisions": list(r.down_revisions),
                "message": r.message,
                "file": r.filename,
                "head": r.is_head,
                "merge": r.is_merge,
            }
            for r in self.revisions
        ]


@dataclass(frozen=True)
class NewRevisionFile:
    written: NewRevision

    def as_dict(self) -> dict[str, Any]:
        return {"revision": self.written.revision, "path": self.written.path}


@dataclass(frozen=True)
class MigrationCheck:
    check: CheckResult

    @property
    def ok(self) -> bool:
        return self.check.ok

    def as_dict(self) -> dict[str, Any]:
        c = self.check
        return {
            "ok": c.ok,
            "heads": list(c.heads),
            "current": list(c.current),
            "pending": list(c.pending),
            "drift": list(c.drift),
        }


@dataclass(frozen=True)
class MigrationLint:
    lint: LintResult

    @property
    def ok(self) -> bool:
        return not self.lint.errors

    def as_dict(self) -> dict[str, Any]:
        r = self.lint
        return {
            "squawk": r.squawk,
            "revisions": list(r.revisions),
            "errors": len(r.errors),
            "warnings": len(r.findings) - len(r.errors),
            "findings": [
                {
                    "revision": f.revision,
                    "file": f.filename,
                    "line": f.line,
                    "level": f.level,
                    "rule": f.rule,
                    "message": f.message,
                    "help": f.help,
                    "statement": f.statement,
                }
                for f in r.findings
            ],
        }


def migrate_options(
    config: str | None = None,
    lock_wait: float = 60.0,
    lock_timeout: float = 5.0,
    statement_timeout: float = 0.0,
    attempts: int = 3,
    notice: Notice | None = None,
) -> MigrateOptions:
    """The runner's options; waiting for another migrator's lock is told through ``notice``."""
    from dbadmin.migrate.runner import MigrateOptions

    def on_wait(holder: LockHolder | None) -> None:
        who = holder.describe() if holder else "another session"
        say(notice, f"waiting up to {lock_wait:g} s for the migration lock held by {who}")

    return MigrateOptions(
        config_path=config,
        lock_wait=lock_wait,
        lock_timeout=lock_timeout,
        statement_timeout=statement_timeout,
        attempts=attempts,
        on_lock_wait=on_wait if notice is not None else None,
    )


def migrate_up(
    target: Settings | str | None = None,
    revision: str = "head",
    *,
    config: str | None = None,
    lock_wait: float = 60.0,
    lock_timeout: float = 5.0,
    statement_timeout: float = 0.0,
    attempts: int = 3,
    backup: bool = False,
    notice: Notice | None = None,
    on_backup_progress: Callable[[int, float], None] | None = None,
) -> MigrationRun:
    """Apply pending revisions up to ``revision``, each in its own transaction, one migrator at a
    time. ``backup=True`` takes a default backup first (a failure stops before any change).
    Raises ``OperationTimeout`` (lock), ``MigrationFailed``, ``UsageError`` (unknown revision)."""
    from dbadmin.migrate.runner import upgrade

    settings = settings_for(target)
    if backup:
        from dbadmin.api.backups import backup_taken_before_migration

        backup_taken_before_migration(settings, notice, on_backup_progress)
    options = migrate_options(config, lock_wait, lock_timeout, statement_timeout, attempts, notice)
    return MigrationRun(upgrade(settings, revision, options=options))


def migrate_down(
    target: Settings | str | None,
    revision: str,
    *,
    config: str | None = None,
    lock_wait: float = 60.0,
    lock_timeout: float = 5.0,
    statement_timeout: float = 0.0,
    attempts: int = 3,
    confirm: Confirm | None = None,
    notice: Notice | None = None,
) -> MigrationRun:
    """Revert to ``revision`` (an id, ``base``, or ``-N`` steps). The revision is resolved before
    ``confirm`` is asked, so a typo is a ``UsageError`` with nothing asked or changed."""
    from dbadmin.migrate.runner import downgrade, load_scripts, resolve_revision

    settings = settings_for(target)
    loaded = load_scripts(settings, config)
    resolve_revision(loaded[1], revision)
    ask(
        confirm,
        f"revert database {settings.direct_url.database or '?'} to {revision} "
        "(downgrades usually drop data)",
    )
    options = migrate_options(config, lock_wait, lock_timeout, statement_timeout, attempts, notice)
    return MigrationRun(downgrade(settings, revision, options=options, loaded=loaded))


def migrate_stamp(
    target: Settings | str | None,
    revision: str,
    *,
    config: str | None = None,
    lock_wait: float = 60.0,
    notice: Notice | None = None,
) -> MigrationRun:
    """Record ``revision`` as current without running anything (adopt an existing database)."""
    from dbadmin.migrate.runner import stamp

    settings = settings_for(target)
    return MigrationRun(
        stamp(settings, revision, options=migrate_options(config, lock_wait, notice=notice))
    )


def migrate_status(
    target: Settings | str | None = None, *, config: str | None = None
) -> MigrationStatusReport:
    """Current revision, heads, pending revisions, and applied files changed since."""
    from dbadmin.migrate.inspect import status

    return MigrationStatusReport(status(settings_for(target), config))


def migrate_history(
    target: Settings | str | None = None, *, config: str | None = None
) -> MigrationHistory:
    """All revisions, newest first (reads the revision files; no server needed)."""
    from dbadmin.migrate.inspect import history

    return MigrationHistory(tuple(history(settings_for(target, need_server=False), config)))


def migrate_new(
    target: Settings | str | None,
    message: str,
    *,
    autogenerate: bool = False,
    config: str | None = None,
) -> NewRevisionFile:
    """Write a new revision file (``autogenerate`` compares the models with the database)."""
    from dbadmin.migrate.inspect import new_revision

    settings = settings_for(target, need_server=autogenerate)
    return NewRevisionFile(
        new_revision(settings, message, autogenerate=autogenerate, config_path=config)
    )


def migrate_check(
    target: Settings | str | None = None, *, config: str | None = None
) -> MigrationCheck:
    """Exactly one head and no drift between models and database (``.ok``)."""
    from dbadmin.migrate.inspect import check

    return MigrationCheck(check(settings_for(target), config))


def migrate_sql(
    target: Settings | str | None = None,
    revisions: str = "base:heads",
    *,
    config: str | None = None,
) -> str:
    """The SQL a range of revisions would run (offline mode; no server needed)."""
    from dbadmin.migrate.inspect import offline_sql

    return offline_sql(settings_for(target, need_server=False), revisions, config_path=config)


def migrate_lint(
    target: Settings | str | None = None,
    revisions: str | None = None,
    *,
    config: str | None = None,
    exclude: Sequence[str] = (),
    errors: Sequence[str] = (),
    warnings: Sequence[str] = (),
    squawk_config: str | None = None,
) -> MigrationLint:
    """squawk on the SQL of pending (default) or the given revisions; ``.ok`` without errors.
    Raises ``ExternalToolError`` when squawk itself fails."""
    from dbadmin.migrate.lint import lint

    settings = settings_for(target, need_server=revisions is None)
    return MigrationLint(
        lint(
            settings,
            revisions,
            config_path=config,
            exclude=exclude,
            errors=errors,
            warnings=warnings,
            squawk_config=squawk_config,
        )
    )
