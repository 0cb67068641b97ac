"""dbadmin's public Python API: one function per command, as Alembic's ``command.py`` is.

Every function takes the database first, as a :class:`~dbadmin.settings.Settings`, a URL
string (resolved as ``--database-url`` is: ``sslmode=require`` added for remote hosts, the
direct URL derived for Neon), or ``None`` (``DATABASE_URL``, ``.env``, ``PG*``, else the
embedded server, started when needed), then keyword options named like the CLI's flags. Each
returns a frozen, typed result whose ``as_dict()`` is exactly what the command prints with
``--json``. Nothing here prints, prompts or exits: notices go to an optional ``notice`` callback,
destructive steps call an optional ``confirm`` callback first, and failures raise the
:class:`~dbadmin.errors.DbadminError` subclasses of :mod:`dbadmin.errors` (each with the exit
code the CLI uses). A problem *found* (a failed check, a regression, a corrupt backup) is in the
result (``ok``, ``status``, ``problem()``), not raised.

    from dbadmin import api

    run = api.backup("postgresql://app@db.internal/app", directory="/srv/backups")
    api.prune(directory="/srv/backups", keep=7, keep_days=7)
    print(api.health().status)

The CLI (:mod:`dbadmin.cli`) parses options, calls these functions and renders their results;
see docs/api.md.

Loading is lazy (PEP 562): ``import dbadmin.api`` loads no submodule; the first access to a
name (``api.backup``, ``from dbadmin.api import RestoreReport``) imports the one submodule that
defines it, from the ``_EXPORTS`` table, and caches the name here, so ``dbadmin slow-queries
log`` does not pay for the backup, restore, seed and EXPLAIN modules. No submodule shares a name
with a function it exports (``backups``, not ``backup``): importing a submodule binds its name on
this package, which would otherwise replace the function ``api.backup`` with a module.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the same names, eagerly, for mypy and IDEs
    from dbadmin.api.backups import (
        BackupList,
        BackupRun,
        PruneReport,
        VerifyReport,
        backup,
        backup_before_migration,
        list_backups,
        prune,
        verify,
    )
    from dbadmin.api.catalog import CatalogQueryRun, CatalogReport, explain_catalog
    from dbadmin.api.checks import audit, doctor, health, pool_check
    from dbadmin.api.local import (
        LocalStatus,
        local_cluster,
        local_destroy,
        local_start,
        local_status,
        local_stop,
        local_url,
    )
    from dbadmin.api.migrate import (
        MigrationCheck,
        MigrationHistory,
        MigrationLint,
        MigrationRun,
        MigrationStatusReport,
        NewRevisionFile,
        migrate_check,
        migrate_down,
        migrate_history,
        migrate_lint,
        migrate_new,
        migrate_sql,
        migrate_stamp,
        migrate_status,
        migrate_up,
    )
    from dbadmin.api.plans import CatalogListing, ExplainReport, catalog_queries, explain
    from dbadmin.api.restores import RestoreReport, restore
    from dbadmin.api.schema import (
        SchemaCreated,
        SchemaDiff,
        SchemaDropped,
        SchemaShown,
        schema_create,
        schema_diff,
        schema_docs,
        schema_docs_html,
        schema_docs_write,
        schema_drop,
        schema_show,
    )
    from dbadmin.api.seeding import SeedRun, seed
    from dbadmin.api.slow import LogSummary, parse_logs, slow_enable, slow_snapshot, slow_top
    from dbadmin.api.target import Confirm, Notice, settings_for

# submodule -> the public names it defines, space-separated (the one table __getattr__ reads;
# tests/test_api_lazy.py checks it against __all__ and the TYPE_CHECKING imports)
_EXPORTS: dict[str, str] = {
    "backups": (
        "BackupList BackupRun PruneReport VerifyReport backup backup_before_migration"
        " list_backups prune verify"
    ),
    "catalog": "CatalogQueryRun CatalogReport explain_catalog",
    "checks": "audit doctor health pool_check",
    "local": (
        "LocalStatus local_cluster local_destroy local_start local_status local_stop local_url"
    ),
    "migrate": (
        "MigrationCheck MigrationHistory MigrationLint MigrationRun MigrationStatusReport"
        " NewRevisionFile migrate_check migrate_down migrate_history migrate_lint"
        " migrate_new migrate_sql migrate_stamp migrate_status migrate_up"
    ),
    "plans": "CatalogListing ExplainReport catalog_queries explain",
    "restores": "RestoreReport restore",
    "schema": (
        "SchemaCreated SchemaDiff SchemaDropped SchemaShown schema_create schema_diff"
        " schema_docs schema_docs_html schema_docs_write schema_drop schema_show"
    ),
    "seeding": "SeedRun seed",
    "slow": "LogSummary parse_logs slow_enable slow_snapshot slow_top",
    "target": "Confirm Notice settings_for",
}
_SUBMODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names.split()}


def __getattr__(name: str) -> object:
    """Import the submodule that defines ``name`` on first use and cache the name here (the
    next access is a plain module-global lookup)."""
    try:
        submodule = _SUBMODULE_OF[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(import_module(f"{__name__}.{submodule}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "BackupList",
    "BackupRun",
    "CatalogListing",
    "CatalogQueryRun",
    "CatalogReport",
    "Confirm",
    "ExplainReport",
    "LocalStatus",
    "LogSummary",
    "MigrationCheck",
    "MigrationHistory",
    "MigrationLint",
    "MigrationRun",
    "MigrationStatusReport",
    "NewRevisionFile",
    "Notice",
    "PruneReport",
    "RestoreReport",
    "SchemaCreated",
    "SchemaDiff",
    "SchemaDropped",
    "SchemaShown",
    "SeedRun",
    "VerifyReport",
    "audit",
    "backup",
    "backup_before_migration",
    "catalog_queries",
    "doctor",
    "explain",
    "explain_catalog",
    "health",
    "list_backups",
    "local_cluster",
    "local_destroy",
    "local_start",
    "local_status",
    "local_stop",
    "local_url",
    "migrate_check",
    "migrate_down",
    "migrate_history",
    "migrate_lint",
    "migrate_new",
    "migrate_sql",
    "migrate_stamp",
    "migrate_status",
    "migrate_up",
    "parse_logs",
    "pool_check",
    "prune",
    "restore",
    "schema_create",
    "schema_diff",
    "schema_docs",
    "schema_docs_html",
    "schema_docs_write",
    "schema_drop",
    "schema_show",
    "seed",
    "settings_for",
    "slow_enable",
    "slow_snapshot",
    "slow_top",
    "verify",
]
