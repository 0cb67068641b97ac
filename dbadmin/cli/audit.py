"""`dbadmin audit`: security and access audit with the SQL that fixes each finding.

The contract is `dbadmin health`'s: named checks, a table, `--json`, `--nagios`,
`--check`/`--skip`, Nagios exit codes (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; whatever keeps the
checks from being judged, a bad flag included, is 3). `--fix` prints the fix script on stdout;
`--apply` runs it in one transaction after confirmation, then audits again and reports that run.
"""

from __future__ import annotations

import sys
from functools import partial
from typing import TYPE_CHECKING, Annotated

import typer

from dbadmin.cli.common import (
    confirm,
    get_settings,
    handle_errors,
    notice,
    out_console,
    print_json,
    print_table,
)
from dbadmin.cli.health import NagiosGroup, _unknown_exit, _unknown_on_error
from dbadmin.cli.options import (
    CheckOpt,
    CheckTimeoutOpt,
    DatabaseUrlOpt,
    JsonOpt,
    NagiosOpt,
    SkipOpt,
)
from dbadmin.errors import UsageError

if TYPE_CHECKING:
    from dbadmin.audit.model import AuditReport

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
    nagios: NagiosOpt = False,
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
    timeout: CheckTimeoutOpt = 30.0,
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
        from dbadmin import api

        report = api.audit(
            get_settings(ctx, database_url),
            checks=check or (),
            skip=skip or (),
            app_role=app_role,
            allow_roles=allow_role or (),
            strict=strict,
            sample=sample,
            timeout=timeout,
            apply=apply,
            confirm=partial(confirm, yes=yes),
            notice=notice,
            on_fix_script=sys.stderr.write,
        )
    _emit(report, json_output=json_output, nagios=nagios, script=fix and not apply)
    if report.error is not None:
        raise _unknown_exit(report.error)
    raise typer.Exit(report.exit_code)


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
