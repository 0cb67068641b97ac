"""Security and access audit: named checks with health's statuses, and the SQL that fixes them.

``run_audit(settings, options)`` (``runner.py``) runs the checks registered in ``checks.py``,
one module per family: ``server.py`` (tls, password_encryption, privileged_roles),
``privileges.py`` (app_role_privileges, public_schema_create, public_grants), ``rls.py``
(rls_user_tables, rls_policies, security_definer_views), ``objects.py``
(security_definer_search_path, extensions) and ``sensitive.py`` (sensitive_columns). Queries live
in dbadmin/sql/audit/; ``fixsql.py`` quotes every identifier of the fix statements, which
``apply_fixes`` runs in one transaction.
"""

from dbadmin.audit.model import AuditCheck, AuditReport, Finding, Status

__all__ = ["AuditCheck", "AuditReport", "Finding", "Status"]
