"""Named SQL for the health checks, one file per check in ``dbadmin/sql/health/``.

``NAME.sql`` serves every supported server (PostgreSQL 14+); ``NAME.NN.sql`` replaces it from
major version NN on (see :mod:`dbadmin.sql`, which slowlog shares).
"""

from __future__ import annotations

from dbadmin import sql

GROUP = "health"


def load(name: str, major: int) -> str:
    """The text of query ``name`` for a server of major version ``major``."""
    return sql.load(GROUP, name, major)


def source_name(name: str, major: int) -> str:
    """Which file serves ``name`` on ``major`` (for tests and --debug)."""
    return sql.source_name(GROUP, name, major)
