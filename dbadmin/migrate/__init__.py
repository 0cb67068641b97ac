"""Alembic wrapper: locating the configuration, advisory lock, timeouts, checksums, lint.

The functions below are the Python API (Alembic ``command.py`` style); the CLI in
``dbadmin/cli/migrate.py`` only parses options and renders their results.
"""

from __future__ import annotations

from dbadmin.migrate.models import load_metadata
from dbadmin.migrate.runner import (
    AppliedRevision,
    MigrateOptions,
    MigrateResult,
    MigrationFailed,
    downgrade,
    stamp,
    upgrade,
)

__all__ = [
    "AppliedRevision",
    "MigrateOptions",
    "MigrateResult",
    "MigrationFailed",
    "downgrade",
    "load_metadata",
    "stamp",
    "upgrade",
]
