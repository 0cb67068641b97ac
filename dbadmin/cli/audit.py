"""`dbadmin audit`: security and access audit with the SQL that fixes each finding.

The contract is `dbadmin health`'s: named checks, a table, `--json`, `--nagios`,
`--check`/`--skip`, Nagios exit codes (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; whatever keeps the
checks from being judged, a bad flag included, is 3). `--fix` prints the fix script on stdout;
`--apply` runs it in one transaction after confirmation, then audits again and reports that run.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from dbadmin.cli.common import (
    DatabaseUrlOpt,
    JsonOpt,
    confirm,
    get_settings,
    handle_errors,
    notice,
    out_console,
    print_json,
    print_table,
)
from dbadmin.cli.health import (
    CheckOpt,
    NagiosGroup,
    SkipOpt,
    _unknown_exit,
    _unknown_on_error,
    parse_duration,
)
from dbadmin.errors import UsageError

if TYPE_CHECKING:
    from dbadmin.audit.context import AuditOptions
    from dbadmin.audit.model import AuditReport
    from dbadmin.settings import Settings

app = typer.Typer(
    cls=NagiosGroup,
    help="Security and access audit (TLS, roles, grants, row-level security, SECURITY DEFINER, "
    "extensions, secrets) with the SQL that fixes each finding; Nagios exit codes.\n\n"
    "Checks: tls, password_encryption, privileged_roles, app_role_privileges, "
    "public_schema_create, public_grants, rls_user_tables, rls_policies, "
    "security_definer_search_path, security_definer_views, extensions, sensitive_columns. "
    "Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. Nothing is changed without --apply.\n\n"
    "Example: dbadmin audit --fix > fix.sql && dbadmin audit --fix --apply --yes",
    invoke_without_command=True,
    subcommand_metavar="",  # no subcommands: `dbadmin audit [OPTIONS]`
)


@app.callback(invoke_without_command=True)
@handle_errors
def audit(
    ctx: typer.Context,
    database_url: DatabaseUrlOpt = None,
    check: CheckOpt = None,
    skip: SkipOpt = None,
    json_output: JsonOpt = False,
    nagios: Annotated[bool, typer.Option("--nagios", help="Print one Nagios plugin line.")] = False,
    fix: Annotated[
        bool, typer.Option("--fix", help="Print the SQL that fixes the findings (changes nothing).")
    ] = False,
    apply: Annotated[
        bool,
        typer.Option(
            "--apply", help="Run the fix SQL in one transaction (asks; --yes when not a terminal)."
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before --apply.")] = False,
    app_role: Annotated[
        str | None,
        typer.Option(
            "--app-role",
            help="The role the application connects with (default: $DBADMIN_APP_ROLE, app_user).",
            show_default=False,
        ),
    ] = None,
    allow_role: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-role",
            help="A documented privileged login role privileged_roles accepts (repeatable; also "
            "$DBADMIN_AUDIT_ALLOWED_ROLES, comma-separated).",
            show_default=False,
        ),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Also require password expiry on login roles.")
    ] = False,
    sample: Annotated[
        bool,
        typer.Option(
            "--sample",
            help="sensitive_columns reads at most 100 values per column to tell hashes from "
            "clear text (values are never shown).",
        ),
    ] = False,
    timeout: Annotated[
        str, typer.Option("--timeout", help="Bound on the audit run, connect retries included.")
    ] = "30s",
) -> None:
    """Audit who can read or change what: tls, password_encryption, privileged_roles,
    app_role_privileges, public_schema_create, public_grants, rls_user_tables, rls_policies,
    security_definer_search_path, security_definer_views, extensions, sensitive_columns.
    Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. Nothing is changed without --apply.

    Example: dbadmin audit --check rls_user_tables,rls_policies --fix
    """
    with _unknown_on_error(ctx, nagios=nagios):
        if json_output and nagios:
            raise UsageError("--json and --nagios cannot be combined", "choose one output format")
        if apply and nagios:
            raise UsageError("--apply cannot be combined with --nagios", "apply, then monitor")
        from dbadmin.audit.checks import select_checks

        seconds = parse_duration(timeout, "--timeout")
        chosen = select_checks(check or [], skip or [])
        settings = get_settings(ctx, database_url)
        options = _options(settings, chosen, seconds, app_role, allow_role, strict, sample)
        report = _run(settings, options)
        if apply and report.error is None:
            report = _apply(settings, options, report, yes=yes)
    _emit(report, json_output=json_output, nagios=nagios, script=fix and not apply)
    if report.error is not None:
        raise _unknown_exit(report.error)
    raise typer.Exit(report.exit_code)


def _options(
    settings: Settings,
    chosen: tuple[str, ...],
    seconds: float,
    app_role: str | None,
    allow_role: list[str] | None,
    strict: bool,
    sample: bool,
) -> AuditOptions:
    from dbadmin.audit.context import (
        ALLOWED_ROLES_ENV,
        APP_ROLE_ENV,
        DEFAULT_APP_ROLE,
        AuditOptions,
    )

    role = app_role or settings.env.get(APP_ROLE_ENV) or DEFAULT_APP_ROLE
    allowed = [*(allow_role or []), *settings.env.get(ALLOWED_ROLES_ENV, "").split(",")]
    return AuditOptions(
        checks=chosen,
        timeout=seconds,
        app_role=role,
        allowed_roles=tuple(r.strip() for r in allowed if r.strip()),
        strict=strict,
        sample=sample,
    )


def _run(settings: Settings, options: AuditOptions) -> AuditReport:
    from dbadmin.audit.runner import run_audit_bounded

    return run_audit_bounded(settings, options)


def _apply(
    settings: Settings, options: AuditOptions, report: AuditReport, *, yes: bool
) -> AuditReport:
    """Show the script on stderr, confirm, run it in one transaction, audit again."""
    from dataclasses import replace

    from dbadmin.audit.runner import apply_fixes

    count = len(report.fix_statements())
    if not count:
        notice("audit: nothing to apply (no finding has fix SQL)")
        return replace(report, applied=0)
    sys.stderr.write(report.fix_script())
    confirm(f"run {count} fix statements on {report.target} in one transaction", yes=yes)
    applied = apply_fixes(settings, report)
    notice(f"audit: applied {applied} fix statements in one transaction; auditing again")
    return replace(_run(settings, options), applied=applied)


def _emit(report: AuditReport, *, json_output: bool, nagios: bool, script: bool) -> None:
    if json_output:
        print_json(report.as_dict())
        return
    if nagios:
        found = sum(len(c.findings) for c in report.checks)
        summary = " ".join(report.summary().split()).replace("|", "/")
        sys.stdout.write(f"DBADMIN AUDIT {report.status.value}: {summary} | findings={found};;;0\n")
        return
    if script:
        sys.stdout.write(report.fix_script())
        return
    _table(report)


def _table(report: AuditReport) -> None:
    from rich.text import Text

    from dbadmin.render import fit_table, key_col, num_col, styled_status, text_col

    console = out_console()
    title = f"dbadmin audit: {report.status.value} — {report.target}"
    if report.server_version:
        title += (
            f" (PostgreSQL {report.server_version}, as {report.role}, app role {report.app_role})"
        )
    rows = [
        (
            c.name,
            styled_status(c.status.value),
            str(len(c.findings)),
            "yes" if c.fixable else ("partly" if any(f.fix for f in c.findings) else "-"),
            c.summary,
        )
        for c in report.checks
    ]
    columns = (key_col("check"), key_col("status"), num_col("findings"), key_col("fix", 1),
               text_col("summary", min_width=24, markup=False))  # fmt: skip
    print_table(fit_table(title, columns, rows))
    for c in report.checks:
        if c.status.value == "OK":
            continue
        if c.advice:
            console.print(Text(f"{c.name}: {c.advice}"))
        for finding in c.findings[:5]:
            console.print(Text(f"  - {finding.status.value} {finding.object}: {finding.message}"))
        if len(c.findings) > 5:
            console.print(Text(f"  ... {len(c.findings) - 5} more (--json lists them all)"))
    if any(c.findings for c in report.checks):
        console.print(Text("`dbadmin audit --fix` prints the SQL that fixes these findings"))
    if report.error:
        console.print(Text(f"UNKNOWN: {report.error}"))
