"""Row-level security checks: rls_user_tables, rls_policies, security_definer_views.

The lints follow Supabase's splinter (rls_disabled_in_public, rls_enabled_no_policy,
policy_exists_rls_disabled, rls_policy_always_true, multiple_permissive_policies,
auth_rls_initplan, security_definer_view), without its Supabase roles: the role that must be
isolated is the application role.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from dbadmin.audit.context import Audit
from dbadmin.audit.fixsql import APP_SETTING, ident, qualified, user_policy
from dbadmin.audit.model import AuditCheck, Finding, Status, judged

# Calls that return the same value for every row but are evaluated per row unless wrapped in
# (SELECT ...), which the planner runs once as an initPlan (splinter's auth_rls_initplan).
PER_ROW_CALL = re.compile(r"\b(current_setting|auth\.(?:uid|jwt|role|email))\s*\(", re.I)
CMD_ACTIONS = {"*": "rawd", "r": "r", "a": "a", "w": "w", "d": "d"}
ACTION_WORD = {"r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE"}


def _enable(table: str) -> str:
    return f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"


def check_rls_user_tables(a: Audit) -> AuditCheck:
    """Tables with per-user rows have row-level security, a policy, and, when the application
    connects as their owner, FORCE (an owner bypasses unforced RLS). With a separate application
    role, unforced RLS is right: the owner migrates and dumps, the application is isolated."""
    app = a.options.app_role
    # the policies name the application role when it exists or this run's fix script creates it
    # first (app_role_privileges' role pair); else PUBLIC, so the script still runs
    to = app if a.facts.app_exists or "app_role_privileges" in a.options.checks else None
    findings: list[Finding] = []
    for r in a.shared("rls_tables"):
        column = r["user_column"]
        if column is None:
            continue
        name, table = f"{r['schema']}.{r['table']}", qualified(r["schema"], r["table"])
        policy = user_policy(r["schema"], r["table"], column, r["user_column_type"], to)
        owner_is_app = bool(r["app_is_owner"]) or a.facts.app_is_current
        force = [f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY"] if owner_is_app else []
        if not r["rls"]:
            fix = [_enable(table), *force, *([policy] if not r["policies"] else [])]
            findings.append(
                Finding(
                    Status.CRITICAL,
                    name,
                    f"per-user rows ({column}) without row-level security: every session of "
                    "the application reads every user's rows",
                    tuple(fix),
                    note=f"the policy keys rows on current_setting('{APP_SETTING}'); the "
                    "application sets it per transaction (docs/audit.md)",
                )
            )
        elif not r["policies"]:
            findings.append(
                Finding(
                    Status.WARNING,
                    name,
                    f"row-level security is on but no policy exists: {to or 'PUBLIC'} sees no row",
                    (policy,),
                )
            )
        elif owner_is_app and not r["forced"]:
            findings.append(
                Finding(
                    Status.WARNING,
                    name,
                    f"the application role {app} owns it and row-level security is not forced, "
                    "so the policies do not apply to the application",
                    tuple(force),
                    note="better: a separate application role (app_role_privileges); a forced "
                    "table also binds pg_dump run as the owner",
                )
            )
    user_tables = sum(1 for r in a.shared("rls_tables") if r["user_column"])
    return judged(
        "rls_user_tables",
        findings,
        f"{user_tables} per-user tables have row-level security and policies",
        "enable row-level security with a policy keyed on the session's user",
    )


def unwrapped_calls(expr: str | None) -> list[tuple[int, int]]:
    """(start, end) of each per-row call in ``expr`` that no enclosing parenthesis group turns
    into a sub-SELECT."""
    if not expr:
        return []
    out: list[tuple[int, int]] = []
    for match in PER_ROW_CALL.finditer(expr):
        depth_starts: list[int] = []
        for i, ch in enumerate(expr[: match.start()]):
            if ch == "(":
                depth_starts.append(i)
            elif ch == ")" and depth_starts:
                depth_starts.pop()
        if any(expr[i + 1 :].lstrip().upper().startswith("SELECT") for i in depth_starts):
            continue
        depth, end = 0, match.end() - 1
        for j in range(end, len(expr)):
            depth += {"(": 1, ")": -1}.get(expr[j], 0)
            if depth == 0:
                end = j + 1
                break
        out.append((match.start(), end))
    return out


def wrap_calls(expr: str) -> str:
    """``expr`` with each unwrapped per-row call turned into ``(SELECT call)``."""
    for start, end in reversed(unwrapped_calls(expr)):
        expr = f"{expr[:start]}(SELECT {expr[start:end]}){expr[end:]}"
    return expr


def _policy_findings(r: dict[str, Any]) -> list[Finding]:
    name = f"{r['schema']}.{r['table']} policy {r['policy']}"
    target = f"{ident(r['policy'])} ON {qualified(r['schema'], r['table'])}"
    out: list[Finding] = []
    if not r["rls"]:
        out.append(
            Finding(
                Status.CRITICAL,
                name,
                "the policy exists but row-level security is off, so it does nothing",
                (_enable(qualified(r["schema"], r["table"])),),
            )
        )
    for label, expr in (("USING", r["using_expr"]), ("WITH CHECK", r["check_expr"])):
        if expr is not None and expr.strip().lower() in {"true", "(true)"}:
            out.append(
                Finding(
                    Status.WARNING,
                    name,
                    f"{label} (true) lets every row through for {', '.join(r['roles'])}",
                    note=f"ALTER POLICY {target} {label} (<the condition the rows must meet>)",
                )
            )
    if unwrapped_calls(r["using_expr"]) or unwrapped_calls(r["check_expr"]):
        parts = [f"USING ({wrap_calls(r['using_expr'])})"] if r["using_expr"] else []
        parts += [f"WITH CHECK ({wrap_calls(r['check_expr'])})"] if r["check_expr"] else []
        out.append(
            Finding(
                Status.WARNING,
                name,
                "calls current_setting()/auth.*() per row; (SELECT ...) evaluates it once",
                (f"ALTER POLICY {target} {' '.join(parts)}",),
            )
        )
    return out


def check_rls_policies(a: Audit) -> AuditCheck:
    """Policies that let everything through, that do nothing (RLS off), that re-evaluate the
    session's user per row, several permissive ones for the same role and action (each is
    evaluated, OR-ed), and tables with RLS on but no policy that are not per-user tables
    (those are rls_user_tables' findings)."""
    policies = a.rows("rls_policies")
    findings = [f for r in policies for f in _policy_findings(r)]
    permissive: dict[tuple[str, str, str, str], list[str]] = defaultdict(list)
    for r in policies:
        if r["permissive"]:
            for role in r["roles"]:
                for action in CMD_ACTIONS[r["cmd"]]:
                    permissive[(r["schema"], r["table"], role, action)].append(r["policy"])
    for (schema, table, role, action), names in sorted(permissive.items()):
        if len(names) > 1:
            findings.append(
                Finding(
                    Status.WARNING,
                    f"{schema}.{table}",
                    f"{len(names)} permissive {ACTION_WORD[action]} policies for {role} "
                    f"({', '.join(names)}): each is evaluated for every row",
                    note="merge them into one policy whose condition ORs theirs",
                )
            )
    for r in a.shared("rls_tables"):
        if r["rls"] and not r["policies"] and not r["user_column"]:
            findings.append(
                Finding(
                    Status.WARNING,
                    f"{r['schema']}.{r['table']}",
                    "row-level security is on but no policy exists: only the owner sees rows",
                    note="add the policy the table needs, or DISABLE ROW LEVEL SECURITY if "
                    "no role but the owner should read it",
                )
            )
    return judged(
        "rls_policies",
        findings,
        f"{len(policies)} policies: none always true, none idle, no per-row setting lookups",
        "tighten, merge or wrap the policies as each finding says",
    )


def check_security_definer_views(a: Audit) -> AuditCheck:
    """Views over RLS tables without security_invoker (PostgreSQL 15+) show every row."""
    findings = []
    for r in a.rows("security_definer_views"):
        view = qualified(r["schema"], r["view"])
        fix = (f"ALTER VIEW {view} SET (security_invoker = true)",) if a.facts.major >= 15 else ()
        findings.append(
            Finding(
                Status.CRITICAL,
                f"{r['schema']}.{r['view']}",
                f"runs as its owner {r['owner']} over row-level-secured {r['tables']}: its "
                "readers see every row",
                fix,
                note=""
                if fix
                else "security_invoker needs PostgreSQL 15: revoke SELECT on the "
                "view from the application role, or upgrade",
            )
        )
    return judged(
        "security_definer_views",
        findings,
        "no view bypasses row-level security",
        "make such views security_invoker so the reader's policies apply",
    )
