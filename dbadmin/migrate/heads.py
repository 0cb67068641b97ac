"""Alembic Config and script heads, without touching the database."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from dbadmin.errors import ConfigError
from dbadmin.migrate.locate import bundled_migrations_dir, find_alembic_ini

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

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


def load_scripts(
    settings: Settings, config_path: str | None = None
) -> tuple[Config, ScriptDirectory]:
    """The Alembic Config and its revision files, all loaded (a broken one is a ConfigError)."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    config = alembic_config(settings, config_path)
    # Alembic's own "Generating ..." messages would land on our stdout (JSON): keep it quiet
    config.cmd_opts = argparse.Namespace(quiet=True, x=[])
    try:
        scripts = ScriptDirectory.from_config(config)
    except CommandError as exc:
        raise ConfigError(f"cannot read migrations: {exc}", "check the alembic config") from None
    try:
        scripts.get_heads()  # loads every revision file now: a broken one is a config error
    except Exception as exc:
        raise ConfigError(
            f"cannot load the revision files in {scripts.dir}: {type(exc).__name__}: {exc}",
            "fix that revision file",
        ) from None
    return config, scripts


def script_heads(settings: Settings, config_path: str | None = None) -> list[str]:
    """The heads of the revision files; a missing config or a broken file is a ConfigError."""
    _config, scripts = load_scripts(settings, config_path)
    return list(scripts.get_heads())
