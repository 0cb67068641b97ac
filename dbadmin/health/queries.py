"""Named SQL for the health checks, one file per check in ``dbadmin/sql/health/``.

``NAME.sql`` serves every supported server (PostgreSQL 14+); ``NAME.NN.sql`` replaces it from
major version NN on (the highest NN not above the server's major wins), as pg_activity does.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from dbadmin.errors import ConfigError

SQL_DIR = Path(__file__).resolve().parent.parent / "sql" / "health"
_VERSIONED = re.compile(r"^(?P<name>[a-z_]+)\.(?P<major>\d+)\.sql$")


@lru_cache(maxsize=64)
def _variants(name: str) -> tuple[tuple[int, Path], ...]:
    found: list[tuple[int, Path]] = []
    base = SQL_DIR / f"{name}.sql"
    if base.is_file():
        found.append((0, base))
    for path in SQL_DIR.glob(f"{name}.*.sql"):
        match = _VERSIONED.match(path.name)
        if match and match.group("name") == name:
            found.append((int(match.group("major")), path))
    return tuple(sorted(found))


@lru_cache(maxsize=128)
def load(name: str, major: int) -> str:
    """The text of query ``name`` for a server of major version ``major``."""
    chosen = [path for since, path in _variants(name) if since <= major]
    if not chosen:
        raise ConfigError(f"no SQL file for health query {name!r} in {SQL_DIR}")
    return chosen[-1].read_text()


def source_name(name: str, major: int) -> str:
    """Which file serves ``name`` on ``major`` (for tests and --debug)."""
    chosen = [path for since, path in _variants(name) if since <= major]
    return chosen[-1].name if chosen else ""
