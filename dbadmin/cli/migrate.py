"""`dbadmin migrate`: Alembic made safe for deploys and cron (lock, timeouts, checksums, lint)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dbadmin.cli.common import (
    confirm,
    get_settings,
    handle_errors,
    notice,
    out_console,
    print_json,
    progress_status,
)
from dbadmin.cli.options import ConfigOpt, DatabaseUrlOpt, Duration, JsonOpt, YesOpt

if TYPE_CHECKING:
    from dbadmin.api import MigrationRun

app = typer.Typer(
    help="Safe Alembic migrations: one migrator at a time (advisory lock), lock/statement "
    "timeouts per revision with retries, checksums of applied revisions, squawk lint.\n\n"
    "Example: dbadmin migrate up",
    no_args_is_help=True,
)

LockWaitOpt = Annotated[
    float,
    typer.Option(
        "--lock-wait",
        click_type=Duration(allow_zero=True),
        help="How long to wait for another migrator's lock (a bare number is seconds).",
    ),
]
LockTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--lock-timeout",
        click_type=Duration(),
        help="SET LOCAL lock_timeout per revision (a bare number is seconds; a DDL statement "
        "waiting longer for a table lock fails and is retried).",
    ),
]
StatementTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--statement-timeout",
        click_type=Duration(allow_zero=True),
        help="SET LOCAL statement_timeout per revision (a bare number is seconds); 0 = no limit.",
    ),
]
AttemptsOpt = Annotated[
    int,
    typer.Option("--attempts", help="Attempts per revision failing on lock_timeout.", min=1),
]


def _runner(
    config: str | None,
    lock_wait: float,
    lock_timeout: float,
    statement_timeout: float,
    attempts: int,
) -> dict[str, Any]:
    """The runner's options, as ``migrate_up``/``migrate_down`` take them."""
    return {
        "config": config,
        "lock_wait": lock_wait,
        "lock_timeout": lock_timeout,
        "statement_timeout": statement_timeout,
        "attempts": attempts,
    }


def _print_result(run: MigrationRun, json_output: bool) -> None:
    """Plain lines (no markup to render): written directly, so the common deploy path does not
    pay for importing Rich."""
    import sys

    if json_output:
        print_json(run.as_dict())
        return
    result = run.result
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
    from dbadmin import api

    show_progress = backup and not json_output  # drawn only when stderr is a terminal
    with progress_status(show_progress) as on_backup_progress:  # pg_dump's, on a terminal
        result = api.migrate_up(
            get_settings(ctx, database_url),
            revision,
            **_runner(config, lock_wait, lock_timeout, statement_timeout, attempts),
            backup=backup,
            notice=notice,
            on_backup_progress=on_backup_progress,
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
    from dbadmin import api

    result = api.migrate_down(  # an unknown revision exits 2 before asking
        get_settings(ctx, database_url),
        revision,
        **_runner(config, lock_wait, lock_timeout, statement_timeout, attempts),
        confirm=partial(confirm, yes=yes),
        notice=notice,
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
    from dbadmin import api

    result = api.migrate_stamp(
        get_settings(ctx, database_url), revision, config=config, lock_wait=lock_wait, notice=notice
    )
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
    from dbadmin import api

    report = api.migrate_status(get_settings(ctx, database_url), config=config)
    result = report.status
    for finding in result.checksum_findings:
        label = "warning" if finding.kind == "changed" else "note"
        notice(f"{label}: revision {finding.revision}: {finding.detail}")
    for rev in result.unknown:
        notice(f"warning: the database is at {rev}, which no revision file defines")
    if json_output:
        print_json(report.as_dict())
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
    if check and (not result.at_head or report.changed_files):
        raise typer.Exit(1)


@app.command()
@handle_errors
def history(ctx: typer.Context, config: ConfigOpt = None, json_output: JsonOpt = False) -> None:
    """All revisions, newest first (reads the revision files only).

    Example: dbadmin migrate history --json
    """
    from dbadmin import api

    found = api.migrate_history(get_settings(ctx, need_server=False), config=config)
    if json_output:
        print_json(found.as_dict())
        return
    revisions = found.revisions
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
    from dbadmin import api

    settings = get_settings(ctx, database_url)
    written = api.migrate_new(settings, message, autogenerate=autogenerate, config=config)
    if json_output:
        print_json(written.as_dict())
    else:
        out_console().print(f"wrote {written.written.path}", highlight=False, soft_wrap=True)


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
    from dbadmin import api

    checked = api.migrate_check(get_settings(ctx, database_url), config=config)
    result = checked.check
    if json_output:
        print_json(checked.as_dict())
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

    from dbadmin import api

    sys.stdout.write(
        api.migrate_sql(get_settings(ctx, need_server=False), revisions, config=config)
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
    from dbadmin import api

    settings = get_settings(ctx, database_url)
    lint_report = api.migrate_lint(
        settings,
        revisions,
        config=config,
        exclude=exclude or (),
        errors=error or (),
        warnings=warning or (),
        squawk_config=squawk_config,
    )
    result = lint_report.lint
    if json_output:
        print_json(lint_report.as_dict())
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
