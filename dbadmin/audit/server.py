"""Server and role checks: tls, password_encryption, privileged_roles.

Server settings are not changeable by a managed database's owner (ALTER SYSTEM needs a superuser),
so tls findings carry advice, not SQL; roles can be fixed by a role with the rights to alter them.
"""

from __future__ import annotations

import datetime as dt

from dbadmin.audit.context import Audit
from dbadmin.audit.fixsql import ident, literal
from dbadmin.audit.model import AuditCheck, Finding, Status, judged

# Roles a managed service keeps for itself (Neon, RDS, Azure, Supabase, Cloud SQL): not the
# database owner's to change, so not findings.
SERVICE_ROLES = frozenset(
    {
        "cloud_admin",
        "neon_superuser",
        "rdsadmin",
        "rds_superuser",
        "azure_superuser",
        "azuresu",
        "supabase_admin",
        "cloudsqladmin",
        "cloudsqlsuperuser",
    }
)
WEAK_TLS = frozenset({"TLSv1", "TLSv1.1"})
PLAIN_SSLMODES = frozenset({"disable", "allow", "prefer"})


def check_tls(a: Audit) -> AuditCheck:
    """TLS on the server, on every network session, and in the URL dbadmin was given.

    Neon terminates TLS at its proxy (which refuses plaintext) and the compute behind it reports
    ``ssl = off``, so there only the URL is judged.
    """
    findings: list[Finding] = []
    advice = "turn ssl on (postgresql.conf or the provider's console) and use sslmode=verify-full"
    mode = a.sslmode or "prefer"
    if a.remote and mode in PLAIN_SSLMODES:
        findings.append(
            Finding(
                Status.WARNING,
                "DATABASE_URL",
                f"sslmode={mode} lets libpq fall back to an unencrypted connection",
                note="use sslmode=require, better verify-full with the provider's CA",
            )
        )
    if a.neon:
        return judged("tls", findings, f"Neon's proxy requires TLS; URL sslmode={mode}", advice)
    row = a.rows("tls")[0]
    if row["ssl"] == "off":
        findings.append(
            Finding(Status.CRITICAL, "server", "ssl is off: every TCP connection is plaintext")
        )
    if row["min_protocol"] in WEAK_TLS:
        findings.append(
            Finding(
                Status.WARNING,
                "server",
                f"ssl_min_protocol_version is {row['min_protocol']} (TLSv1.2 or later wanted)",
            )
        )
    if row["this_session_tcp"] and not row["this_session_ssl"]:
        findings.append(
            Finding(Status.CRITICAL, "this session", "dbadmin's own connection is not encrypted")
        )
    for s in row["plain_sessions"]:
        findings.append(
            Finding(
                Status.WARNING,
                f"pid {s['pid']}",
                f"{s['user']}@{s['database']} from {s['client']} "
                f"({s['application_name'] or 'no application_name'}) is not encrypted",
            )
        )
    result = judged(
        "tls", findings, f"ssl on, {row['min_protocol']}+, no plaintext session", advice
    )
    hidden = 0 if (a.facts.superuser or a.facts.reads_all_stats) else int(row["other_sessions"])
    unseen = [
        *([f"{hidden} sessions of other roles"] if hidden else []),
        *(["ssl_min_protocol_version"] if row["min_protocol"] is None else []),
    ]
    if result.status is Status.OK and unseen:
        return AuditCheck(
            "tls",
            Status.UNKNOWN,
            f"{' and '.join(unseen)} not visible to role {a.facts.role}",
            advice="grant pg_read_all_stats and pg_read_all_settings to the auditing role",
        )
    return result


def check_password_encryption(a: Audit) -> AuditCheck:
    """New passwords hashed with SCRAM-SHA-256; stored MD5 hashes when the role may see them."""
    value = str(a.rows("password_encryption")[0]["value"])
    findings: list[Finding] = []
    if value != "scram-sha-256":
        findings.append(
            Finding(
                Status.WARNING,
                "password_encryption",
                f"is {value}: new passwords are stored as MD5 hashes (deprecated, replayable)",
                fix=(
                    f"ALTER DATABASE {ident(a.facts.database)} SET password_encryption = "
                    "'scram-sha-256'",
                ),
                note="the server-wide setting needs the provider or a superuser",
            )
        )
    checked = "stored hashes not readable by this role"
    if a.facts.superuser:
        md5 = a.rows("md5_passwords")
        checked = f"{len(md5)} roles with an MD5 password"
        findings += [
            Finding(
                Status.CRITICAL,
                f"role {r['role']}",
                "its stored password is an MD5 hash",
                note="set the password again (\\password in psql) after password_encryption "
                "is scram-sha-256",
            )
            for r in md5
        ]
    return judged(
        "password_encryption",
        findings,
        f"scram-sha-256 ({checked})",
        "use scram-sha-256 and set MD5-hashed passwords again",
    )


def check_privileged_roles(a: Audit) -> AuditCheck:
    """Login roles with SUPERUSER, BYPASSRLS, CREATEROLE, CREATEDB or pg_read/write_all_data and
    the server-file roles, beyond the bootstrap superuser, the database owner (CREATEDB,
    CREATEROLE and BYPASSRLS are how a managed owner role such as Neon's works), the provider's
    own roles and the allowed ones; with --strict, login roles without a password expiry."""
    allowed = set(a.options.allowed_roles) | SERVICE_ROLES
    owner = a.facts.database_owner
    findings: list[Finding] = []
    for r in a.rows("privileged_roles"):
        role = str(r["role"])
        if r["bootstrap"] or role in allowed:
            continue
        attrs = [k for k in ("superuser", "bypassrls", "createrole", "createdb") if r[k]]
        if role == owner:
            attrs = [k for k in attrs if k == "superuser"]
        if attrs or r["predefined"]:
            what = [k.upper() for k in attrs] + list(r["predefined"])
            status = (
                Status.CRITICAL
                if r["superuser"] or set(r["predefined"]) - {"pg_read_all_data"}
                else Status.WARNING
            )
            fix = [f"ALTER ROLE {ident(role)} " + " ".join(f"NO{k.upper()}" for k in attrs)]
            fix = fix if attrs else []
            fix += [f"REVOKE {ident(g)} FROM {ident(role)}" for g in r["predefined"]]
            findings.append(
                Finding(status, f"role {role}", "can log in with " + ", ".join(what), tuple(fix))
            )
        if a.options.strict and r["valid_until"] is None:
            expiry = (dt.date.today() + dt.timedelta(days=365)).isoformat()
            findings.append(
                Finding(
                    Status.WARNING,
                    f"role {role}",
                    "its password never expires (--strict)",
                    (f"ALTER ROLE {ident(role)} VALID UNTIL {literal(expiry)}",),
                    note="pick the expiry your password policy asks for",
                )
            )
    return judged(
        "privileged_roles",
        findings,
        f"no login role beyond the owner ({owner}) holds superuser, BYPASSRLS, CREATEROLE, "
        "CREATEDB or server-file rights",
        "give these rights to NOLOGIN roles granted only when needed, or add a documented role "
        "to DBADMIN_AUDIT_ALLOWED_ROLES / --allow-role",
    )
