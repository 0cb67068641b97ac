"""`dbadmin migrate`: Alembic made safe for deploys and cron (lock, timeouts, checksums, lint)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from dbadmin.cli.common import (
    DatabaseUrlOpt,
    JsonOpt,
    YesOpt,
    confirm,
    get_settings,
    handle_errors,
    notice,
    out_console,
    print_json,
)

if TYPE_CHECKING:
    from dbadmin.migrate.runner import MigrateOptions, MigrateResult

app = typer.Typer(
    help="Safe Alembic migrations: one migrator at a time (advisory lock), lock/statement "
    "timeouts per revision with retries, checksums of applied revisions, squawk lint.\n\n"
    "Example: dbadmin migrate up",
    no_args_is_help=True,
)

ConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--config",
        "-c",
        help="Your alembic.ini (default: $DBADMIN_ALEMBIC_CONFIG, ./alembic.ini, else dbadmin's "
        "reference migrations).",
        show_default=False,
    ),
]
LockWaitOpt = Annotated[
    float,
    typer.Option("--lock-wait", help="Seconds to wait for another migrator's lock.", min=0),
]
LockTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--lock-timeout",
        help="SET LOCAL lock_timeout per revision, in seconds (a DDL statement waiting longer "
        "for a table lock fails and is retried).",
        min=0.001,
    ),
]
StatementTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--statement-timeout",
        help="SET LOCAL statement_timeout per revision, in seconds; 0 = no limit.",
        min=0,
    ),
]
AttemptsOpt = Annotated[
    int,
    typer.Option("--attempts", help="Attempts per revision failing on lock_timeout.", min=1),
]


def _options(
    config: str | None,
    lock_wait: float = 60.0,
    lock_timeout: float = 5.0,
    statement_timeout: float = 0.0,
    attempts: int = 3,
) -> MigrateOptions:
    from dbadmin.migrate.lock import LockHolder
    from dbadmin.migrate.runner import MigrateOptions

    def on_wait(holder: LockHolder | None) -> None:
        who = holder.describe() if holder else "another session"
        notice(f"waiting up to {lock_wait:g} s for the migration lock held by {who}")

    return MigrateOptions(
        config_path=config,
        lock_wait=lock_wait,
        lock_timeout=lock_timeout,
        statement_timeout=statement_timeout,
        attempts=attempts,
        on_lock_wait=on_wait,
    )


def _result_doc(result: MigrateResult) -> dict[str, Any]:
    return {
        "direction": result.direction,
        "target": result.target,
        "before": list(result.before),
        "after": list(result.after),
        "revisions": [
            {
                "revision": r.revision,
                "message": r.message,
                "duration_ms": round(r.duration_ms, 1),
                "attempts": r.attempts,
            }
            for r in result.applied
        ],
        "lock_waited_s": round(result.lock_waited_s, 3),
        "endpoint": result.endpoint,
    }


def _print_result(result: MigrateResult, json_output: bool) -> None:
    """Plain lines (no markup to render): written directly, so the common deploy path does not
    pay for importing Rich."""
    import sys

    if json_output:
        print_json(_result_doc(result))
        return
    before = ", ".join(result.before) or "base"
    after = ", ".join(result.after) or "base"
    if not result.changed:
        sys.stdout.write(f"nothing to do: the database is at {after}\n")
        return
    from dbadmin.render import human_ms

    verb = {"up": "upgraded", "down": "downgraded", "stamp": "stamped"}[result.direction]
    lines = []
    for r in result.applied:
        tries = f" after {r.attempts} attempts" if r.attempts > 1 else ""
        lines.append(f"  {r.revision}  {r.message}  ({human_ms(r.duration_ms)}{tries})")
    lines.append(f"{verb} {before} -> {after} on {result.endpoint}")
    sys.stdout.write("\n".join(lines) + "\n")


@app.command()
@handle_errors
def up(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    database_url: DatabaseUrlOpt = None,
    config: ConfigOpt = None,
    lock_wait: LockWaitOpt = 60.0,
    lock_timeout: LockTimeoutOpt = 5.0,
    statement_timeout: StatementTimeoutOpt = 0.0,
    attempts: AttemptsOpt = 3,
    backup: Annotated[
        bool, typer.Option("--backup", help="Take a `dbadmin backup` first (stops on failure).")
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Apply pending revisions (default: up to head), each in its own transaction.

    A second `migrate up` waits for the first (--lock-wait), then finds nothing to do.
    A revision failing on lock_timeout is retried, then exits 4 naming the blocking session;
    any other failure rolls that revision back and exits 1 with the failing statement.

    Example: dbadmin migrate up --lock-timeout 3 --attempts 5
    """
    from dbadmin.migrate.runner import upgrade

    settings = get_settings(ctx, database_url)
    if backup:
        from dbadmin.cli.backup import backup_before_migration

        backup_before_migration(settings, json_output=json_output)
    result = upgrade(
        settings,
        revision,
        options=_options(config, lock_wait, lock_timeout, statement_timeout, attempts),
    )
    _print_result(result, json_output)


@app.command(context_settings={"ignore_unknown_options": True})
@handle_errors
def down(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target: a revision, base, or -N (N steps).")],
    database_url: DatabaseUrlOpt = None,
    config: ConfigOpt = None,
    lock_wait: LockWaitOpt = 60.0,
    lock_timeout: LockTimeoutOpt = 5.0,
    statement_timeout: StatementTimeoutOpt = 0.0,
    attempts: AttemptsOpt = 3,
    yes: YesOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Revert revisions down to REV (`-1` = one step, `base` = everything). Asks first.

    Example: dbadmin migrate down -1 --yes
    """
    from dbadmin.migrate.runner import downgrade, load_scripts, resolve_revision

    settings = get_settings(ctx, database_url)
    loaded = load_scripts(settings, config)
    resolve_revision(loaded[1], revision)  # exit 2 before asking
    confirm(
        f"revert database {settings.direct_url.database or '?'} to {revision} "
        "(downgrades usually drop data)",
        yes=yes,
    )
    result = downgrade(
        settings,
        revision,
        options=_options(config, lock_wait, lock_timeout, statement_timeout, attempts),
        loaded=loaded,
    )
    _print_result(result, json_output)


@app.command()
@handle_errors
def stamp(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Revision to record (head, base, an id).")],
    database_url: DatabaseUrlOpt = None,
    config: ConfigOpt = None,
    lock_wait: LockWaitOpt = 60.0,
    json_output: JsonOpt = False,
) -> None:
    """Record REV as the current revision without running anything (adopt an existing database).

    Example: dbadmin migrate stamp head
    """
    from dbadmin.migrate.runner import stamp as stamp_revision

    settings = get_settings(ctx, database_url)
    result = stamp_revision(settings, revision, options=_options(config, lock_wait))
    _print_result(result, json_output)


@app.command()
@handle_errors
def status(
    ctx: typer.Context,
    database_url: DatabaseUrlOpt = None,
    config: ConfigOpt = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Exit 1 when not at head or an applied file changed."),
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Current revision, heads, pending revisions, and applied revision files changed since.

    Example: dbadmin migrate status --check
    """
    from dbadmin.migrate.inspect import status as migration_status

    result = migration_status(get_settings(ctx, database_url), config)
    changed = [f for f in result.checksum_findings if f.kind == "changed"]
    for finding in result.checksum_findings:
        label = "warning" if finding.kind == "changed" else "note"
        notice(f"{label}: revision {finding.revision}: {finding.detail}")
    for rev in result.unknown:
        notice(f"warning: the database is at {rev}, which no revision file defines")
    if json_output:
        print_json(
            {
                "current": list(result.current),
                "heads": list(result.heads),
                "at_head": result.at_head,
                "pending": [
                    {"revision": p.revision, "message": p.message, "file": p.filename}
                    for p in result.pending
                ],
                "unknown": list(result.unknown),
                "checksums": [
                    {"revision": f.revision, "status": f.kind, "detail": f.detail}
                    for f in result.checksum_findings
                ],
            }
        )
    else:
        console = out_console()
        console.print(f"current  {', '.join(result.current) or 'base'}", highlight=False)
        console.print(f"heads    {', '.join(result.heads) or '(none)'}", highlight=False)
        if result.pending:
            console.print(f"pending  {len(result.pending)}:", highlight=False)
            for p in result.pending:
                console.print(f"  {p.revision}  {p.message}", highlight=False)
        else:
            console.print("pending  none" if result.at_head else "pending  ?", highlight=False)
    if check and (not result.at_head or changed):
        raise typer.Exit(1)


@app.command()
@handle_errors
def history(ctx: typer.Context, config: ConfigOpt = None, json_output: JsonOpt = False) -> None:
    """All revisions, newest first (reads the revision files only).

    Example: dbadmin migrate history --json
    """
    from dbadmin.migrate.inspect import history as revision_history

    revisions = revision_history(get_settings(ctx, need_server=False), config)
    if json_output:
        print_json(
            [
                {
                    "revision": r.revision,
                    "down_revisions": list(r.down_revisions),
                    "message": r.message,
                    "file": r.filename,
                    "head": r.is_head,
                    "merge": r.is_merge,
                }
                for r in revisions
            ]
        )
        return
    from dbadmin.render import fit_table, key_col, text_col

    rows = [
        (
            r.revision + (" (head)" if r.is_head else ""),
            ", ".join(r.down_revisions) or "base",
            r.message,
            r.filename,
        )
        for r in revisions
    ]
    columns = (key_col("revision"), key_col("revises"), text_col("message"), text_col("file"))
    out_console().print(fit_table(None, columns, rows), crop=False)


@app.command()
@handle_errors
def new(
    ctx: typer.Context,
    message: Annotated[str, typer.Argument(help="What the revision does.")],
    autogenerate: Annotated[
        bool,
        typer.Option(
            "--autogenerate", help="Draft the operations by comparing models and database."
        ),
    ] = False,
    database_url: DatabaseUrlOpt = None,
    config: ConfigOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Write a new revision file (review it by hand, then `migrate lint`).

    Example: dbadmin migrate new "add tasks.tags" --autogenerate
    """
    from dbadmin.migrate.inspect import new_revision

    settings = get_settings(ctx, database_url, need_server=autogenerate)
    written = new_revision(settings, message, autogenerate=autogenerate, config_path=config)
    if json_output:
        print_json({"revision": written.revision, "path": written.path})
    else:
        out_console().print(f"wrote {written.path}", highlight=False, soft_wrap=True)


@app.command()
@handle_errors
def check(
    ctx: typer.Context,
    database_url: DatabaseUrlOpt = None,
    config: ConfigOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Exactly one head, and no drift between the models and the database (exit 1 otherwise).

    Example: dbadmin migrate check
    """
    from dbadmin.migrate.inspect import check as run_check

    result = run_check(get_settings(ctx, database_url), config)
    if json_output:
        print_json(
            {
                "ok": result.ok,
                "heads": list(result.heads),
                "current": list(result.current),
                "pending": list(result.pending),
                "drift": list(result.drift),
            }
        )
    else:
        console = out_console()
        if len(result.heads) != 1:
            console.print(
                f"FAIL: {len(result.heads)} heads ({', '.join(result.heads)}); "
                "merge them with `alembic merge heads`",
                highlight=False,
            )
        if result.pending:
            console.print(f"pending revisions: {', '.join(result.pending)}", highlight=False)
        if result.drift:
            console.print(
                f"FAIL: {len(result.drift)} differences between models and database:",
                highlight=False,
            )
            for line in result.drift:
                console.print(f"  - {line}", highlight=False)
        if result.ok:
            console.print(
                f"OK: one head ({result.heads[0]}), models and database agree", highlight=False
            )
    if not result.ok:
        raise typer.Exit(1)


@app.command()
@handle_errors
def sql(
    ctx: typer.Context,
    revisions: Annotated[
        str,
        typer.Argument(help="FROM:TO (a downgrade when FROM is above TO), or TO from base."),
    ] = "base:heads",
    config: ConfigOpt = None,
) -> None:
    """Print the SQL a range of revisions would run, without a database (offline mode).

    Example: dbadmin migrate sql base:head > schema.sql
    """
    import sys

    from dbadmin.migrate.inspect import offline_sql

    sys.stdout.write(
        offline_sql(get_settings(ctx, need_server=False), revisions, config_path=config)
    )


@app.command()
@handle_errors
def lint(
    ctx: typer.Context,
    revisions: Annotated[
        str | None,
        typer.Argument(help="FROM:TO or one revision (default: those pending on the database)."),
    ] = None,
    database_url: DatabaseUrlOpt = None,
    config: ConfigOpt = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", "-e", help="squawk rule to skip (repeatable).")
    ] = None,
    error: Annotated[
        list[str] | None, typer.Option("--error", help="Treat this rule as an error (repeatable).")
    ] = None,
    warning: Annotated[
        list[str] | None,
        typer.Option("--warning", help="Treat this rule as a warning only (repeatable)."),
    ] = None,
    squawk_config: Annotated[
        str | None, typer.Option("--squawk-config", help="A .squawk.toml to pass to squawk.")
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Run squawk on the SQL of pending (or the given) revisions; exit 1 on error-level findings.

    Errors by default: operations that lock or rewrite existing tables or break running code
    (CREATE INDEX without CONCURRENTLY, ADD COLUMN ... NOT NULL without default, type changes,
    constraints without NOT VALID, renames, drops). Exit 5 when squawk itself fails.

    Example: dbadmin migrate lint base:head --exclude prefer-text-field
    """
    from dbadmin.migrate.lint import lint as run_lint

    settings = get_settings(ctx, database_url, need_server=revisions is None)
    result = run_lint(
        settings,
        revisions,
        config_path=config,
        exclude=exclude or (),
        errors=error or (),
        warnings=warning or (),
        squawk_config=squawk_config,
    )
    if json_output:
        print_json(
            {
                "squawk": result.squawk,
                "revisions": list(result.revisions),
                "errors": len(result.errors),
                "warnings": len(result.findings) - len(result.errors),
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
                    for f in result.findings
                ],
            }
        )
    else:
        from dbadmin.render import fit_table, key_col, num_col, plural, styled_status, text_col

        console = out_console()
        if result.findings:
            ordered = sorted(
                result.findings, key=lambda f: (f.level != "error", f.revision, f.line)
            )
            rows = [
                (f.revision, f.line, styled_status(f.level), f.rule, f.statement) for f in ordered
            ]
            columns = (key_col("revision"), num_col("line"), key_col("level"), key_col("rule"),
                       text_col("statement", markup=False))  # fmt: skip
            console.print(fit_table(None, columns, rows), crop=False)
            explained: dict[str, str] = {}
            for f in ordered:
                explained.setdefault(f.rule, f"{f.message} {f.help}".strip())
            for rule, text in explained.items():
                console.print(f"{rule}: {text}", highlight=False, soft_wrap=True)
        if result.revisions:
            warnings = len(result.findings) - len(result.errors)
            summary = (
                f"{plural(len(result.errors), 'error')}, {plural(warnings, 'warning')} in "
                f"{', '.join(result.revisions)} ({result.squawk})"
            )
        else:
            summary = f"no pending revisions to lint ({result.squawk})"
        console.print(summary, highlight=False)
    if result.errors:
        raise typer.Exit(1)
