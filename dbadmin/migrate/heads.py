"""Alembic Config and script heads, without touching the database."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dbadmin.migrate.locate import bundled_migrations_dir, find_alembic_ini

if TYPE_CHECKING:
    from alembic.config import Config

    from dbadmin.settings import Settings


def alembic_config(settings: Settings, config_path: str | None = None) -> Config:
    """An Alembic Config for the user's alembic.ini or dbadmin's bundled migrations.

    The settings object rides along in ``config.attributes`` so env.py uses dbadmin's URL rules.
    """
    from alembic.config import Config

    ini = find_alembic_ini(settings.env, config_path)
    if ini is not None:
        config = Config(str(ini))
    else:
        config = Config()
        config.set_main_option("script_location", str(bundled_migrations_dir()))
    config.attributes["dbadmin_settings"] = settings
    return config


def script_heads(settings: Settings, config_path: str | None = None) -> list[str]:
    """The heads of the revision files; a missing config or a broken file is a ConfigError."""
    from dbadmin.migrate.runner import load_scripts

    _config, scripts = load_scripts(settings, config_path)
    return list(scripts.get_heads())
