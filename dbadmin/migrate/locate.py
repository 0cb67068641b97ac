"""Find the Alembic configuration: --config, $DBADMIN_ALEMBIC_CONFIG, ./alembic.ini, or the
reference migrations that ship with dbadmin."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from dbadmin.errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def bundled_migrations_dir() -> Path:
    """The reference schema's migrations: in a checkout (../migrations) or inside the wheel."""
    for candidate in (PACKAGE_DIR.parent / "migrations", PACKAGE_DIR / "_migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise ConfigError(
        "dbadmin's bundled migrations are missing",
        "reinstall dbadmin, or pass --config path/to/alembic.ini",
    )


def find_alembic_ini(
    env: Mapping[str, str], config: str | None = None, cwd: Path | None = None
) -> Path | None:
    """The user's alembic.ini, or None to use the bundled migrations."""
    raw = config or env.get("DBADMIN_ALEMBIC_CONFIG")
    if raw:
        path = Path(raw).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"alembic config {path} not found", "fix --config / DBADMIN_ALEMBIC_CONFIG"
            )
        return path.resolve()
    local = (cwd or Path.cwd()) / "alembic.ini"
    if local.is_file() and local.resolve() != (PACKAGE_DIR.parent / "alembic.ini").resolve():
        return local.resolve()
    return None
