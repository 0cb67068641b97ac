"""The registry: every audit check by its stable name, in report order.

The order matters for ``--fix``: the least-privilege role pair (app_role_privileges) comes before
the policies that name the application role (rls_user_tables).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from dbadmin.audit.context import Audit
from dbadmin.audit.model import AuditCheck
from dbadmin.audit.objects import check_extensions, check_security_definer_search_path
from dbadmin.audit.privileges import (
    check_app_role_privileges,
    check_public_grants,
    check_public_schema_create,
)
from dbadmin.audit.rls import (
    check_rls_policies,
    check_rls_user_tables,
    check_security_definer_views,
)
from dbadmin.audit.sensitive import check_sensitive_columns
from dbadmin.audit.server import check_password_encryption, check_privileged_roles, check_tls

CHECKS: dict[str, Callable[[Audit], AuditCheck]] = {
    "tls": check_tls,
    "password_encryption": check_password_encryption,
    "privileged_roles": check_privileged_roles,
    "app_role_privileges": check_app_role_privileges,
    "public_schema_create": check_public_schema_create,
    "public_grants": check_public_grants,
    "rls_user_tables": check_rls_user_tables,
    "rls_policies": check_rls_policies,
    "security_definer_search_path": check_security_definer_search_path,
    "security_definer_views": check_security_definer_views,
    "extensions": check_extensions,
    "sensitive_columns": check_sensitive_columns,
}
CHECK_NAMES: tuple[str, ...] = tuple(CHECKS)


def select_checks(only: Sequence[str], skip: Sequence[str]) -> tuple[str, ...]:
    """``--check``/``--skip`` names (repeatable or comma-separated) -> the checks to run."""
    from dbadmin.health.runner import select_checks as select

    return select(only, skip, CHECK_NAMES)
