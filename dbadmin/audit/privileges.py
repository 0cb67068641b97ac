"""Least-privilege checks: app_role_privileges, public_schema_create, public_grants.

One role migrates and owns the schema; another, the application role, reads and writes rows and
can do nothing else. PUBLIC (every role, including ones created later) gets nothing that lets it
create objects or read data.
"""

from __future__ import annotations

from typing import Any

from dbadmin.audit.context import Audit
from dbadmin.audit.fixsql import RELKIND_WORD, ident, qualified, role_pair, routine
from dbadmin.audit.model import AuditCheck, Finding, Status, judged

DEFAULT_ACL_WORD = {"r": "TABLES", "S": "SEQUENCES", "n": "SCHEMAS"}


def _app_role_findings(a: Audit, r: dict[str, Any]) -> Finding:
    app, owner = ident(a.options.app_role), ident(a.facts.database_owner)
    kind = r["kind"]
    if kind == "owns_schema":
        return Finding(
            Status.CRITICAL,
            f"schema {r['schema']}",
            f"is owned by the application role {a.options.app_role}",
            (f"ALTER SCHEMA {ident(r['schema'])} OWNER TO {owner}",),
        )
    if kind == "owns":
        word = RELKIND_WORD.get(r["relkind"], "TABLE")
        return Finding(
            Status.CRITICAL,
            f"{r['schema']}.{r['name']}",
            f"{word.lower()} owned by the application role (it can ALTER, DROP and bypass RLS)",
            (f"ALTER {word} {qualified(r['schema'], r['name'])} OWNER TO {owner}",),
        )

    def revoke(what: str, on: str) -> tuple[str, ...]:
        """REVOKE from the application role, and from PUBLIC when it holds the right too."""
        grantees = [app, "PUBLIC"] if r["public_too"] else [app]
        return tuple(f"REVOKE {what} ON {on} FROM {grantee}" for grantee in grantees)

    if kind == "schema_create":
        return Finding(
            Status.WARNING,
            f"schema {r['schema']}",
            "the application role may CREATE objects in it",
            revoke("CREATE", f"SCHEMA {ident(r['schema'])}"),
        )
    if kind == "table_rights":
        return Finding(
            Status.WARNING,
            f"{r['schema']}.{r['name']}",
            f"the application role holds {r['owner']}",
            revoke("TRUNCATE, REFERENCES, TRIGGER", f"TABLE {qualified(r['schema'], r['name'])}"),
        )
    if kind == "member_of_owner":
        return Finding(
            Status.CRITICAL,
            f"role {r['owner']}",
            "the application role is a member of this owner role (it acts as the owner)",
            (f"REVOKE {ident(r['owner'])} FROM {app}",),
        )
    return Finding(
        Status.WARNING,
        f"database {r['schema']}",
        "the application role may create schemas in it",
        revoke("CREATE", f"DATABASE {ident(r['schema'])}"),
    )


def check_app_role_privileges(a: Audit) -> AuditCheck:
    """The application role exists apart from the owner and holds DML rights only."""
    f, app = a.facts, a.options.app_role
    advice = "one role migrates and owns the schema, another (DBADMIN_APP_ROLE) reads and writes"
    if f.app_is_current or app == f.database_owner:
        finding = Finding(
            Status.WARNING,
            f"role {app}",
            "the application role is the owner that migrates: it can ALTER and DROP everything "
            "and bypasses row-level security that is not forced",
            note="create a separate role (see `dbadmin audit --app-role NEW_NAME --fix`) and "
            "connect the application with it",
        )
        return judged("app_role_privileges", [finding], "", advice)
    if not f.app_exists:
        schemas = [str(r["schema"]) for r in a.rows("user_schemas")]
        finding = Finding(
            Status.WARNING,
            f"role {app}",
            "does not exist: the application presumably connects as the owner "
            f"({f.database_owner}), which can ALTER and DROP everything and bypasses "
            "row-level security",
            tuple(role_pair(app, f.database_owner, f.database, schemas)),
            note=f"then give {app} a password (\\password {app} in psql) and connect the "
            "application with it",
        )
        return judged("app_role_privileges", [finding], "", advice)
    findings = [_app_role_findings(a, r) for r in a.rows("app_role_privileges")]
    attrs = [k for k, on in (("SUPERUSER", f.app_superuser), ("BYPASSRLS", f.app_bypassrls)) if on]
    if attrs:
        findings.append(
            Finding(
                Status.CRITICAL,
                f"role {app}",
                f"the application role has {', '.join(attrs)}: row-level security never applies",
                (f"ALTER ROLE {ident(app)} " + " ".join(f"NO{k}" for k in attrs),),
            )
        )
    return judged(
        "app_role_privileges",
        findings,
        f"{app} owns nothing and holds no DDL rights",
        advice,
    )


def check_public_schema_create(a: Audit) -> AuditCheck:
    """CREATE on a schema for PUBLIC: any role can plant a function or operator that shadows a
    built-in on others' search_path (CVE-2018-1058); PostgreSQL 15 stopped granting it."""
    findings = [
        Finding(
            Status.CRITICAL,
            f"schema {r['schema']}",
            "PUBLIC may CREATE objects in it",
            (f"REVOKE CREATE ON SCHEMA {ident(r['schema'])} FROM PUBLIC",),
            note=f"needs the schema's owner ({r['owner']})",
        )
        for r in a.rows("public_schema_create")
    ]
    return judged(
        "public_schema_create",
        findings,
        "PUBLIC may not create objects in any schema",
        "revoke CREATE from PUBLIC; grant it to the owner that migrates if needed",
    )


def _public_grant(r: dict[str, Any]) -> Finding:
    if r["kind"] == "relation":
        word = RELKIND_WORD.get(r["objtype"], "TABLE")
        on = "SEQUENCE" if word == "SEQUENCE" else "TABLE"
        return Finding(
            Status.CRITICAL if word != "SEQUENCE" else Status.WARNING,
            f"{r['schema']}.{r['name']}",
            f"{word.lower()} grants {r['privileges']} to PUBLIC",
            (f"REVOKE ALL ON {on} {qualified(r['schema'], r['name'])} FROM PUBLIC",),
        )
    if r["kind"] == "function":
        target = routine(r["objtype"], r["schema"], r["name"], r["args"])
        return Finding(
            Status.WARNING,
            f"{r['schema']}.{r['name']}({r['args']})",
            "SECURITY DEFINER routine executable by PUBLIC (every role runs it as its owner)",
            (f"REVOKE EXECUTE ON {target} FROM PUBLIC",),
            note="grant EXECUTE to the roles that need it (e.g. the application role)",
        )
    word = DEFAULT_ACL_WORD[r["objtype"]]
    scope = f" IN SCHEMA {ident(r['schema'])}" if r["schema"] else ""
    return Finding(
        Status.WARNING,
        f"default privileges of {r['grantor']}" + (f" in {r['schema']}" if r["schema"] else ""),
        f"future {word.lower()} get {r['privileges']} for PUBLIC",
        (
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {ident(r['grantor'])}{scope} "
            f"REVOKE ALL ON {word} FROM PUBLIC",
        ),
    )


def check_public_grants(a: Audit) -> AuditCheck:
    """Tables, views, sequences and SECURITY DEFINER routines granted to PUBLIC, and default
    privileges that will grant future ones."""
    return judged(
        "public_grants",
        [_public_grant(r) for r in a.rows("public_grants")],
        "nothing granted to PUBLIC",
        "grant to named roles (the application role) instead of PUBLIC",
    )
