"""Named SQL files, one folder per user (``health/``, ``slowlog/``, ...), and their loader.

``NAME.sql`` serves every supported server (PostgreSQL 14+); ``NAME.NN.sql`` replaces it from
major version NN on (the highest NN not above the given major wins), as pg_activity does. Files
are read once per process.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from dbadmin.errors import ConfigError

SQL_ROOT = Path(__file__).resolve().parent
_VERSIONED = re.compile(r"^(?P<name>[a-z_]+)\.(?P<major>\d+)\.sql$")


@lru_cache(maxsize=128)
def _variants(group: str, name: str) -> tuple[tuple[int, Path], ...]:
    folder = SQL_ROOT / group
    found: list[tuple[int, Path]] = []
    base = folder / f"{name}.sql"
    if base.is_file():
        found.append((0, base))
    for path in folder.glob(f"{name}.*.sql"):
        match = _VERSIONED.match(path.name)
        if match and match.group("name") == name:
            found.append((int(match.group("major")), path))
    return tuple(sorted(found))


def _chosen(group: str, name: str, major: int) -> Path | None:
    chosen = [path for since, path in _variants(group, name) if since <= major]
    return chosen[-1] if chosen else None


@lru_cache(maxsize=256)
def load(group: str, name: str, major: int) -> str:
    """The text of query ``group/name`` for a server of major version ``major``."""
    path = _chosen(group, name, major)
    if path is None:
        raise ConfigError(f"no SQL file for {group} query {name!r} in {SQL_ROOT / group}")
    return path.read_text()


def source_name(group: str, name: str, major: int) -> str:
    """Which file serves ``group/name`` on ``major`` (for tests and --debug)."""
    path = _chosen(group, name, major)
    return path.name if path else ""
