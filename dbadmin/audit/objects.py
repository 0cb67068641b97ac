"""Checks on routines and extensions: security_definer_search_path, extensions."""

from __future__ import annotations

from dbadmin.audit.context import Audit
from dbadmin.audit.fixsql import ident, routine
from dbadmin.audit.model import AuditCheck, Finding, Status, judged

EXTENSIONS_SCHEMA = "extensions"


def check_security_definer_search_path(a: Audit) -> AuditCheck:
    """SECURITY DEFINER routines pin search_path (pg_catalog first, pg_temp last), as the
    PostgreSQL manual's "Writing SECURITY DEFINER Functions Safely" says."""
    findings = []
    for r in a.rows("security_definer_search_path"):
        target = routine(r["kind"], r["schema"], r["name"], r["args"])
        findings.append(
            Finding(
                Status.WARNING,
                f"{r['schema']}.{r['name']}({r['args']})",
                f"SECURITY DEFINER (runs as {r['owner']}) without SET search_path",
                (f"ALTER {target} SET search_path = pg_catalog, {ident(r['schema'])}, pg_temp",),
            )
        )
    return judged(
        "security_definer_search_path",
        findings,
        "every SECURITY DEFINER routine pins search_path",
        "pin search_path on SECURITY DEFINER routines",
    )


def check_extensions(a: Audit) -> AuditCheck:
    """Extensions at the server's default version (updates carry security fixes) and outside
    schema public (splinter's extension_in_public: their objects then sit where every role
    resolves names)."""
    findings: list[Finding] = []
    rows = a.rows("extensions")
    for r in rows:
        name = str(r["name"])
        if r["default_version"] and r["installed"] != r["default_version"]:
            findings.append(
                Finding(
                    Status.WARNING,
                    f"extension {name}",
                    f"version {r['installed']} installed, the server ships {r['default_version']}",
                    (f"ALTER EXTENSION {ident(name)} UPDATE",),
                )
            )
        if r["schema"] == "public" and name != "plpgsql":
            fix: tuple[str, ...] = ()
            note = "not relocatable: DROP it and CREATE EXTENSION ... SCHEMA extensions"
            if r["relocatable"]:
                schema = ident(EXTENSIONS_SCHEMA)
                fix = (
                    f"CREATE SCHEMA IF NOT EXISTS {schema}",
                    f"GRANT USAGE ON SCHEMA {schema} TO PUBLIC",
                    f"ALTER EXTENSION {ident(name)} SET SCHEMA {schema}",
                )
                note = (
                    "queries that call its functions unqualified need the schema on their "
                    f"search_path: ALTER DATABASE {ident(a.facts.database)} SET search_path = "
                    f'"$user", public, {schema}'
                )
            findings.append(
                Finding(
                    Status.WARNING, f"extension {name}", "installed in schema public", fix, note
                )
            )
    return judged(
        "extensions",
        findings,
        f"{len(rows)} extensions, all current and outside public",
        "update extensions and keep them in their own schema",
    )
